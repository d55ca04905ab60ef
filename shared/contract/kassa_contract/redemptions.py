"""Two-step redemptions for tills and other checkouts (docs/redemptions.md): reserve codes on a
basket, then confirm with the transaction id, or cancel; roll a confirmed one back on a return.

A redemption (`rdm_…`) holds one allocation per discount it got (each an `red_…` redemption
line of the campaign, as listed by `GET /api/v1/redemptions`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from msgspec import Meta

from .base import Model, Request
from .common import Amount, CurrencyCode, Email

RedemptionHoldStatus = Literal["reserved", "confirmed", "cancelled", "expired", "rolled_back"]
DEFAULT_HOLD_MINUTES = 15
MAX_HOLD_MINUTES = 1440

REDEMPTION_RESERVED = "redemption.reserved"
REDEMPTION_CONFIRMED = "redemption.confirmed"
REDEMPTION_CANCELLED = "redemption.cancelled"
REDEMPTION_ROLLED_BACK = "redemption.rolled_back"
REDEMPTION_EXPIRED = "redemption.expired"

TransactionId = Annotated[str, Meta(min_length=1, max_length=100)]
DiscountCode = Annotated[str, Meta(min_length=1, max_length=64)]


class BasketLine(Request):
    """One line of a till's basket. `id` names the line in the allocations (default `line_<index>`)."""

    sku: Annotated[str, Meta(min_length=1, max_length=100)]
    quantity: Annotated[int, Meta(ge=1, le=9999)]
    unit_price: Amount
    categories: Annotated[list[Annotated[str, Meta(min_length=1, max_length=100)]], Meta(max_length=50)] = []
    id: Annotated[str, Meta(min_length=1, max_length=60)] | None = None
    product_id: Annotated[str, Meta(max_length=60)] | None = None
    variant_id: Annotated[str, Meta(max_length=60)] | None = None


class Basket(Request):
    currency: CurrencyCode
    line_items: Annotated[list[BasketLine], Meta(min_length=1, max_length=250)]
    shipping_amount: Amount = 0


class CreateRedemption(Request):
    """`codes` on either a Kassa cart (`cartId`) or a basket snapshot (`basket`), held `holdMinutes`."""

    codes: Annotated[list[DiscountCode], Meta(min_length=1, max_length=20)]
    cart_id: Annotated[str, Meta(min_length=1, max_length=60)] | None = None
    basket: Basket | None = None
    customer_id: Annotated[str, Meta(min_length=1, max_length=60)] | None = None
    email: Email | None = None
    hold_minutes: Annotated[int, Meta(ge=1, le=MAX_HOLD_MINUTES)] = DEFAULT_HOLD_MINUTES

    def __post_init__(self) -> None:
        if (self.cart_id is None) == (self.basket is None):
            raise ValueError("basket: give either `cartId` or `basket`, not both and not neither")


class ConfirmRedemption(Request):
    transaction_id: TransactionId


class RollbackRedemption(Request):
    """`amount` (minor units of discount to give back) omitted: all that is left."""

    reason: Annotated[str, Meta(min_length=1, max_length=200)]
    amount: Annotated[int, Meta(ge=1, le=10**15)] | None = None


class AllocationLine(Model):
    line_id: str
    amount: int


class RedemptionAllocation(Model):
    """One discount of the redemption: its campaign, the code that brought it (None: automatic),
    how much it takes off each line and off shipping (`amount` = their sum)."""

    redemption_line_id: str
    campaign_id: str
    code: str | None
    name: str
    amount: int
    lines: list[AllocationLine]
    shipping: int
    gift_card: bool
    rolled_back: int


class RollbackPart(Model):
    redemption_line_id: str
    amount: int
    use_returned: bool


class RedemptionRollback(Model):
    id: str
    redemption_id: str
    reason: str
    amount: int
    currency: str
    parts: list[RollbackPart]
    created_at: datetime


class BasketRedemption(Model):
    id: str
    status: RedemptionHoldStatus
    currency: str
    codes: list[str]
    cart_id: str | None
    customer_id: str | None
    email: str | None
    transaction_id: str | None
    subtotal: int  # the basket before discounts (lines + shipping)
    amount: int  # the discounts
    rolled_back_amount: int
    allocations: list[RedemptionAllocation]
    rollbacks: list[RedemptionRollback]
    expires_at: datetime
    confirmed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class RedemptionEventData(Model):
    """`redemption.*`: the redemption after the change (`rollback`: the one `rolled_back` reports)."""

    redemption_id: str
    sequence: int
    redemption: BasketRedemption
    rollback: RedemptionRollback | None = None
