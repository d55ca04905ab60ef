"""Shipping methods, tax rates and tax settings per application, and the pricing-config cache.

Every write here moves the application's `config_version`. Carts read that version together
with their own row; the cache answers from memory while the version matches, so pricing a cart
costs no query for its configuration, and a change made by another process is seen at once.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from kassa_contract.base import UNSET
from kassa_contract.cart import (
    CreateShippingMethod,
    CreateTaxRate,
    ShippingMethod,
    TaxRate,
    TaxSettings,
    UpdateShippingMethod,
)
from kassa_contract.errors import KassaError
from kassa_contract.promotions import PromotionSettings, UpdatePromotionSettings
from kassa_platform import audit
from kassa_platform.db import Reads
from kassa_platform.ids import new_id
from kassa_platform.rows import upsert
from kassa_promotions import CampaignIndex, EngineOptions
from kassa_promotions.store.campaigns import CampaignStore
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from .pricing import PricingConfig, ShippingRule, TaxRule
from .tables import cart_settings, shipping_methods, tax_rates


async def bump_config_version(conn: AsyncConnection, app_id: str, now: datetime, *,
                              prices_include_tax: bool | None = None,
                              allow_multiple_percentage_basket: bool | None = None) -> None:
    """Create the settings row if needed and move its version (an upsert on both dialects)."""
    values = {"app_id": app_id, "prices_include_tax": bool(prices_include_tax), "config_version": 1, "updated_at": now,
              "allow_multiple_percentage_basket": bool(allow_multiple_percentage_basket)}
    on_update: dict[str, object] = {"config_version": cart_settings.c.config_version + 1, "updated_at": now}
    if prices_include_tax is not None:
        on_update["prices_include_tax"] = prices_include_tax
    if allow_multiple_percentage_basket is not None:
        on_update["allow_multiple_percentage_basket"] = allow_multiple_percentage_basket
    await conn.execute(upsert(conn, cart_settings, values, [cart_settings.c.app_id], on_update))


def shipping_method_view(row: sa.Row) -> ShippingMethod:
    return ShippingMethod(id=row.id, name=row.name, prices=row.prices, free_above=row.free_above,
                          countries=row.countries, tax_class=row.tax_class, active=row.active)


def tax_rate_view(row: sa.Row) -> TaxRate:
    return TaxRate(id=row.id, country_code=row.country_code, region=row.region or None, tax_class=row.tax_class,
                   rate=row.rate, name=row.name)


class ConfigStore:
    # ---------------------------------------------------------------- shipping methods
    async def create_shipping_method(self, conn: AsyncConnection, app_id: str, body: CreateShippingMethod,
                                     now: datetime) -> ShippingMethod:
        method_id = new_id("shm")
        countries = sorted(set(body.countries)) if body.countries is not None else None
        await conn.execute(sa.insert(shipping_methods).values(
            id=method_id, app_id=app_id, name=body.name, prices=body.prices, free_above=body.free_above,
            countries=countries, tax_class=body.tax_class, active=body.active, created_at=now))
        await bump_config_version(conn, app_id, now)
        method = ShippingMethod(id=method_id, name=body.name, prices=body.prices, free_above=body.free_above,
                                countries=countries, tax_class=body.tax_class, active=body.active)
        await audit.record(conn, "shipping_method.created", method_id, app_id=app_id, now=now, after=method)
        return method

    async def list_shipping_methods(self, conn: AsyncConnection, app_id: str) -> list[ShippingMethod]:
        rows = await conn.execute(sa.select(shipping_methods).where(shipping_methods.c.app_id == app_id)
                                     .order_by(shipping_methods.c.id))
        return [shipping_method_view(r) for r in rows]

    async def get_shipping_method(self, conn: AsyncConnection, app_id: str, method_id: str) -> ShippingMethod:
        row = (await conn.execute(sa.select(shipping_methods).where(
            shipping_methods.c.app_id == app_id, shipping_methods.c.id == method_id))).first()
        if row is None:
            raise KassaError("shipping_method_not_found", f"No shipping method {method_id}", field="id")
        return shipping_method_view(row)

    async def update_shipping_method(self, conn: AsyncConnection, app_id: str, method_id: str,
                                     body: UpdateShippingMethod, now: datetime) -> ShippingMethod:
        before = await self.get_shipping_method(conn, app_id, method_id)
        values = {k: v for k, v in {
            "name": body.name, "prices": body.prices, "free_above": body.free_above,
            "countries": sorted(set(body.countries)) if body.countries not in (UNSET, None) else body.countries,
            "active": body.active}.items() if v is not UNSET}
        if values:
            await conn.execute(sa.update(shipping_methods).where(
                shipping_methods.c.app_id == app_id, shipping_methods.c.id == method_id).values(**values))
            await bump_config_version(conn, app_id, now)
        after = await self.get_shipping_method(conn, app_id, method_id)
        await audit.record(conn, "shipping_method.updated", method_id, app_id=app_id, now=now, before=before,
                           after=after)
        return after

    async def delete_shipping_method(self, conn: AsyncConnection, app_id: str, method_id: str, now: datetime) -> None:
        before = await self.get_shipping_method(conn, app_id, method_id)
        result = await conn.execute(sa.delete(shipping_methods).where(
            shipping_methods.c.app_id == app_id, shipping_methods.c.id == method_id))
        if result.rowcount == 0:
            raise KassaError("shipping_method_not_found", f"No shipping method {method_id}", field="id")
        await bump_config_version(conn, app_id, now)
        await audit.record(conn, "shipping_method.deleted", method_id, app_id=app_id, now=now, before=before)

    # ---------------------------------------------------------------- tax
    async def create_tax_rate(self, conn: AsyncConnection, app_id: str, body: CreateTaxRate, now: datetime) -> TaxRate:
        rate_id = new_id("txr")
        region = (body.region or "").strip()
        exists = (await conn.execute(sa.select(tax_rates.c.id).where(
            tax_rates.c.app_id == app_id, tax_rates.c.country_code == body.country_code,
            tax_rates.c.region == region, tax_rates.c.tax_class == body.tax_class))).first()
        if exists:
            raise KassaError("tax_rate_exists", "A tax rate for this country, region and tax class exists; "
                             f"delete {exists[0]} first", details={"taxRateId": exists[0]})
        try:
            async with conn.begin_nested():
                await conn.execute(sa.insert(tax_rates).values(
                    id=rate_id, app_id=app_id, country_code=body.country_code, region=region,
                    tax_class=body.tax_class, rate=format(Decimal(body.rate).normalize(), "f"), name=body.name,
                    created_at=now))
        except IntegrityError:
            raise KassaError("tax_rate_exists", "A tax rate for this country, region and tax class exists") from None
        await bump_config_version(conn, app_id, now)
        rate = TaxRate(id=rate_id, country_code=body.country_code, region=region or None, tax_class=body.tax_class,
                       rate=format(Decimal(body.rate).normalize(), "f"), name=body.name)
        await audit.record(conn, "tax_rate.created", rate_id, app_id=app_id, now=now, after=rate)
        return rate

    async def list_tax_rates(self, conn: AsyncConnection, app_id: str) -> list[TaxRate]:
        rows = await conn.execute(sa.select(tax_rates).where(tax_rates.c.app_id == app_id).order_by(tax_rates.c.id))
        return [tax_rate_view(r) for r in rows]

    async def delete_tax_rate(self, conn: AsyncConnection, app_id: str, rate_id: str, now: datetime) -> None:
        row = (await conn.execute(sa.select(tax_rates).where(tax_rates.c.app_id == app_id,
                                                             tax_rates.c.id == rate_id))).first()
        result = await conn.execute(sa.delete(tax_rates).where(tax_rates.c.app_id == app_id, tax_rates.c.id == rate_id))
        if row is None or result.rowcount == 0:
            raise KassaError("tax_rate_not_found", f"No tax rate {rate_id}", field="id")
        await bump_config_version(conn, app_id, now)
        await audit.record(conn, "tax_rate.deleted", rate_id, app_id=app_id, now=now, before=tax_rate_view(row))

    async def get_tax_settings(self, conn: AsyncConnection, app_id: str) -> TaxSettings:
        value = (await conn.execute(sa.select(cart_settings.c.prices_include_tax)
                                       .where(cart_settings.c.app_id == app_id))).scalar_one_or_none()
        return TaxSettings(prices_include_tax=bool(value))

    async def set_tax_settings(self, conn: AsyncConnection, app_id: str, prices_include_tax: bool, now: datetime) -> TaxSettings:
        before = await self.get_tax_settings(conn, app_id)
        await bump_config_version(conn, app_id, now, prices_include_tax=prices_include_tax)
        after = TaxSettings(prices_include_tax=prices_include_tax)
        await audit.record(conn, "tax_settings.updated", app_id, app_id=app_id, now=now, before=before, after=after)
        return after

    # ---------------------------------------------------------------- promotion settings
    async def get_promotion_settings(self, conn: AsyncConnection, app_id: str) -> PromotionSettings:
        value = (await conn.execute(sa.select(cart_settings.c.allow_multiple_percentage_basket)
                                    .where(cart_settings.c.app_id == app_id))).scalar_one_or_none()
        return PromotionSettings(allow_multiple_percentage_basket=bool(value))

    async def set_promotion_settings(self, conn: AsyncConnection, app_id: str, body: UpdatePromotionSettings,
                                     now: datetime) -> PromotionSettings:
        """Moves the config version: every cart is priced with the new setting at its next change."""
        before = await self.get_promotion_settings(conn, app_id)
        await bump_config_version(conn, app_id, now,
                                  allow_multiple_percentage_basket=body.allow_multiple_percentage_basket)
        after = PromotionSettings(allow_multiple_percentage_basket=body.allow_multiple_percentage_basket)
        await audit.record(conn, "promotion_settings.updated", app_id, app_id=app_id, now=now, before=before,
                           after=after)
        return after


@dataclass(frozen=True)
class AppPricing:
    """Everything that prices an application's carts apart from the carts themselves."""

    config: PricingConfig
    campaigns: CampaignIndex  # active automatic campaigns


