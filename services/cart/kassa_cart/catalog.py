"""The product catalog: products with variants, prices per currency, categories, a tax class."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from kassa_contract.base import UNSET
from kassa_contract.cart import (
    CreateProduct,
    Product,
    UpdateProduct,
    UpdateVariant,
    Variant,
    VariantInput,
)
from kassa_contract.common import Page
from kassa_contract.errors import KassaError
from kassa_contract.money import is_currency
from kassa_platform import audit
from kassa_platform.db import Reads
from kassa_platform.ids import new_id
from kassa_platform.pagination import decode_cursor, encode_cursor
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import products, variants


@dataclass(frozen=True)
class PricedVariant:
    """What a cart needs of a variant to add it as a line."""

    id: str
    product_id: str
    sku: str
    name: str
    prices: dict[str, int]
    tax_class: str
    categories: list[str]
    active: bool


def _check_currencies(prices: dict[str, int], field: str) -> None:
    for code in prices:
        if not is_currency(code):
            raise KassaError("currency_unsupported", f"`{code}` is not a supported ISO 4217 currency", field=field)


def _variant_view(row: sa.Row) -> Variant:
    return Variant(id=row.id, product_id=row.product_id, sku=row.sku, name=row.name, prices=row.prices,
                   metadata=row.metadata, url=row.url, image_url=row.image_url)


# What a line needs of a variant, labelled so that a cart query can select it beside its own columns.
PRICED_VARIANT_COLUMNS = (
    variants.c.id.label("variant_id"), variants.c.product_id.label("variant_product_id"),
    variants.c.sku.label("variant_sku"), variants.c.name.label("variant_name"),
    variants.c.prices.label("variant_prices"), products.c.name.label("variant_product_name"),
    products.c.tax_class.label("variant_tax_class"), products.c.categories.label("variant_categories"),
    products.c.active.label("variant_active"),
)
VARIANT_WITH_PRODUCT = variants.join(products, products.c.id == variants.c.product_id)

_PRICED_VARIANT = (  # on the line-item hot path: built once
    sa.select(*PRICED_VARIANT_COLUMNS)
    .select_from(VARIANT_WITH_PRODUCT)
    .where(variants.c.app_id == sa.bindparam("app_id"), variants.c.id == sa.bindparam("variant_id"))
)


def priced_variant_of(row: sa.Row) -> PricedVariant | None:
    """The variant of a row holding PRICED_VARIANT_COLUMNS (None where an outer join found none)."""
    if row.variant_id is None:
        return None
    name = row.variant_product_name if row.variant_name == row.variant_sku else \
        f"{row.variant_product_name} - {row.variant_name}"
    return PricedVariant(row.variant_id, row.variant_product_id, row.variant_sku, name, row.variant_prices,
                         row.variant_tax_class, row.variant_categories, row.variant_active)


class Catalog:
    async def create_product(self, conn: AsyncConnection, app_id: str, body: CreateProduct, now: datetime) -> Product:
        skus = [v.sku for v in body.variants]
        if len(set(skus)) != len(skus):
            raise KassaError("sku_taken", "Two variants in this request share a SKU", field="variants")
        for i, v in enumerate(body.variants):
            _check_currencies(v.prices, f"variants[{i}].prices")
        taken = (await conn.execute(sa.select(variants.c.sku).where(
            variants.c.app_id == app_id, variants.c.sku.in_(skus)))).scalars().all()
        if taken:
            raise KassaError("sku_taken", f"SKU `{taken[0]}` is already in the catalog", field="variants",
                             details={"sku": taken[0]})
        product_id = new_id("prod")
        await conn.execute(sa.insert(products).values(
            id=product_id, app_id=app_id, name=body.name, description=body.description,
            categories=list(dict.fromkeys(body.categories)), tax_class=body.tax_class, active=True,
            metadata=body.metadata, url=body.url, image_url=body.image_url, created_at=now, updated_at=now))
        try:
            async with conn.begin_nested():
                await conn.execute(sa.insert(variants), [self._variant_values(app_id, product_id, v, now) for v in body.variants])
        except IntegrityError:
            raise KassaError("sku_taken", "A SKU of this product is already in the catalog", field="variants") from None
        product = await self.get_product(conn, app_id, product_id)
        await audit.record(conn, "product.created", product_id, app_id=app_id, now=now, after=product)
        return product

    @staticmethod
    def _variant_values(app_id: str, product_id: str, v: VariantInput, now: datetime) -> dict:
        return {"id": new_id("var"), "app_id": app_id, "product_id": product_id, "sku": v.sku,
                "name": v.name or v.sku, "prices": v.prices, "metadata": v.metadata, "url": v.url,
                "image_url": v.image_url, "created_at": now}

    async def add_variant(self, conn: AsyncConnection, app_id: str, product_id: str, body: VariantInput, now: datetime) -> Product:
        before = await self.get_product(conn, app_id, product_id)
        _check_currencies(body.prices, "prices")
        try:
            async with conn.begin_nested():
                await conn.execute(sa.insert(variants).values(**self._variant_values(app_id, product_id, body, now)))
        except IntegrityError:
            raise KassaError("sku_taken", f"SKU `{body.sku}` is already in the catalog", field="sku") from None
        after = await self.get_product(conn, app_id, product_id)
        await audit.record(conn, "product.variant_added", product_id, app_id=app_id, now=now, before=before, after=after)
        return after

    async def update_variant(self, conn: AsyncConnection, app_id: str, product_id: str, variant_id: str,
                             body: UpdateVariant, now: datetime) -> Product:
        before = await self.get_product(conn, app_id, product_id)
        values = {k: v for k, v in {"prices": body.prices, "name": body.name, "metadata": body.metadata,
                                    "url": body.url, "image_url": body.image_url}.items() if v is not UNSET}
        if body.prices is not UNSET:
            _check_currencies(body.prices, "prices")
        result = await conn.execute(sa.update(variants).where(
            variants.c.app_id == app_id, variants.c.product_id == product_id, variants.c.id == variant_id)
            .values(**values)) if values else None
        if result is not None and result.rowcount == 0:
            raise KassaError("not_found", f"No variant {variant_id} on product {product_id}", status=404)
        after = await self.get_product(conn, app_id, product_id)
        await audit.record(conn, "product.variant_updated", product_id, app_id=app_id, now=now, before=before,
                           after=after)
        return after

    async def update_product(self, conn: AsyncConnection, app_id: str, product_id: str, body: UpdateProduct,
                             now: datetime) -> Product:
        before = await self.get_product(conn, app_id, product_id)
        values = {k: v for k, v in {
            "name": body.name, "description": body.description,
            "categories": list(dict.fromkeys(body.categories)) if body.categories is not UNSET else UNSET,
            "tax_class": body.tax_class, "active": body.active, "metadata": body.metadata, "url": body.url,
            "image_url": body.image_url}.items() if v is not UNSET}
        result = await conn.execute(sa.update(products).where(products.c.app_id == app_id, products.c.id == product_id)
                                       .values(**values, updated_at=now))
        if result.rowcount == 0:
            raise KassaError("product_not_found", f"No product {product_id}")
        after = await self.get_product(conn, app_id, product_id)
        await audit.record(conn, "product.updated", product_id, app_id=app_id, now=now, before=before, after=after)
        return after

    async def get_product(self, conn: AsyncConnection, app_id: str, product_id: str) -> Product:
        page = await self._products(conn, app_id, ids=[product_id])
        if not page:
            raise KassaError("product_not_found", f"No product {product_id}")
        return page[0]

    async def list_products(self, conn: AsyncConnection, app_id: str, limit: int, cursor: str | None) -> Page[Product]:
        after = decode_cursor(cursor)
        query = sa.select(products.c.id).where(products.c.app_id == app_id)
        if after:
            query = query.where(products.c.id > after)
        ids = (await conn.execute(query.order_by(products.c.id).limit(limit + 1))).scalars().all()
        items = await self._products(conn, app_id, ids=list(ids[:limit]))
        return Page(data=items, next_cursor=encode_cursor(ids[limit - 1]) if len(ids) > limit else None)

    async def _products(self, conn: AsyncConnection, app_id: str, ids: list[str]) -> list[Product]:
        if not ids:
            return []
        prows = (await conn.execute(sa.select(products).where(products.c.app_id == app_id, products.c.id.in_(ids))
                                       .order_by(products.c.id))).all()
        vrows = (await conn.execute(sa.select(variants).where(variants.c.app_id == app_id, variants.c.product_id.in_(ids))
                                       .order_by(variants.c.id))).all()
        by_product: dict[str, list[Variant]] = {}
        for v in vrows:
            by_product.setdefault(v.product_id, []).append(_variant_view(v))
        return [Product(id=p.id, name=p.name, description=p.description, categories=p.categories, tax_class=p.tax_class,
                        active=p.active, variants=by_product.get(p.id, []), metadata=p.metadata, created_at=p.created_at,
                        url=p.url, image_url=p.image_url)
                for p in prows]

    async def priced_variant(self, conn: Reads, app_id: str, variant_id: str) -> PricedVariant | None:
        """One query: the variant with its product's tax class, categories and state."""
        row = (await conn.execute(_PRICED_VARIANT, {"app_id": app_id, "variant_id": variant_id})).first()
        return None if row is None else priced_variant_of(row)


