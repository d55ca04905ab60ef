"""Two-step redemptions for tills and other checkouts (docs/redemptions.md): the basket priced as a
cart would price it, its discounts held by the store (kassa_promotions.store.reservations), and a
`redemption.*` event in the outbox in the same transaction as every change.

The allocations are the cart's own: the same `evaluate_cart` (codes resolved from the store, the
application's campaign index, per-customer usage, segments, first-order rules) on the same lines,
with shipping as the cart quotes it (a `cartId`) or as the till gives it (a snapshot).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypedDict

import msgspec
from kassa_contract.errors import KassaError
from kassa_contract.redemptions import (
    REDEMPTION_CANCELLED,
    REDEMPTION_CONFIRMED,
    REDEMPTION_EXPIRED,
    REDEMPTION_RESERVED,
    REDEMPTION_ROLLED_BACK,
    BasketRedemption,
    ConfirmRedemption,
    CreateRedemption,
    RedemptionEventData,
    RedemptionRollback,
    RollbackRedemption,
)
from kassa_platform import executed
from kassa_platform.clock import Clock
from kassa_platform.db import Database, Reads, transaction
from kassa_platform.outbox import event_params, write_event
from kassa_promotions.store.codes import code_key
from kassa_promotions.store.reservation_rows import CodeReader, ReservationRows
from kassa_promotions.store.reservations import ReservationStore
from sqlalchemy.ext.asyncio import AsyncConnection

from .carts import cart_state
from .discounts import CartDiscounts, evaluate_cart
from .pricing import LineInput, selected_shipping

if TYPE_CHECKING:
    from .service import CartModule

SOURCE = "cart"
_LIMIT_REASONS = frozenset({"usage_limit_reached", "code_usage_limit_reached", "budget_exhausted", "budget_clamped",
                            "gift_card_empty", "gift_card_clamped"})


class _Basket(msgspec.Struct, frozen=True):
    currency: str
    lines: list[LineInput]
    shipping_amount: int
    customer_id: str | None
    email: str | None


class _EventArgs(TypedDict):
    """A redemption event, as write_event and event_params take it."""

    app_id: str
    type: str
    source: str
    aggregate_id: str
    sequence: int
    now: datetime
    data: RedemptionEventData


def _event(app_id: str, type_: str, redemption: BasketRedemption, now: datetime,
           rollback: RedemptionRollback | None = None) -> _EventArgs:
    return {"app_id": app_id, "type": type_, "source": SOURCE, "aggregate_id": redemption.id,
            "sequence": _sequence(redemption), "now": now,
            "data": RedemptionEventData(redemption_id=redemption.id, sequence=_sequence(redemption),
                                        redemption=redemption, rollback=rollback)}


async def emit(conn: AsyncConnection, app_id: str, type_: str, redemption: BasketRedemption, now: datetime,
               rollback: RedemptionRollback | None = None) -> None:
    await write_event(conn, **_event(app_id, type_, redemption, now, rollback))


def _sequence(redemption: BasketRedemption) -> int:
    """Each change of a redemption is one step: reserved, then confirmed or cancelled or expired, then
    one per rollback (receivers drop an event older than one they have)."""
    if redemption.status == "reserved":
        return 1
    return 2 + len(redemption.rollbacks)


class RedemptionDesk:
    """What `/api/v1/redemptions` does (no HTTP here)."""

    def __init__(self, m: CartModule, store: ReservationStore | None = None) -> None:
        self.m = m
        self.store = store or ReservationStore(m.redemptions)
        self.rows = ReservationRows(m.db)

    @property
    def db(self) -> Database:
        return self.m.db

    @property
    def clock(self) -> Clock:
        return self.m.clock

    async def reserve(self, app_id: str, body: CreateRedemption) -> BasketRedemption:
        try:
            return await self._reserve(app_id, body)
        except KassaError as exc:
            if exc.code != "discount_invalid" or not self._limit_refusal(exc):
                raise
            # A limit fell short: holds past their expiry may still count until the job runs. Release
            # them now (they count nowhere) and try once more.
            if not await self.expire_due():
                raise
            return await self._reserve(app_id, body)

    @staticmethod
    def _limit_refusal(exc: KassaError) -> bool:
        return any(r.get("reason") in _LIMIT_REASONS for r in (exc.details or {}).get("refusals", []))

    async def _reserve(self, app_id: str, body: CreateRedemption) -> BasketRedemption:
        now = self.clock.now()
        codes = _unique(body.codes)
        hold = timedelta(minutes=body.hold_minutes)
        if self.rows.available():  # one statement; if a limit fell short, the general path finds out which
            async with self.db.on_demand() as reads:
                basket, found, code_ids = await self._priced(reads, app_id, body, codes, now)
            held, plan = self.rows.plan(app_id=app_id, discounts=found.engine, code_ids=code_ids, codes=codes,
                                        currency=basket.currency, cart_id=body.cart_id,
                                        customer_id=basket.customer_id, email=basket.email,
                                        subtotal=_subtotal(basket), now=now, hold=hold)
            executed.answer_with(held)  # with an Idempotency-Key, stored with the change: a lost answer is replayed
            if await self.rows.reserve(plan, event_params(**_event(app_id, REDEMPTION_RESERVED, held, now))):
                return held
            executed.forget_answer()
        async with transaction(self.db) as conn:
            basket, found, code_ids = await self._priced(conn, app_id, body, codes, now)
            held = await self.store.reserve(
                conn, app_id=app_id, discounts=found.engine, code_ids=code_ids, codes=codes, currency=basket.currency,
                cart_id=body.cart_id, customer_id=basket.customer_id, email=basket.email, subtotal=_subtotal(basket),
                now=now, hold=hold)
            await emit(conn, app_id, REDEMPTION_RESERVED, held, now)
            return held

    async def _priced(self, conn: Reads, app_id: str, body: CreateRedemption, codes: list[str],
                      now: datetime) -> tuple[_Basket, CartDiscounts, dict[str, str]]:
        """The basket, its discounts as the cart computes them (every code must apply), the codes' ids."""
        basket = await self._basket(conn, app_id, body)
        reader = CodeReader(self.db)
        found = await self._evaluate(conn, app_id, basket, codes, now, reader)
        refusals = [{"code": d.code, "campaignId": d.campaign_id, "reason": d.reason, "message": d.message}
                    for c in codes if (d := found.rejection_of(c)) is not None]
        if refusals:
            raise KassaError("discount_invalid", refusals[0]["message"] or "A code does not apply to this basket",
                             field="codes", status=422, details={"refusals": refusals})
        return basket, found, reader.ids

    async def _basket(self, conn: Reads, app_id: str, body: CreateRedemption) -> _Basket:
        if body.basket is not None:
            b = body.basket
            lines = [LineInput(id=li.id or f"line_{i}", variant_id=li.variant_id, product_id=li.product_id, sku=li.sku,
                               name=li.sku, quantity=li.quantity, unit_price=li.unit_price, tax_class="standard",
                               categories=tuple(li.categories), custom=True) for i, li in enumerate(b.line_items)]
            if len({ln.id for ln in lines}) != len(lines):
                raise KassaError("validation_error", "Two lines of the basket have the same id",
                                 field="basket.lineItems", status=422)
            return _Basket(b.currency, lines, b.shipping_amount, body.customer_id, body.email)
        carts = self.m.carts
        state = cart_state(await carts.load(conn, app_id, body.cart_id or "", lock=False))
        if not state.lines:
            raise KassaError("cart_empty", f"Cart {state.id} has no items", field="cartId", status=422)
        config = (await carts.config(conn, state)).config
        country = state.shipping_address.country_code if state.shipping_address else None
        # The engine discounts shipping as quoted before any discount (as CartService._price does).
        quote, _ = selected_shipping(config, state.shipping_method_id, state.currency, country,
                                     sum(ln.unit_price * ln.quantity for ln in state.lines))
        return _Basket(state.currency, state.lines, quote.amount if quote else 0,
                       body.customer_id or (state.customer.id if state.customer else None),
                       body.email or state.customer_email)

    async def _evaluate(self, conn: Reads, app_id: str, basket: _Basket, codes: list[str],
                        now: datetime, reader: CodeReader | None = None) -> CartDiscounts:
        carts = self.m.carts
        pricing = await carts.configs.get(conn, app_id, *(await carts.settings_version(conn, app_id)))
        return await evaluate_cart(conn, reader or self.m.codes, app_id=app_id, currency=basket.currency, lines=basket.lines,
                                   shipping_amount=basket.shipping_amount, codes=codes, email=basket.email,
                                   campaigns=pricing.campaigns, now=now, customer_id=basket.customer_id)

    async def confirm(self, app_id: str, redemption_id: str, body: ConfirmRedemption) -> BasketRedemption:
        now = self.clock.now()
        if self.rows.available():  # a valid hold: one statement; anything else: the general path
            def confirmed(view: BasketRedemption) -> dict[str, Any]:
                executed.answer_with(view)  # as at reserve
                return event_params(**_event(app_id, REDEMPTION_CONFIRMED, view, now))

            done = await self.rows.confirm(app_id=app_id, redemption_id=redemption_id,
                                           transaction_id=body.transaction_id, now=now, event=confirmed)
            if done is not None:
                return done
            executed.forget_answer()
        async with transaction(self.db) as conn:
            before = (await self.store.get(conn, app_id=app_id, redemption_id=redemption_id)).status
            held = await self.store.confirm(conn, app_id=app_id, redemption_id=redemption_id,
                                            transaction_id=body.transaction_id, now=now)
            if before == "reserved":  # not a retry
                await emit(conn, app_id, REDEMPTION_CONFIRMED, held, now)
            return held

    async def cancel(self, app_id: str, redemption_id: str) -> BasketRedemption:
        now = self.clock.now()
        async with transaction(self.db) as conn:
            held, _ = await self.store.cancel(
                conn, app_id=app_id, redemption_id=redemption_id, now=now,
                announce=lambda owner, view: emit(conn, owner, REDEMPTION_CANCELLED, view, now))
            return held

    async def rollback(self, app_id: str, redemption_id: str, body: RollbackRedemption) -> RedemptionRollback:
        now = self.clock.now()
        async with transaction(self.db) as conn:
            _, rollback = await self.store.rollback(
                conn, app_id=app_id, redemption_id=redemption_id, reason=body.reason, amount=body.amount, now=now,
                announce=lambda view, record: emit(conn, app_id, REDEMPTION_ROLLED_BACK, view, now, record))
            return rollback

    async def get(self, app_id: str, redemption_id: str) -> BasketRedemption:
        async with self.db() as conn:
            return await self.store.get(conn, app_id=app_id, redemption_id=redemption_id)

    async def by_transaction(self, app_id: str, transaction_id: str) -> BasketRedemption | None:
        async with self.db() as conn:
            return await self.store.by_transaction(conn, app_id=app_id, transaction_id=transaction_id)

    async def expire_due(self) -> int:
        return await expire_holds(self.db, self.clock, self.store)


async def expire_holds(db: Database, clock: Clock, store: ReservationStore | None = None, *, limit: int = 500) -> int:
    """Holds past their expiry (every application): `expired`, their discounts given back, one
    `redemption.expired` each (the cron job `expire_redemption_holds`)."""
    store = store or ReservationStore()
    total = 0
    while True:
        now = clock.now()
        async with transaction(db) as conn:
            expired = await store.expire(
                conn, now=now, limit=limit,
                announce=lambda owner, view: emit(conn, owner, REDEMPTION_EXPIRED, view, now))
        total += len(expired)
        if len(expired) < limit:
            return total


def _subtotal(basket: _Basket) -> int:
    return sum(ln.unit_price * ln.quantity for ln in basket.lines) + basket.shipping_amount


def _unique(codes: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for c in codes:
        seen.setdefault(code_key(c), c.strip())
    return list(seen.values())
