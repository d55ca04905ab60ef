"""Embed config and abandoned carts: the cart service's wire types (docs/contract.md, "Embed config and
abandoned carts"), and the webhook service's notice that a `cart.abandoned` reached a merchant."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from msgspec import Meta

from .base import UNSET, Model, Request, UnsetT
from .common import CurrencyCode

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


class UpdateEmbedConfig(Request):
    """PUT: an absent field is left as it is, `null` clears it (a cleared threshold means the default).

    Ranges are checked by the service, which names the field and the allowed range.
    """

    cart_abandonment_threshold_minutes: int | None | UnsetT = UNSET
    cart_recovery_url_template: UrlText | None | UnsetT = UNSET
    allowed_origins: list[Annotated[str, Meta(max_length=300)]] | None | UnsetT = UNSET
    branding: BrandingInput | None | UnsetT = UNSET


class Branding(Model):
    display_name: str | None = None
    primary_color: str | None = None
    logo_url: str | None = None


class EmbedConfig(Model):
    cart_abandonment_threshold_minutes: int | None
    # What the sweep uses: the threshold, or the default when it is unset.
    effective_cart_abandonment_threshold_minutes: int
    cart_recovery_url_template: str | None
    allowed_origins: list[str]
    branding: Branding | None
    updated_at: datetime | None


# ---------------------------------------------------------------- abandoned carts


class AbandonedCustomer(Model):
    """Who the cart belongs to. A guest captured through `customerEmail` is `{id: null, email, firstName: null}`."""

    id: str | None
    email: str | None
    first_name: str | None


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


class AbandonmentDay(Model):
    """One currency's abandonments on one day (in the time zone asked for), and how many of those
    carts were recovered (converted) since, with their value."""

    date: str  # YYYY-MM-DD
    currency: CurrencyCode
    abandoned_count: int
    abandoned_value: int
    recovered_count: int
    recovered_value: int


class AbandonmentDaily(Model):
    time_zone: str
    since: datetime
    until: datetime
    # Only the days and currencies that had abandonments, oldest first.
    days: list[AbandonmentDay]
