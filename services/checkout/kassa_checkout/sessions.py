"""Checkout sessions: create, read, cancel, expire.

A session points at a cart and leaves it `open`: the cart moves to `checkout` only when the
buyer completes (completion.py). Calls to the cart service happen outside our transactions,
and a call still owed after a state change is recorded (`cart_pending`) in the same
transaction as that change, so the reconcile job finishes it if this process dies first.
"""

from __future__ import annotations

import hmac
import logging
from datetime import datetime, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa
from kassa_contract.checkout import (
    CHECKOUT_SESSION_CANCELLED,
    CHECKOUT_SESSION_EXPIRED,
    RESERVED_METADATA_KEYS,
    CheckoutSession,
    CollectFlags,
    CreateCheckoutSession,
    Payment,
    SessionEventData,
)
from kassa_contract.common import check_metadata
from kassa_contract.errors import KassaError
from kassa_platform import audit, executed
from kassa_platform.auth import Principal, hash_key
from kassa_platform.clock import Clock
from kassa_platform.db import Database, transaction
from kassa_platform.ids import new_id, random_token
from kassa_platform.outbox import Event, write_events
from kassa_platform.rows import OneStatement, for_update
from sqlalchemy.ext.asyncio import AsyncConnection

from .cart_client import CartClient
from .payments.methods import METHOD_IDS
from .tables import checkout_sessions as sessions
from .tables import payments
from .views import payment_view, session_view

SOURCE = "checkout"
log = logging.getLogger("kassa.checkout")
S = sessions.c


# The cart call a session owed has landed (once: a concurrent settle of the same call changes nothing).
_SETTLED = OneStatement(sa.update(sessions).where(S.id == sa.bindparam("w_session_id"),
                                                  S.cart_pending == sa.bindparam("w_pending")).values(cart_pending=None))


def clean_metadata(meta: dict[str, Any] | None) -> dict[str, Any] | None:
    """Enforce the caps on what the caller sent, then drop the reserved keys."""
    check_metadata(meta)
    if meta is None:
        return None
    return {k: v for k, v in meta.items() if k not in RESERVED_METADATA_KEYS}


class SessionStore:
    """Reading and writing session rows; shared by the session API, the saga and the jobs."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    async def load(self, conn: AsyncConnection, app_id: str, session_id: str, *, lock: bool = False) -> Any:
        query = sa.select(sessions).where(S.id == session_id, S.app_id == app_id)
        row = (await conn.execute(for_update(conn, query) if lock else query)).first()
        if row is None:
            raise KassaError("checkout_session_not_found", f"No checkout session {session_id}")
        return row

    async def update(self, conn: AsyncConnection, session_id: str, now: datetime, *, where: Any = None,
                     **values: Any) -> Any:
        """Write `values`, bump the version, and return the row as it now stands (None if `where`
        no longer holds)."""
        query = (sa.update(sessions).where(S.id == session_id).values(version=S.version + 1, updated_at=now, **values)
                 .returning(*sessions.c))
        return (await conn.execute(query if where is None else query.where(where))).first()

    def event(self, type_: str, row: Any, order_id: str | None = None) -> Event:
        return Event(type=type_, aggregate_id=row.id, sequence=row.version,
                     data=SessionEventData(session_id=row.id, cart_id=row.cart_id, sequence=row.version,
                                           session=self.view(row), order_id=order_id))

    async def emit(self, conn: AsyncConnection, type_: str, row: Any, now: datetime, order_id: str | None = None) -> None:
        await write_events(conn, [self.event(type_, row, order_id)], app_id=row.app_id, source=SOURCE, now=now)

    def view(self, row: Any, client_secret: str | None = None) -> CheckoutSession:
        return session_view(row, self.base_url, client_secret=client_secret)


def check_open(row: Any, now: datetime) -> None:
    """The session can still be paid: open, and not past its expiry."""
    if row.status != "open":
        raise KassaError("checkout_session_not_open", f"Checkout session {row.id} is {row.status}", status=409,
                         details={"status": row.status})
    if row.expires_at <= now:
        raise KassaError("checkout_session_expired", f"Checkout session {row.id} has expired", status=409)


def holds_session(principal: Principal, session_id: str) -> bool:
    """Whether the caller may act on the session without its client secret: a secret key (any session
    of its application) or the hosted page's credential for this very session."""
    return principal.is_secret or (principal.kind == "page" and principal.session_id == session_id)


def authorize(principal: Principal, row: Any, session_secret: str | None) -> None:
    """Secret keys see every session of their application, the hosted page its own session; a
    browser with a publishable key needs the session's secret."""
    if holds_session(principal, row.id):
        return
    if not session_secret or not hmac.compare_digest(hash_key(session_secret), row.client_secret_hash):
        raise KassaError("checkout_session_not_found", "No such checkout session (publishable keys need the "
                         "session's client secret in the X-Checkout-Secret header)")


