"""Checkout sessions, payments, orders and refunds (docs/contract.md, "Checkout sessions, payments, orders")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import Meta

from .base import UNSET, Model, Request, UnsetT
from .cart import AppliedDiscount, CartAddress, LineItem, SelectedShippingMethod, TaxLine
from .common import Amount, CurrencyCode, Email, Metadata
from .customers import CartCustomer

SessionStatus = Literal["open", "complete", "cancelled", "expired"]
PaymentStatus = Literal["pending", "requires_action", "captured", "failed", "refunded", "partially_refunded"]
OrderStatus = Literal["paid", "partially_refunded", "refunded"]
RedirectUrl = Annotated[str, Meta(min_length=1, max_length=2048, pattern=r"^https?://[^\s]+$")]
MethodId = Annotated[str, Meta(pattern=r"^[a-z0-9_]{1,40}$")]
Origin = Annotated[str, Meta(max_length=300, pattern=r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")]

# Keys the seed reserves for top-level fields: stripped from session metadata before storing.
RESERVED_METADATA_KEYS = frozenset({"recurring", "customer_prefill", "mode", "amount", "currency", "externalCartId"})


class CollectFlags(Request):
    shipping_address: bool = True
    billing_address: bool = False


class CreateCheckoutSession(Request):
    cart_id: Annotated[str, Meta(min_length=1, max_length=40)]
    collect: CollectFlags | None = None
    discount_code: Annotated[str, Meta(min_length=1, max_length=100)] | None = None
    metadata: Metadata | None = None
    allowed_methods: Annotated[list[MethodId], Meta(min_length=1, max_length=20)] | None = None
    success_url: RedirectUrl | None = None
    cancel_url: RedirectUrl | None = None
    expires_in_minutes: Annotated[int, Meta(ge=30, le=10080)] = 1440


class PaymentError(Model):
    code: str
    message: str
    payment_id: str | None = None


class CheckoutSession(Model):
    id: str
    status: SessionStatus
    cart_id: str
    url: str
    collect: CollectFlags
    currency: CurrencyCode
    amount_total: int
    discount_code: str | None
    metadata: dict[str, Any] | None
    allowed_methods: list[str] | None
    success_url: str | None
    cancel_url: str | None
    payment_status: Literal["unpaid", "requires_action", "paid"]
    order_id: str | None
    last_payment_error: PaymentError | None
    expires_at: datetime
    created_at: datetime
    completed_at: datetime | None = None
    cancelled_at: datetime | None = None
    client_secret: str | None = None


class CardInput(Request):
    number: Annotated[str, Meta(pattern=r"^[0-9 ]{12,23}$")]
    exp_month: Annotated[int, Meta(ge=1, le=12)] | None = None
    exp_year: Annotated[int, Meta(ge=2000, le=2100)] | None = None
    cvc: Annotated[str, Meta(pattern=r"^[0-9]{3,4}$")] | None = None


class PaymentMethodInput(Request):
    """`type` from the payment-methods catalog; a card's details for `card`, else a wallet token.
    With the Stripe provider a card is never sent: `card` takes the `token` (`tok_…`) or payment
    method (`pm_…`) that Stripe.js made of it, and `stripe` names a PaymentIntent the storefront
    confirmed itself (`paymentIntentId`, from `POST …/payment-intent`).
    `actionResult` finishes a payment that asked for a second step (`approved` or `declined`): sent
    alone (`{"actionResult": "approved"}`), it continues that payment with the method it began with.
    A `type` sent with it must be that payment's own (`{"type": "card", "actionResult": "approved"}`);
    another type is 422 `validation_error` naming `paymentMethod.type`."""

    type: MethodId | None = None
    card: CardInput | None = None
    token: Annotated[str, Meta(max_length=500)] | None = None
    payment_intent_id: Annotated[str, Meta(pattern=r"^pi_[A-Za-z0-9_]{1,250}$")] | None = None
    action_result: Literal["approved", "declined"] | None = None


class CompleteCheckoutSession(Request):
    payment_method: PaymentMethodInput
    shipping_address: CartAddress | None = None
    billing_address: CartAddress | None = None
    billing_same_as_shipping: bool = False
    customer_email: Email | None = None


class PaymentMethod(Model):
    id: str
    type: str
    name: str
    provider: str  # `test` or `stripe` (before 2026-12-07: `connector`)


class EmbedTokenRequest(Request):
    session_id: Annotated[str, Meta(min_length=1, max_length=40)]
    origin: Origin
    # Not a field of payment-only embeds: present -> 400 allowed_methods_unsupported (fail loud).
    allowed_methods: Any | UnsetT = UNSET


class EmbedToken(Model):
    token: str
    session_id: str
    origin: str
    expires_at: datetime
    # The embedded page to frame: the session's `url` with `?embed=<token>`.
    url: str


class Payment(Model):
    id: str
    session_id: str
    order_id: str | None
    attempt: int
    status: PaymentStatus
    provider: str  # `test` or `stripe` (before 2026-12-07: `connector`)
    method: str
    card_brand: str | None
    card_last4: str | None
    amount: int
    amount_refunded: int
    currency: CurrencyCode
    failure_code: str | None
    failure_message: str | None
    created_at: datetime
    updated_at: datetime


class Order(Model):
    id: str
    status: OrderStatus
    session_id: str
    cart_id: str
    currency: CurrencyCode
    customer_email: str | None
    line_items: list[LineItem]
    discounts: list[AppliedDiscount]
    shipping_method: SelectedShippingMethod | None
    tax_lines: list[TaxLine]
    taxes_included: bool
    shipping_address: CartAddress | None
    billing_address: CartAddress | None
    subtotal: int
    discount_total: int
    shipping_total: int
    tax_total: int
    total: int
    item_count: int
    amount_refunded: int
    metadata: dict[str, Any]
    payment_id: str
    created_at: datetime
    updated_at: datetime
    # The customer of the cart it was made from (null for a guest).
    customer: CartCustomer | None = None


class CreateRefund(Request):
    """`amount` defaults to what is left to refund. `restorePromotions` gives the order's discount
    uses, budget and gift-card value back; it defaults to true when the order ends fully refunded."""

    amount: Annotated[int, Meta(ge=1, le=10**15)] | None = None
    reason: Annotated[str, Meta(max_length=500)] | None = None
    restore_promotions: bool | None = None


class Refund(Model):
    id: str
    order_id: str
    payment_id: str
    amount: Amount
    currency: CurrencyCode
    reason: str | None
    status: Literal["pending", "succeeded", "failed"]
    promotions_restored: bool
    created_at: datetime
    # Why the provider refused it (`failed`), in its own words.
    failure_code: str | None = None
    failure_message: str | None = None


# ---------------------------------------------------------------- events

CHECKOUT_SESSION_COMPLETED = "checkout.session.completed"
CHECKOUT_SESSION_CANCELLED = "checkout.session.cancelled"
CHECKOUT_SESSION_EXPIRED = "checkout.session.expired"
ORDER_CREATED = "order.created"
ORDER_REFUNDED = "order.refunded"
PAYMENT_CAPTURED = "payment.captured"
PAYMENT_FAILED = "payment.failed"
# A payment the provider took that could not become an order (its session ended or its cart
# changed to another amount): Kassa gave the money back.
PAYMENT_REFUNDED = "payment.refunded"
ORDER_DISPUTED = "order.disputed"


class SessionEventData(Model):
    session_id: str
    cart_id: str
    sequence: int
    session: CheckoutSession
    order_id: str | None = None


class OrderEventData(Model):
    order_id: str
    session_id: str
    cart_id: str
    sequence: int
    order: Order
    metadata: dict[str, Any]


class PaymentEventData(Model):
    payment_id: str
    session_id: str
    sequence: int
    payment: Payment
    order_id: str | None = None
    metadata: dict[str, Any] | None = None


class PaymentRefundedData(Model):
    payment_id: str
    session_id: str
    sequence: int
    amount: int
    currency: CurrencyCode
    reason: Literal["session_not_open", "amount_mismatch"]
    provider_ref: str | None = None


class Dispute(Model):
    id: str
    amount: int
    currency: CurrencyCode
    reason: str | None
    status: str
    created_at: datetime


class DisputeEventData(Model):
    order_id: str
    payment_id: str
    sequence: int
    dispute: Dispute


class RefundEventData(Model):
    order_id: str
    sequence: int
    refund: Refund
    order_status: OrderStatus
    amount_refunded: int


class OrderDay(Model):
    """One currency's orders on one day (in the time zone asked for): how many, their totals, and
    how much of those orders has been refunded since."""

    date: str  # YYYY-MM-DD
    currency: CurrencyCode
    order_count: int
    revenue: int
    refunded: int


class OrderSummary(Model):
    time_zone: str
    since: datetime
    until: datetime
    # Only the days and currencies that had orders, oldest first.
    days: list[OrderDay]
