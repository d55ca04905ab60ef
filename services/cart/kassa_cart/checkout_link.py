"""What the checkout service asks of carts (`/internal/carts/...`): lock, reopen, convert.

Each is idempotent for its session, so the checkout saga may retry any step, and its reconcile
job may replay one after a crash. On PostgreSQL a lock or conversion with nothing to reserve or
confirm is optimistic like every cart change (carts.py): the read, then one statement writing the
cart at the version read with its event; anything more (promotions to reserve or confirm, a
customer to serialize on, an abandonment to mark recovered) runs in one transaction under the
cart's row lock, as everything does on SQLite. The statements are kassa_cart.cart_rows'.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec
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
from kassa_platform.db import Reads, transaction
from kassa_platform.rows import NEEDS_LOCK, NeedsLock, optimistic_then_lock
from kassa_promotions.store.codes import code_key
from kassa_promotions.store.redemptions import ReservationRequest
from sqlalchemy.ext.asyncio import AsyncConnection

from .abandonment import mark_recovered
from .cart_rows import CartRow
from .carts import (
    CartDocument,
    CartService,
    CartState,
    Priced,
    cart_event,
    cart_state,
    cart_view,
    cart_written,
)
from .pricing import available_shipping


class CheckoutLink:
    def __init__(self, carts: CartService) -> None:
        self.carts = carts
        self.rows = carts.rows

    async def lock(self, principal: Principal, cart_id: str, body: LockCartForCheckout) -> LockedCart:
        return await optimistic_then_lock(self.carts.db, self._lock_unlocked, self._lock_locked, principal, cart_id,
                                          body)

    async def _lock_unlocked(self, principal: Principal, cart_id: str,
                             body: LockCartForCheckout) -> LockedCart | NeedsLock | None:
        """Read without a lock, write guarded by the version read, with the event, in one statement: the
        LockedCart, None when the cart changed meanwhile, NEEDS_LOCK when there is something to
        reserve (or a customer to serialize on): that needs the row lock and a transaction."""
        carts = self.carts
        now = carts.clock.now()
        async with carts.db.on_demand() as conn:
            row = await carts.load(conn, principal.app_id, cart_id, lock=False)
            state = await self._locking(conn, row, body)
            if await self._serializes(conn, state):
                return NEEDS_LOCK
            pricing = await self._priced(conn, row, state)
            if pricing.engine:
                return NEEDS_LOCK
            values, cart = cart_written(state, pricing, now)
            written = await self.rows.write_if_unchanged(app_id=state.app_id, cart_id=cart_id,
                                                         read_version=row.version, values=values,
                                                         event=cart_event(CART_UPDATED, state, cart, now))
        return LockedCart(cart=cart, redemption_ids=[]) if written else None

    async def _lock_locked(self, principal: Principal, cart_id: str, body: LockCartForCheckout) -> LockedCart:
        carts = self.carts
        now = carts.clock.now()
        async with transaction(carts.db) as conn:
            row = await carts.load(conn, principal.app_id, cart_id, lock=True)
            state = await self._locking(conn, row, body)
            if await self._serializes(conn, state):
                await self.rows.lock_customer(conn, f"{state.app_id}:{_customer_key(state).lower()}")
            pricing = await self._priced(conn, row, state)
            requests = [ReservationRequest.from_discount(d, await self._code_id(conn, state.app_id, d.code))
                        for d in pricing.engine]
            values, cart = cart_written(state, pricing, now)
            await self.rows.write(conn, app_id=state.app_id, cart_id=cart_id, values=values,
                                  event=cart_event(CART_UPDATED, state, cart, now))
            # The holds last: a campaign's row, which every checkout and till using it waits for, stays
            # locked from here to the commit. An open cart holds no reservations (reopening releases
            # them): nothing to reserve, nothing to do.
            result = None if not requests else await carts.redemptions.reserve(
                conn, app_id=state.app_id, cart_id=state.id, customer=_customer_key(state) or None, currency=state.currency,
                requests=requests, now=now, ttl=timedelta(minutes=body.reservation_minutes))
            if result is not None and not result.all_granted:
                # The price the shopper saw no longer holds: refuse, and the transaction rolls back.
                miss = next(o for o in result.outcomes if not o.granted or o.clamped)
                raise KassaError("discount_invalid", miss.message or "A discount of this cart is no longer available",
                                 field="discountCodes" if miss.code else None,
                                 details={"reason": miss.reason, "code": miss.code, "campaignId": miss.campaign_id})
        if result is None:
            return LockedCart(cart=cart, redemption_ids=[])
        return LockedCart(cart=cart, redemption_ids=[o.redemption_id for o in result.outcomes],
                          reservation_expires_at=result.expires_at)

    async def _locking(self, conn: Reads, row: CartRow, body: LockCartForCheckout) -> CartState:
        """The cart of `row` moved to `checkout` for the session, with the buyer's addresses and email."""
        state = cart_state(row)
        if state.status == "converted" or (state.status == "checkout" and state.checkout_session_id != body.session_id):
            raise KassaError("cart_not_open", f"Cart {row.id} is {state.status}"
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
        return state

    async def _priced(self, conn: Reads, row: CartRow, state: CartState) -> Priced:
        """The cart repriced for checkout; refused if a code the shopper saw applied no longer applies (its
        limit was reached meanwhile, say): rather than charge more than the cart showed."""
        shown = {code_key(d.code) for d in msgspec.convert(row.document, CartDocument).discounts if d.applied and d.code}
        pricing = await self.carts.price(conn, state)
        for lost in (d for d in pricing.discounts if d.code and not d.applied and code_key(d.code) in shown):
            raise KassaError("discount_invalid", lost.message or "A discount code of this cart no longer applies",
                             field="discountCodes", details={"reason": lost.reason, "code": lost.code})
        return pricing

    async def reopen(self, principal: Principal, cart_id: str, body: ReopenCart) -> Cart:
        carts = self.carts
        now = carts.clock.now()
        async with transaction(carts.db) as conn:
            row = await carts.load(conn, principal.app_id, cart_id, lock=True)
            state = cart_state(row)
            if state.status != "checkout" or state.checkout_session_id != body.session_id:
                return cart_view(row, msgspec.convert(row.document, CartDocument))  # nothing of ours to undo
            await carts.redemptions.release(conn, app_id=state.app_id, cart_id=state.id, now=now,
                                            reason=body.reason[:40] or "released")
            state.status, state.checkout_session_id = "open", None
            return await self._save(conn, state, now)

    async def convert(self, principal: Principal, cart_id: str, body: ConvertCart) -> Cart:
        return await optimistic_then_lock(self.carts.db, self._convert_unlocked, self._convert_locked, principal,
                                          cart_id, body)

    async def _convert_unlocked(self, principal: Principal, cart_id: str, body: ConvertCart) -> Cart | NeedsLock | None:
        """A cart without discounts that was never abandoned (nothing to confirm, nothing recovered): read,
        then the guarded write with its event in one statement. None when the cart changed meanwhile (an
        abandonment moves its version too), NEEDS_LOCK when there is more to do."""
        now = self.carts.clock.now()
        row = await self.rows.load_to_convert(principal.app_id, cart_id)
        if row is None:
            raise KassaError("cart_not_found", f"No cart {cart_id}")
        document = msgspec.convert(row.document, CartDocument)
        if row.status == "converted":
            return _converted_before(row, document, body)
        if row.abandoned or any(d.applied for d in document.discounts):
            return NEEDS_LOCK
        state = cart_state(row)
        cart = _converting(state, row, document, body, now)
        written = await self.rows.convert_if_unchanged(app_id=state.app_id, cart_id=cart_id, read_version=row.version,
                                                       session_id=body.session_id, version=state.version, now=now,
                                                       event=cart_event(CART_UPDATED, state, cart, now))
        return cart if written else None

    async def _convert_locked(self, principal: Principal, cart_id: str, body: ConvertCart) -> Cart:
        service = self.carts
        now = service.clock.now()
        async with transaction(service.db) as conn:
            row = await service.load(conn, principal.app_id, cart_id, lock=True)
            document = msgspec.convert(row.document, CartDocument)
            if row.status == "converted":
                return _converted_before(row, document, body)
            state = cart_state(row)
            cart = _converting(state, row, document, body, now)
            await self.rows.convert(conn, app_id=state.app_id, cart_id=state.id, session_id=body.session_id,
                                    version=state.version, now=now, event=cart_event(CART_UPDATED, state, cart, now))
            await mark_recovered(conn, app_id=state.app_id, cart_id=state.id, now=now, order_id=body.order_id,
                                 sequence=state.version)
            # The order exists and was paid: the cart converts whatever happened to it since the lock
            # (reopened by an expiry racing the payment, say). Redemptions released meanwhile are taken
            # again; one that no longer fits is honoured anyway: the buyer paid that price. Last, as
            # at the lock: the campaigns' rows stay locked from here to the commit.
            if any(d.applied for d in document.discounts):  # without discounts the lock reserved nothing
                try:
                    await service.redemptions.confirm(conn, app_id=state.app_id, cart_id=state.id,
                                                      order_id=body.order_id, now=now)
                except KassaError as exc:
                    if exc.code != "redemption_expired":
                        raise
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
        pricing = await self.carts.price(conn, state)
        values, cart = cart_written(state, pricing, now)
        await self.rows.write(conn, app_id=state.app_id, cart_id=state.id, values=values,
                              event=cart_event(CART_UPDATED, state, cart, now))
        return cart

    async def _serializes(self, conn: Reads, state: CartState) -> bool:
        """Per-customer limits count the customer's held reservations when pricing: two carts of one
        customer locking at once must take turns, or both would see the last use free. PostgreSQL
        takes a transaction-scoped advisory lock on the customer (CartRows.lock_customer)."""
        if not _customer_key(state):
            return False
        return bool(state.discount_codes or (await self.carts.config(conn, state)).campaigns.has_per_customer_limits)

    async def _require_shipping(self, conn: Reads, state: CartState) -> None:
        config = (await self.carts.config(conn, state)).config
        country = state.shipping_address.country_code if state.shipping_address else None
        if available_shipping(config, state.currency, country, 0):
            raise KassaError("shipping_method_required", "Choose a shipping method for this cart first",
                             field="shippingMethod", status=422)

    async def _code_id(self, conn: Reads, app_id: str, code: str | None) -> str | None:
        if code is None:
            return None
        return (await self.carts.codes.row(conn, app_id, code)).id


def _customer_key(state: CartState) -> str:
    """Who redeems: the cart's customer id when it has a customer, else its email ("" for neither)."""
    return state.customer.id if state.customer else (state.customer_email or "")


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


def _converted_before(row: CartRow, document: CartDocument, body: ConvertCart) -> Cart:
    """Converting again for the same session changes nothing; another session's conversion is refused."""
    if row.checkout_session_id != body.session_id:
        raise KassaError("cart_not_open", f"Cart {row.id} was converted by another checkout session",
                         details={"status": "converted"})
    return cart_view(row, document)


def _converting(state: CartState, row: CartRow, document: CartDocument, body: ConvertCart, now: datetime) -> Cart:
    """The cart converted for the session. The order copied the cart as locked: the converted cart keeps
    its document, not a new price."""
    state.status, state.checkout_session_id = "converted", body.session_id
    state.version += 1
    cart = cart_view(row, document)
    cart.status, cart.updated_at = "converted", now
    return cart