class SessionService:
    def __init__(self, db: Database, clock: Clock, store: SessionStore, cart: CartClient) -> None:
        self.db = db
        self.clock = clock
        self.store = store
        self.cart = cart

    async def create(self, principal: Principal, body: CreateCheckoutSession) -> CheckoutSession:
        metadata = clean_metadata(body.metadata)
        if body.allowed_methods is not None:
            unknown = [m for m in body.allowed_methods if m not in METHOD_IDS]
            if unknown:
                raise KassaError("validation_error", f"Unknown payment method `{unknown[0]}` (known: "
                                 f"{', '.join(sorted(METHOD_IDS))})", field="allowedMethods")
        cart = await self.cart.get(principal.app_id, body.cart_id)
        if cart.status != "open":
            raise KassaError("cart_not_open", f"Cart {cart.id} is {cart.status}", details={"status": cart.status})
        if not cart.line_items:
            raise KassaError("cart_empty", "A cart without line items cannot be checked out", field="cartId",
                             status=422)
        if body.discount_code is not None:
            try:
                cart = await self.cart.apply_code(principal.app_id, cart.id, body.discount_code)
            except KassaError as exc:  # 422 discount_invalid: name the field of this request, not the cart call's
                if exc.field == "code":
                    exc.field = "discountCode"
                raise
        now = self.clock.now()
        session_id = new_id("cs")
        secret = f"{session_id}_secret_{random_token(18)}"
        collect = body.collect or CollectFlags()
        async with transaction(self.db) as conn:
            await conn.execute(sa.insert(sessions).values(
                id=session_id, app_id=principal.app_id, cart_id=cart.id, status="open", currency=cart.currency,
                amount_total=cart.total, collect=msgspec.to_builtins(collect), discount_code=body.discount_code,
                metadata=metadata, allowed_methods=body.allowed_methods, success_url=body.success_url,
                cancel_url=body.cancel_url, client_secret_hash=hash_key(secret), payment_status="unpaid",
                version=1, expires_at=now + timedelta(minutes=body.expires_in_minutes), created_at=now,
                updated_at=now))
            row = await self.store.load(conn, principal.app_id, session_id)
            answer = self.store.view(row, client_secret=secret)
            executed.answer_with(answer)  # committed with the session: a lost answer (and secret) is replayed
        return answer

    async def get(self, principal: Principal, session_id: str, session_secret: str | None) -> CheckoutSession:
        async with self.db() as conn:
            row = await self.store.load(conn, principal.app_id, session_id)
        authorize(principal, row, session_secret)
        return self.store.view(row)

    async def payments(self, principal: Principal, session_id: str) -> list[Payment]:
        async with self.db() as conn:
            await self.store.load(conn, principal.app_id, session_id)
            rows = await conn.execute(sa.select(payments).where(payments.c.session_id == session_id,
                                                                payments.c.app_id == principal.app_id)
                                      .order_by(payments.c.attempt))
            return [payment_view(r) for r in rows]

    async def cancel(self, principal: Principal, session_id: str) -> CheckoutSession:
        now = self.clock.now()
        async with transaction(self.db) as conn:
            row = await self.store.load(conn, principal.app_id, session_id, lock=True)
            if row.status == "complete":
                raise KassaError("already_completed", f"Checkout session {session_id} is complete and cannot be "
                                 "cancelled; refund its order instead", details={"orderId": row.order_id})
            if row.status in ("cancelled", "expired"):
                return self.store.view(row)  # idempotent
            if row.claim_token is not None:  # a completion is running, or its recovery is due
                raise _in_progress(session_id)
            before = row
            row = await self.store.update(conn, row.id, now, status="cancelled", cancelled_at=now, cart_pending="reopen",
                                          claim_token=None, claim_until=None)
            await self.store.emit(conn, CHECKOUT_SESSION_CANCELLED, row, now)
            await audit.record(conn, "checkout_session.cancelled", session_id, app_id=principal.app_id, now=now,
                               before={"status": before.status}, after={"status": row.status})
        await self.settle_cart(row)
        return self.store.view(row)

    async def expire_due(self, *, limit: int = 200) -> int:
        """Open sessions past their expiry become `expired` and give their cart back."""
        now = self.clock.now()
        async with transaction(self.db) as conn:
            query = (sa.select(sessions).where(S.status == "open", S.expires_at <= now, S.claim_token.is_(None))
                     .order_by(S.expires_at).limit(limit))
            due = (await conn.execute(for_update(conn, query, skip_locked=True))).all()
            expired = []
            for row in due:
                row = await self.store.update(conn, row.id, now, status="expired", cart_pending="reopen",
                                              claim_token=None, claim_until=None)
                await self.store.emit(conn, CHECKOUT_SESSION_EXPIRED, row, now)
                expired.append(row)
        for row in expired:
            await self.settle_cart(row)
        return len(expired)

    async def settle_cart(self, row: Any) -> bool:
        """Make the call to the cart service that the session still owes; False if it did not land."""
        if row.cart_pending is None:
            return True
        try:
            if row.cart_pending == "convert":
                await self.cart.convert(row.app_id, row.cart_id, session_id=row.id, order_id=row.order_id)
            else:
                await self.cart.reopen(row.app_id, row.cart_id, session_id=row.id, reason=f"session_{row.status}")
        except KassaError as exc:
            if exc.status >= 500:
                return False  # the cart service is away: the reconcile job tries again
            # A refusal will not change on a retry (the cart is gone, or another session owns it).
            log.warning("cart %s refused %s for session %s: %s", row.cart_id, row.cart_pending, row.id, exc.code)
        await _SETTLED.first(self.db, {"w_session_id": row.id, "w_pending": row.cart_pending})
        return True

    async def settle_pending(self, *, limit: int = 100) -> int:
        async with self.db() as conn:
            rows = (await conn.execute(sa.select(sessions).where(S.cart_pending.is_not(None))
                                       .order_by(S.updated_at).limit(limit))).all()
        settled = 0
        for row in rows:
            settled += await self.settle_cart(row)
        return settled


def _in_progress(session_id: str) -> KassaError:
    return KassaError("checkout_in_progress", f"Checkout session {session_id} is being completed; try again shortly",
                      status=409, headers={"Retry-After": "1"})
