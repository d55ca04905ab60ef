"""Embed config per application (and so per environment): the abandonment threshold, the recovery
link template, the origins allowed to embed the checkout, the hosted page's branding."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from kassa_contract.abandoned import (
    DEFAULT_THRESHOLD_MINUTES,
    MAX_ALLOWED_ORIGINS,
    THRESHOLD_MAX_MINUTES,
    THRESHOLD_MIN_MINUTES,
    Branding,
    EmbedConfig,
    RecoveryIncentive,
    UpdateEmbedConfig,
)
from kassa_contract.base import UNSET
from kassa_contract.errors import KassaError
from kassa_platform import audit
from kassa_platform.auth import Principal
from kassa_platform.rows import upsert
from kassa_promotions.store.tables import campaigns
from sqlalchemy.ext.asyncio import AsyncConnection

from .recovery import template_problem, url_problem
from .tables import embed_configs

# scheme://host[:port], nothing after it. Hosts: DNS names (IDN in punycode), IPv4, [IPv6].
_ORIGIN = re.compile(r"^(https?)://([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
                     r"|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$")


def _threshold_error(value: Any) -> KassaError:
    return KassaError("validation_error",
                      f"cartAbandonmentThresholdMinutes must be between {THRESHOLD_MIN_MINUTES} and "
                      f"{THRESHOLD_MAX_MINUTES} minutes (90 days), or null for the default of "
                      f"{DEFAULT_THRESHOLD_MINUTES}; got {value}",
                      field="cartAbandonmentThresholdMinutes",
                      details={"min": THRESHOLD_MIN_MINUTES, "max": THRESHOLD_MAX_MINUTES,
                               "default": DEFAULT_THRESHOLD_MINUTES})


def normalize_origin(value: str, *, allow_http: bool, field: str) -> str:
    origin = value.strip().lower()
    match = _ORIGIN.match(origin)
    if match is None:
        hint = " (no path, not even a trailing slash)" if origin.count("/") > 2 else ""
        raise KassaError("validation_error", f"`{value}` is not an origin: use scheme://host[:port]{hint}, "
                         "e.g. https://shop.example", field=field)
    scheme, _, port = match.groups()
    if scheme == "http" and not allow_http:
        raise KassaError("validation_error", "Origins must be https:// (http:// is allowed for test applications "
                         "only)", field=field)
    if port is not None and not 1 <= int(port) <= 65535:
        raise KassaError("validation_error", f"The port of `{value}` must be between 1 and 65535", field=field)
    default_port = {"https": "443", "http": "80"}[scheme]
    return origin.removesuffix(f":{default_port}") if port == default_port else origin


def _view(row: Any | None) -> EmbedConfig:
    if row is None:
        return EmbedConfig(cart_abandonment_threshold_minutes=None,
                           effective_cart_abandonment_threshold_minutes=DEFAULT_THRESHOLD_MINUTES,
                           cart_recovery_url_template=None, allowed_origins=[], branding=None, updated_at=None,
                           recovery_incentive=None)
    threshold = row.abandonment_threshold_minutes
    return EmbedConfig(
        cart_abandonment_threshold_minutes=threshold,
        effective_cart_abandonment_threshold_minutes=threshold or DEFAULT_THRESHOLD_MINUTES,
        cart_recovery_url_template=row.recovery_url_template, allowed_origins=list(row.allowed_origins or []),
        branding=None if row.branding is None else msgspec.convert(row.branding, Branding),
        updated_at=row.updated_at,
        recovery_incentive=None if row.recovery_incentive is None else
        msgspec.convert(row.recovery_incentive, RecoveryIncentive),
    )


async def get_embed_config(conn: AsyncConnection, app_id: str) -> EmbedConfig:
    row = (await conn.execute(sa.select(embed_configs).where(embed_configs.c.app_id == app_id))).first()
    return _view(row)


async def put_embed_config(conn: AsyncConnection, principal: Principal, body: UpdateEmbedConfig,
                           now: datetime) -> EmbedConfig:
    """Change the fields the body names (null clears one); refuse a bad value with the field and the range."""
    allow_http = principal.environment == "test"
    values: dict[str, Any] = {}
    threshold = body.cart_abandonment_threshold_minutes
    if threshold is not UNSET:
        if threshold is not None and not THRESHOLD_MIN_MINUTES <= threshold <= THRESHOLD_MAX_MINUTES:
            raise _threshold_error(threshold)
        values["abandonment_threshold_minutes"] = threshold
    template = body.cart_recovery_url_template
    if template is not UNSET:
        if template is not None:
            problem = template_problem(template, allow_http=allow_http)
            if problem:
                raise KassaError("validation_error", f"cartRecoveryUrlTemplate: {problem}",
                                 field="cartRecoveryUrlTemplate", details={"placeholders": ["{cartId}", "{token}"]})
        values["recovery_url_template"] = template
    origins = body.allowed_origins
    if origins is not UNSET:
        if origins is not None and len(origins) > MAX_ALLOWED_ORIGINS:
            raise KassaError("validation_error", f"allowedOrigins holds at most {MAX_ALLOWED_ORIGINS} origins",
                             field="allowedOrigins", details={"max": MAX_ALLOWED_ORIGINS})
        normalized = [normalize_origin(o, allow_http=allow_http, field=f"allowedOrigins[{i}]")
                      for i, o in enumerate(origins or [])]
        values["allowed_origins"] = list(dict.fromkeys(normalized))
    branding = body.branding
    if branding is not UNSET:
        if branding is not None and branding.logo_url is not None:
            problem = url_problem(branding.logo_url, allow_http=allow_http)
            if problem:
                raise KassaError("validation_error", f"branding.logoUrl {problem}", field="branding.logoUrl")
        values["branding"] = None if branding is None else msgspec.to_builtins(
            Branding(display_name=branding.display_name, primary_color=branding.primary_color and
                     branding.primary_color.lower(), logo_url=branding.logo_url, locale=branding.locale,
                     currency=branding.currency))
    incentive = body.recovery_incentive
    if incentive is not UNSET:
        if incentive is not None:
            await _check_incentive(conn, principal.app_id, incentive.campaign_id)
        values["recovery_incentive"] = None if incentive is None else {"campaignId": incentive.campaign_id}
    before = await get_embed_config(conn, principal.app_id)
    if values:
        await conn.execute(upsert(conn, embed_configs, {
            "app_id": principal.app_id, "created_at": now, "updated_at": now,
            **{"abandonment_threshold_minutes": None, "recovery_url_template": None, "allowed_origins": [],
               "branding": None, "recovery_incentive": None, **values}},
            [embed_configs.c.app_id], {**values, "updated_at": now}))
    after = await get_embed_config(conn, principal.app_id)
    await audit.record(conn, "embed_config.updated", principal.app_id, app_id=principal.app_id, now=now,
                       before=before, after=after)
    return after


async def _check_incentive(conn: AsyncConnection, app_id: str, campaign_id: str) -> None:
    """A recovery incentive is a code campaign of this application (each abandoned cart gets a code of it)."""
    row = (await conn.execute(sa.select(campaigns.c.trigger).where(campaigns.c.app_id == app_id,
                                                                   campaigns.c.id == campaign_id))).first()
    if row is None:
        raise KassaError("validation_error", f"recoveryIncentive.campaignId: no campaign {campaign_id}",
                         field="recoveryIncentive.campaignId")
    if row.trigger != "code":
        raise KassaError("validation_error", "recoveryIncentive.campaignId: the campaign applies automatically; a "
                         "recovery incentive needs a code campaign", field="recoveryIncentive.campaignId")
