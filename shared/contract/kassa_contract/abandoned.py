"""Embed config and abandoned carts: the cart service's wire types (docs/contract.md, "Embed config and
abandoned carts"), and the webhook service's notice that a `cart.abandoned` reached a merchant."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from msgspec import Meta

from .base import UNSET, Model, Request, UnsetT
from .cart import Cart
from .common import CurrencyCode
from .customers import Locale, MarketingConsent

# Minutes of inactivity before a cart counts as abandoned: the allowed range and the default.
THRESHOLD_MIN_MINUTES = 15
THRESHOLD_MAX_MINUTES = 129_600  # 90 days
DEFAULT_THRESHOLD_MINUTES = 1_440  # 24 hours
MAX_ALLOWED_ORIGINS = 50

RecoveryStatus = Literal["not_contacted", "contacted", "recovered"]
RECOVERY_STATUSES: tuple[str, ...] = ("not_contacted", "contacted", "recovered")

UrlText = Annotated[str, Meta(min_length=1, max_length=2048)]


# ---------------------------------------------------------------- embed config


class BrandingInput(Request):
    """Hosted-page branding. Absent or `null` parts are not set."""

    display_name: Annotated[str, Meta(min_length=1, max_length=100)] | None = None
    primary_color: Annotated[str, Meta(pattern=r"^#[0-9A-Fa-f]{6}$")] | None = None
    logo_url: UrlText | None = None
    # The store's language and main currency, as emails and the hosted pages present the store.
    locale: Locale | None = None
    currency: CurrencyCode | None = None


class RecoveryIncentiveInput(Request):
    """A code of this campaign (a code campaign) is minted for each abandoned cart, bound to that cart."""

    campaign_id: Annotated[str, Meta(min_length=1, max_length=40)]


class UpdateEmbedConfig(Request):
    """PUT: an absent field is left as it is, `null` clears it (a cleared threshold means the default).

    Ranges are checked by the service, which names the field and the allowed range.
    """

    cart_abandonment_threshold_minutes: int | None | UnsetT = UNSET
    cart_recovery_url_template: UrlText | None | UnsetT = UNSET
    allowed_origins: list[Annotated[str, Meta(max_length=300)]] | None | UnsetT = UNSET
    branding: BrandingInput | None | UnsetT = UNSET
    recovery_incentive: RecoveryIncentiveInput | None | UnsetT = UNSET


class Branding(Model):
    display_name: str | None = None
    primary_color: str | None = None
    logo_url: str | None = None
    locale: str | None = None
    currency: str | None = None


class RecoveryIncentive(Model):
    campaign_id: str


class EmbedConfig(Model):
    cart_abandonment_threshold_minutes: int | None
    # What the sweep uses: the threshold, or the default when it is unset.
    effective_cart_abandonment_threshold_minutes: int
    cart_recovery_url_template: str | None
    allowed_origins: list[str]
    branding: Branding | None
    updated_at: datetime | None
    recovery_incentive: RecoveryIncentive | None = None


# ---------------------------------------------------------------- abandoned carts


class AbandonedCustomer(Model):
    """Who the cart belongs to. A guest captured through `customerEmail` is `{id: null, email, firstName: null}`
    (the names then come from the cart's address when it has one)."""

    id: str | None
    email: str | None
    first_name: str | None
    last_name: str | None = None
    locale: str | None = None
    # The customer's consent to marketing email (null for a guest: unknown).
    marketing_consent: MarketingConsent | None = None


class AbandonedCart(Model):
    """One abandonment of a cart: a cart abandoned, made active and abandoned again has two."""

    id: str
    cart_id: str
    sequence: int
    customer: AbandonedCustomer | None
    currency: CurrencyCode
    total: int
    item_count: int
    abandoned_at: datetime
    recovery_status: RecoveryStatus
    contacted_at: datetime | None = None
    recovered_at: datetime | None = None
    order_id: str | None = None


class CurrencyAmount(Model):
    currency: CurrencyCode
    amount: int


class AbandonedCartSummary(Model):
    """The carts abandoned in the trailing window, and what became of them."""

    window_days: int
    since: datetime
    until: datetime
    abandoned_count: int
    abandoned_value: list[CurrencyAmount]
    # Abandoned carts whose `cart.abandoned` was delivered to at least one endpoint (the
    # merchant's ESP sends the email; Kassa does not send email itself yet).
    recovery_emails_sent: int
    recovered_count: int
    recovered_value: list[CurrencyAmount]


# ---------------------------------------------------------------- webhook service -> cart service


class AbandonmentDelivered(Model):
    """A `cart.abandoned` event delivered to (at least) one endpoint."""

    event_id: str
    cart_id: str
    delivered_at: datetime


class AbandonmentContacted(Model):
    deliveries: Annotated[list[AbandonmentDelivered], Meta(max_length=1000)]


class AbandonmentContactedResult(Model):
    updated: int


# ---------------------------------------------------------------- recovery


RecoveryChangeType = Literal["price_changed", "unavailable", "promotion_ended"]


class RecoveryChange(Model):
    """Something that changed since the shopper last saw the cart, in words a page can show as they are."""

    type: RecoveryChangeType
    message: str
    line_id: str | None = None
    sku: str | None = None
    name: str | None = None
    previous_unit_price: int | None = None
    unit_price: int | None = None
    code: str | None = None
    campaign_id: str | None = None
    reason: str | None = None


class RecoveredIncentive(Model):
    code: str
    campaign_id: str
    applied: bool
    amount: int = 0
    # Why it did not apply (a discount reason such as `expired`), null when it did.
    reason: str | None = None
    message: str | None = None


class CartRecovery(Model):
    """`POST /api/v1/carts/{cartId}/recover`: the cart restored from its recovery link, re-priced against
    the catalog and promotions of now, with what changed and the cart's recovery incentive."""

    cart: Cart
    changes: list[RecoveryChange]
    incentive: RecoveredIncentive | None
    previous_total: int
    abandoned_at: datetime | None
