"""What the checkout service asks of carts (`/internal/carts/...`): lock, reopen, convert.

Each runs in one transaction under the cart's row lock and is idempotent for its session, so
the checkout saga may retry any step, and its reconcile job may replay one after a crash.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec
import sqlalchemy as sa
from kassa_contract.cart import Cart
from kassa_contract.errors import KassaError
from kassa_contract.events import CART_UPDATED
from kassa_contract.internal import (
    CancelledRedemptions,
    ConvertCart,
    LockCartForCheckout,
    LockedCart,
    ReopenCart,
)
from kassa_platform.auth import Principal
from kassa_platform.db import is_postgres, transaction
from kassa_promotions.store.codes import code_key
from kassa_promotions.store.redemptions import ReservationRequest
from sqlalchemy.ext.asyncio import AsyncConnection

from .abandonment import mark_recovered
from .carts import _UPDATE, CartDocument, CartService, CartState, cart_view
from .pricing import available_shipping
from .tables import carts


class CheckoutLink:
    def __init__(self, carts: CartService) -> None:
        self.carts = carts

    async def lock(self, principal: Principal, cart_id: str, body: LockCartForCheckout) -> LockedCart:
        carts = self.carts
        now = carts.clock.now()
        async with transaction(carts.db) as conn:
            row = await carts._load(conn, principal.app_id, cart_id, lock=True)
            state = carts._state(row)
            shown = {code_key(d.code) for d in msgspec.convert(row.document, CartDocument).discounts
                     if d.applied and d.code}
            if state.status == "converted" or (state.status == "checkout"
                                               and state.checkout_session_id != body.session_id):
                raise KassaError("cart_not_open", f"Cart {cart_id} is {state.status}"
                                 + (" with another checkout session" if state.status == "checkout" else ""),
                                 details={"status": state.status})
            if not state.lines:
                raise KassaError("cart_empty", "A cart without line items cannot be checked out", status=422)
            _take_addresses(state, body)
            if body.customer_email is not None:
                state.customer_email = body.customer_email
            if body.require_shipping_method and state.shipping_method_id is None:
                await self._require_shipping(conn, state)
            state.status, state.checkout_session_id = "checkout", body.session_id
            state.version += 1
            await self._serialize_customer(conn, state)
            pricing = await carts._price(conn, state)
            for lost in (d for d in pricing.discounts if d.code and not d.applied and code_key(d.code) in shown):
                # A code the shopper saw applied no longer applies (its limit was reached meanwhile, say):
                # refuse rather than charge more than the cart showed; the transaction rolls back.
                raise KassaError("discount_invalid", lost.message or "A discount code of this cart no longer applies",
                                 field="discountCodes", details={"reason": lost.reason, "code": lost.code})
            requests = [ReservationRequest.from_discount(d, await self._code_id(conn, state.app_id, d.code))
                        for d in pricing.engine]
            # An open cart holds no reservations (reopening releases them): nothing to reserve, nothing to do.
            result = None if not requests else await carts.redemptions.reserve(
                conn, app_id=state.app_id, cart_id=state.id, customer=state.customer_email, currency=state.currency,
                requests=requests, now=now, ttl=timedelta(minutes=body.reservation_minutes))
            if result is not None and not result.all_granted:
                # The price the shopper saw no longer holds: refuse, and the transaction rolls back.
                miss = next(o for o in result.outcomes if not o.granted or o.clamped)
                raise KassaError("discount_invalid", miss.message or "A discount of this cart is no longer available",
                                 field="discountCodes" if miss.code else None,
                                 details={"reason": miss.reason, "code": miss.code, "campaignId": miss.campaign_id})
            values, cart = carts._write(state, pricing, now)
            await conn.execute(_UPDATE, {"b_id": cart_id, "b_app_id": state.app_id, **values})
            await carts._emit(conn, CART_UPDATED, state, cart, now)
        if result is None:
            return LockedCart(cart=cart, redemption_ids=[])
        return LockedCart(cart=cart, redemption_ids=[o.redemption_id for o in result.outcomes],
                          reservation_expires_at=result.expires_at)

    async def reopen(self, principal: Principal, cart_id: str, body: ReopenCart) -> Cart:
        carts = self.carts
        now = carts.clock.now()
        async with transaction(carts.db) as conn:
            row = await carts._load(conn, principal.app_id, cart_id, lock=True)
            state = carts._state(row)
            if state.status != "checkout" or state.checkout_session_id != body.session_id:
                return cart_view(row, msgspec.convert(row.document, CartDocument))  # nothing of ours to undo
            await carts.redemptions.release(conn, app_id=state.app_id, cart_id=state.id, now=now,
                                            reason=body.reason[:40] or "released")
            state.status, state.checkout_session_id = "open", None
            return await self._save(conn, state, now)

    async def convert(self, principal: Principal, cart_id: str, body: ConvertCart) -> Cart:
        service = self.carts
        now = service.clock.now()
        async with transaction(service.db) as conn:
            row = await service._load(conn, principal.app_id, cart_id, lock=True)
            state = service._state(row)
            if state.status == "converted":
                if state.checkout_session_id != body.session_id:
                    raise KassaError("cart_not_open", f"Cart {cart_id} was converted by another checkout session",
                                     details={"status": "converted"})
                return cart_view(row, msgspec.convert(row.document, CartDocument))
            # The order exists and was paid: the cart converts whatever happened to it since the lock
            # (reopened by an expiry racing the payment, say). Redemptions released meanwhile are taken
            # again; one that no longer fits is honoured anyway: the buyer paid that price.
            # The order copied the cart as locked: the converted cart keeps its document, not a new price.
            document = msgspec.convert(row.document, CartDocument)
            if any(d.applied for d in document.discounts):  # without discounts the lock reserved nothing
                try:
                    await service.redemptions.confirm(conn, app_id=state.app_id, cart_id=state.id,
                                                      order_id=body.order_id, now=now)
                except KassaError as exc:
                    if exc.code != "redemption_expired":
                        raise
            state.status, state.checkout_session_id = "converted", body.session_id
            state.version += 1
            values = {"status": state.status, "checkout_session_id": state.checkout_session_id,
                      "version": state.version, "updated_at": now}
            await conn.execute(carts.update().where(carts.c.id == state.id, carts.c.app_id == state.app_id), values)
            cart = cart_view(row, document)
            cart.status, cart.updated_at = "converted", now
            await service._emit(conn, CART_UPDATED, state, cart, now)
            await mark_recovered(conn, app_id=state.app_id, cart_id=state.id, now=now, order_id=body.order_id,
                                 sequence=state.version)
        return cart

    async def cancel_order_redemptions(self, principal: Principal, order_id: str) -> CancelledRedemptions:
        carts = self.carts
        async with transaction(carts.db) as conn:
            cancelled = await carts.redemptions.cancel_order(conn, app_id=principal.app_id, order_id=order_id,
                                                             now=carts.clock.now())
        return CancelledRedemptions(redemption_ids=[r.id for r in cancelled], amount=sum(r.amount for r in cancelled))

    # ---------------------------------------------------------------- internals

    async def _save(self, conn: AsyncConnection, state: CartState, now: datetime) -> Cart:
        state.version += 1
        pricing = await self.carts._price(conn, state)
        values, cart = self.carts._write(state, pricing, now)
        await conn.execute(_UPDATE, {"b_id": state.id, "b_app_id": state.app_id, **values})
        await self.carts._emit(conn, CART_UPDATED, state, cart, now)
        return cart

    async def _serialize_customer(self, conn: AsyncConnection, state: CartState) -> None:
        """Per-customer limits count the customer's held reservations when pricing: two carts of one
        customer locking at once must take turns, or both would see the last use free. PostgreSQL
        takes a transaction-scoped advisory lock on the customer; SQLite writers are serialized anyway."""
        if not state.customer_email or not is_postgres(conn):
            return
        index = (await self.carts._config(conn, state)).campaigns
        if not (state.discount_codes or index.has_per_customer_limits):
            return
        key = f"{state.app_id}:{state.customer_email.lower()}"
        await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(key, 0))))

    async def _require_shipping(self, conn: AsyncConnection, state: CartState) -> None:
        config = (await self.carts._config(conn, state)).config
        country = state.shipping_address.country_code if state.shipping_address else None
        if available_shipping(config, state.currency, country, 0):
            raise KassaError("shipping_method_required", "Choose a shipping method for this cart first",
                             field="shippingMethod", status=422)

    async def _code_id(self, conn: AsyncConnection, app_id: str, code: str | None) -> str | None:
        if code is None:
            return None
        return (await self.carts.codes.row(conn, app_id, code)).id


def _take_addresses(state: CartState, body: LockCartForCheckout) -> None:
    """The addresses the buyer gave replace the cart's; the cart's stored ones (validated when they
    were written) stand otherwise. Refused only when the session collects an address and neither exists."""
    if body.shipping_address is not None:
        state.shipping_address = body.shipping_address
    if body.billing_address is not None:
        state.billing_address = body.billing_address
    elif body.billing_same_as_shipping and state.shipping_address is not None:
        state.billing_address = state.shipping_address
    if body.require_shipping_address and state.shipping_address is None:
        raise KassaError("address_required", "This checkout collects a shipping address", field="shippingAddress")
    if body.require_billing_address and state.billing_address is None:
        raise KassaError("address_required", "This checkout collects a billing address (or set "
                         "`billingSameAsShipping`)", field="billingAddress")
