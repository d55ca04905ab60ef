"""Customers and shopper identity: the wire types (docs/api-reference.md, "Customers").

A customer belongs to one application. `email` is unique per application (compared
case-insensitively), `externalId` (the merchant's own id) too. A shopper who signs in at the
merchant's identity provider is a customer identified by the token's issuer and subject, never by
email.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import Meta

from .base import UNSET, Model, Request, UnsetT
from .common import Email, Metadata, ShortText

CUSTOMER_CREATED = "customer.created"
CUSTOMER_UPDATED = "customer.updated"
CUSTOMER_DELETED = "customer.deleted"

# E.164: a plus, a country code that does not start with 0, at most 15 digits in all.
PHONE_PATTERN = r"^\+[1-9][0-9]{1,14}$"
Phone = Annotated[str, Meta(pattern=PHONE_PATTERN, description="E.164, e.g. +4930123456")]
# BCP 47 as browsers and ESPs send it: a language, then optional script, region and variants ("de", "de-AT",
# "zh-Hant-TW", "es-419"). Checked for shape, not against the IANA registry.
LOCALE_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?(-([A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*$"
Locale = Annotated[str, Meta(max_length=35, pattern=LOCALE_PATTERN, description="BCP 47 language tag, e.g. de-AT")]
ExternalId = Annotated[str, Meta(min_length=1, max_length=200)]
Segment = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_.:-]{1,64}$", description="letters, digits, _ . : -")]
Segments = Annotated[list[Segment], Meta(max_length=100)]
ConsentState = Literal["granted", "denied", "unknown"]
MAX_SEGMENTS = 100

_LOCALE = re.compile(LOCALE_PATTERN)


class MarketingConsentInput(Request):
    """What the shopper agreed to: `email` marketing granted, denied or unknown, and where it was given."""

    email: ConsentState
    source: Annotated[str, Meta(max_length=100)] | None = None
    # When the shopper gave it (defaults to the time of the request).
    updated_at: datetime | None = None


class MarketingConsent(Model):
    email: ConsentState = "unknown"
    updated_at: datetime | None = None
    source: str | None = None


class CreateCustomer(Request):
    email: Email | None = None
    first_name: ShortText | None = None
    last_name: ShortText | None = None
    phone: Phone | None = None
    locale: Locale | None = None
    external_id: ExternalId | None = None
    metadata: Metadata | None = None
    segments: Segments = []
    marketing_consent: MarketingConsentInput | None = None


class UpdateCustomer(Request):
    """PATCH: an absent field is left alone, `null` clears it (`segments: null` empties them)."""

    email: Email | None | UnsetT = UNSET
    first_name: ShortText | None | UnsetT = UNSET
    last_name: ShortText | None | UnsetT = UNSET
    phone: Phone | None | UnsetT = UNSET
    locale: Locale | None | UnsetT = UNSET
    external_id: ExternalId | None | UnsetT = UNSET
    metadata: Metadata | None | UnsetT = UNSET
    segments: Segments | None | UnsetT = UNSET
    marketing_consent: MarketingConsentInput | None | UnsetT = UNSET


class UpdateSegments(Request):
    """Incremental: `add` then `remove`; adding a segment the customer has, or removing one they
    lack, changes nothing."""

    add: Segments = []
    remove: Segments = []


class ShopperIdentity(Model):
    """The identity provider's view of this customer: who signed them in (read only)."""

    issuer: str
    subject: str


class Customer(Model):
    id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None
    locale: str | None
    external_id: str | None
    metadata: dict[str, Any] | None
    segments: list[str]
    marketing_consent: MarketingConsent
    created_at: datetime
    updated_at: datetime
    identity: ShopperIdentity | None = None


class CustomerEventData(Model):
    """`customer.created` / `customer.updated`: the customer after the change; `customer.deleted`: the
    customer as it was (the per-customer `sequence` orders them)."""

    customer_id: str
    sequence: int
    customer: Customer


class CartCustomer(Model):
    """The customer a cart belongs to, as the cart shows it (taken when the customer was attached)."""

    id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None


# ---------------------------------------------------------------- shopper auth


class ShopperAuth(Model):
    """How publishable-key requests prove a signed-in shopper (`X-Shopper-Token`): the JWKS of the
    merchant's identity provider, the issuer and audience its tokens must carry."""

    jwks_url: str | None = None
    issuer: str | None = None
    audience: str | None = None
    updated_at: datetime | None = None

    @property
    def configured(self) -> bool:
        return bool(self.jwks_url and self.issuer and self.audience)


class UpdateShopperAuth(Request):
    """PUT: an absent field is left alone, `null` clears it (a cleared setting refuses every token)."""

    jwks_url: Annotated[str, Meta(min_length=8, max_length=2048)] | None | UnsetT = UNSET
    issuer: Annotated[str, Meta(min_length=1, max_length=500)] | None | UnsetT = UNSET
    audience: Annotated[str, Meta(min_length=1, max_length=500)] | None | UnsetT = UNSET


# ---------------------------------------------------------------- vouchers


class CustomerVoucher(Model):
    """A code this customer may use now."""

    code: str
    campaign_id: str
    campaign_name: str
    kind: Literal["generic", "unique"]
    expires_at: datetime | None = None
    remaining_uses: int | None = None


def is_locale(value: str) -> bool:
    return bool(_LOCALE.match(value))