@dataclass(frozen=True)
class LinePresentation:
    """What an email shows of a catalog line: its pages and picture (a variant's own win) and names."""

    product_url: str | None
    image_url: str | None
    variant_name: str | None
    product_name: str | None


async def presentations(conn: AsyncConnection, variant_ids: list[str]) -> dict[tuple[str, str], LinePresentation]:
    """What emails show of these variants, by (application id, variant id): one query per PRESENTATION_CHUNK
    variants, whatever the number of applications in a sweep batch. A variant gone from the catalog is absent."""
    found: dict[tuple[str, str], LinePresentation] = {}
    ids = sorted(set(variant_ids))
    for start in range(0, len(ids), PRESENTATION_CHUNK):
        rows = await conn.execute(
            sa.select(variants.c.id, variants.c.app_id, variants.c.sku, variants.c.name, variants.c.url,
                      variants.c.image_url, products.c.name.label("product_name"),
                      products.c.url.label("product_url"), products.c.image_url.label("product_image_url"))
            .select_from(VARIANT_WITH_PRODUCT)
            .where(variants.c.id.in_(ids[start:start + PRESENTATION_CHUNK])))
        for r in rows:
            found[r.app_id, r.id] = LinePresentation(
                product_url=r.url or r.product_url, image_url=r.image_url or r.product_image_url,
                # A variant named after its SKU has no name of its own (see priced_variant_of).
                variant_name=None if r.name == r.sku else r.name, product_name=r.product_name)
    return found


PRESENTATION_CHUNK = 5000  # bound parameters per statement stay far below the drivers' limits