_EMPTY = AppPricing(PricingConfig(), CampaignIndex([]))


class ConfigCache:
    """(app_id, config_version) -> AppPricing, bounded LRU.

    Campaign changes move the version too. Campaign usage and budgets move with every order and
    are not versioned: a cached campaign may show a little more room than it has, which only
    affects the quote; reservation at checkout enforces the limits exactly.
    """

    def __init__(self, size: int = 2048) -> None:
        self._size = size
        self._entries: OrderedDict[str, tuple[int, AppPricing]] = OrderedDict()

    async def get(self, conn: Reads, app_id: str, version: int | None, prices_include_tax: bool | None) -> AppPricing:
        if version is None:  # the application never configured anything
            return _EMPTY
        hit = self._entries.get(app_id)
        if hit and hit[0] == version:
            self._entries.move_to_end(app_id)
            return hit[1]
        config = await self._load(conn, app_id, bool(prices_include_tax))
        self._entries[app_id] = (version, config)
        self._entries.move_to_end(app_id)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return config

    async def _load(self, conn: Reads, app_id: str, prices_include_tax: bool) -> AppPricing:
        rates = await conn.execute(sa.select(tax_rates).where(tax_rates.c.app_id == app_id))
        methods = await conn.execute(sa.select(shipping_methods).where(shipping_methods.c.app_id == app_id))
        automatic = await CampaignStore().automatic(conn, app_id)
        multiple = (await conn.execute(sa.select(cart_settings.c.allow_multiple_percentage_basket)
                                       .where(cart_settings.c.app_id == app_id))).scalar_one_or_none()
        return AppPricing(PricingConfig(
            prices_include_tax=prices_include_tax,
            tax_rules=tuple(TaxRule(r.id, r.country_code, r.region, r.tax_class, Decimal(r.rate), r.name) for r in rates),
            shipping={m.id: ShippingRule(m.id, m.name, m.prices, m.free_above,
                                         frozenset(m.countries) if m.countries is not None else None,
                                         m.tax_class, m.active) for m in methods},
        ), CampaignIndex(automatic, EngineOptions(allow_multiple_percentage_basket=bool(multiple))))
