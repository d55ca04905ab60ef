"""Messages between Kassa services (`/internal/...`): the checkout service driving the cart service.

Models, not Requests: a newer sender may add fields that an older receiver ignores.
"""

from __future__ import annotations

from datetime import datetime

from .base import Model
from .cart import Cart, CartAddress


class LockCartForCheckout(Model):
    """Move the cart to `checkout` for one session: write the buyer's addresses, reprice, reserve
    its promotions. Idempotent for the same session.

    The addresses given replace the cart's; absent, the cart's stored ones stand (with
    `billing_same_as_shipping`, billing becomes the shipping address that stands). `require_*`:
    the session collects that address, so the lock is refused (422 `address_required`) when the
    cart still has none."""

    session_id: str
    shipping_address: CartAddress | None = None
    billing_address: CartAddress | None = None
    billing_same_as_shipping: bool = False
    customer_email: str | None = None
    require_shipping_method: bool = False
    require_shipping_address: bool = False
    require_billing_address: bool = False
    reservation_minutes: int = 60


class LockedCart(Model):
    cart: Cart
    redemption_ids: list[str]
    reservation_expires_at: datetime | None = None


class ReopenCart(Model):
    """Back to `open` (payment declined, session cancelled or expired); releases reservations.
    A no-op unless the cart is in `checkout` for this session: a converted cart never reopens."""

    session_id: str
    reason: str


class ConvertCart(Model):
    """The order exists: confirm the cart's redemptions for it and mark the cart `converted`."""

    session_id: str
    order_id: str


class CancelOrderRedemptions(Model):
    order_id: str


class CancelledRedemptions(Model):
    redemption_ids: list[str]
    amount: int
