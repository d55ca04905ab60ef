"""The event envelope every webhook carries, and the typed payloads of the cart events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .abandoned import AbandonedCustomer
from .base import Model
from .cart import Cart, CartAddress, LineItem
from .versions import FIRST_VERSION

EVENT_VERSION = "1"

CART_CREATED = "cart.created"
CART_UPDATED = "cart.updated"


class EventEnvelope(Model, kw_only=True):
    id: str
    type: str
    version: str
    # The API version `data` is rendered in: the newest when stored, the endpoint's when delivered
    # (an event stored before API versions has none and is in the first version's shape).
    api_version: str = FIRST_VERSION
    created_at: datetime
    data: dict[str, Any]


class CartEventData(Model):
    """`cart.created` / `cart.updated`: the cart as it stands after the change."""

    cart_id: str
    sequence: int
    cart: Cart


# ---------------------------------------------------------------- abandoned carts

CART_ABANDONED = "cart.abandoned"
CART_RECOVERED = "cart.recovered"


class CartAbandonedData(Model):
    """`cart.abandoned`: everything an ESP needs to run a recovery flow without calling back.

    `cartId` and `sequence` are always there; the rest was added within version 1.
    `customer` is null for an anonymous cart (no customer, no `customerEmail`): such carts are
    emitted too, since a storefront that knows its shopper can still use `recoveryUrl`.
    """

    cart_id: str
    sequence: int
    customer: AbandonedCustomer | None = None
    line_items: list[AbandonedLineItem] = []
    currency: str | None = None
    subtotal: int = 0
    tax_total: int = 0
    shipping_total: int = 0
    discount_total: int = 0
    total: int = 0
    item_count: int = 0
    recovery_url: str | None = None
    shipping_address: CartAddress | None = None
    billing_address: CartAddress | None = None
    abandoned_at: datetime | None = None
    # For email platforms (Klaviyo "Started Checkout", Mailchimp abandoned cart), added within version 1.
    # The recovery link under the name ESPs use for it (the same URL as `recoveryUrl`).
    checkout_url: str | None = None
    store: AbandonedStore | None = None
    # What the cart is worth to the merchant: its total, in `currency` minor units.
    value: int = 0
    # Unique per abandonment (the same as the envelope's id): ESPs dedupe "Started Checkout" on it.
    event_id: str | None = None
    recovery_incentive: AbandonedIncentive | None = None


class AbandonedLineItem(LineItem):
    """A line of an abandoned cart, with what an email shows of it. Catalog fields are null for a custom
    line or a product without them; a variant's own `url` / `imageUrl` win over its product's."""

    product_url: str | None = None
    image_url: str | None = None
    variant_name: str | None = None
    product_name: str | None = None
    # The line's total (after its discounts, with tax as the cart shows it); `unitPrice` is one unit's price.
    line_total: int = 0


class AbandonedStore(Model):
    """The store as the application's embed config presents it (branding)."""

    display_name: str | None = None
    logo_url: str | None = None
    primary_color: str | None = None
    locale: str | None = None
    currency: str | None = None


class AbandonedIncentive(Model):
    """A single-use code minted for this cart (embed config `recoveryIncentive`): it works on this cart only,
    and the recovery link applies it."""

    code: str
    campaign_id: str


class CartRecoveredData(Model):
    """`cart.recovered`: a cart converted after it was abandoned (the sequence of its conversion)."""

    cart_id: str
    sequence: int
    order_id: str | None = None
    currency: str | None = None
    total: int = 0
    abandoned_at: datetime | None = None
    recovered_at: datetime | None = None
