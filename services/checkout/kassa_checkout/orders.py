"""Orders (read) and refunds.

A refund reserves its amount on the order first (so concurrent refunds never exceed the
total), then asks the provider (idempotent by refund id), then settles. A refund left
`pending` by a crash is settled by the reconcile job the same way.
"""

from __future__ import annotations

import builtins
import logging
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from kassa_contract.checkout import (
    ORDER_REFUNDED,
    CreateRefund,
    Order,
    OrderDay,
    OrderStatus,
    OrderSummary,
    Refund,
    RefundEventData,
)
from kassa_contract.common import Page
from kassa_contract.errors import KassaError
from kassa_platform import audit
from kassa_platform.auth import Principal
from kassa_platform.clock import Clock
from kassa_platform.daily import DayWindow
from kassa_platform.db import Database, transaction
from kassa_platform.ids import new_id
from kassa_platform.outbox import write_event
from kassa_platform.rows import for_update
from kassa_platform.tables import applications

from .cart_client import CartClient
from .order_rows import OrderFilter, daily_figures, order_page
from .payment_settings import Connectors
from .payments.connector import RefundOutcome
from .sessions import SOURCE
from .tables import orders, payments, refunds
from .views import order_view, refund_view

log = logging.getLogger("kassa.checkout.orders")
ORDER_STATUSES = ("paid", "partially_refunded", "refunded")
O = orders.c  # noqa: E741
R = refunds.c


class OrderService:
    def __init__(self, db: Database, clock: Clock, cart: CartClient, connectors: Connectors) -> None:
        self.db = db
        self.clock = clock
        self.cart = cart
        self.connectors = connectors

    async def get(self, principal: Principal, order_id: str) -> Order:
        async with self.db() as conn:
            return order_view(await self._load(conn, principal.app_id, order_id))

    async def list(self, principal: Principal, *, limit: int, cursor: str | None,
                   where: OrderFilter = OrderFilter()) -> Page[Order]:
        if where.status is not None and where.status not in ORDER_STATUSES:
            raise KassaError("validation_error", f"status must be one of {', '.join(ORDER_STATUSES)}", field="status",
                             status=400)
        if where.email is not None and (len(where.email) > 254 or "@" not in where.email):
            raise KassaError("validation_error", "email must be an email address", field="email", status=400)
        async with self.db() as conn:
            page = await order_page(conn, principal.app_id, where, limit=limit, cursor=cursor)
        return Page(data=[order_view(r) for r in page.rows], next_cursor=page.next_cursor)

    async def summary(self, principal: Principal, window: DayWindow) -> OrderSummary:
        async with self.db() as conn:
            figures = await daily_figures(conn, principal.app_id, window)
        return OrderSummary(time_zone=window.time_zone, since=window.since, until=window.until, days=[
            OrderDay(date=window.dates[f.day].isoformat(), currency=f.currency, order_count=f.order_count,
                     revenue=f.revenue, refunded=f.refunded) for f in figures])

    async def refunds(self, principal: Principal, order_id: str) -> builtins.list[Refund]:  # `list` is a method here
        async with self.db() as conn:
            await self._load(conn, principal.app_id, order_id)
            rows = await conn.execute(sa.select(refunds).where(R.order_id == order_id).order_by(R.id))
            return [refund_view(r) for r in rows]

    async def refund(self, principal: Principal, order_id: str, body: CreateRefund) -> Refund:
        now = self.clock.now()
        connector = await self.connectors.for_app(principal.app_id, principal.environment)
        async with transaction(self.db) as conn:
            order = await self._load(conn, principal.app_id, order_id, lock=True)
            left = order.total - order.amount_refunded
            if left <= 0:
                raise KassaError("refund_exceeds_amount", f"Order {order_id} is fully refunded", field="amount",
                                 details={"refundable": 0})
            amount = body.amount if body.amount is not None else left
            if amount > left:
                raise KassaError("refund_exceeds_amount", f"At most {left} can still be refunded", field="amount",
                                 details={"refundable": left})
            restore = body.restore_promotions if body.restore_promotions is not None else amount == left
            refund_id = new_id("re")
            await conn.execute(sa.insert(refunds).values(
                id=refund_id, app_id=order.app_id, order_id=order_id, payment_id=order.payment_id, amount=amount,
                currency=order.currency, reason=body.reason, status="pending", restore_promotions=restore,
                promotions_restored=False, created_at=now, updated_at=now))
            await conn.execute(sa.update(orders).where(O.id == order_id)
                               .values(amount_refunded=O.amount_refunded + amount))
            await audit.record(conn, "refund.created", refund_id, app_id=order.app_id, now=now, after={
                "orderId": order_id, "amount": amount, "currency": order.currency, "reason": body.reason,
                "restorePromotions": restore, "orderAmountRefunded": order.amount_refunded + amount})
        outcome = await connector.refund(key=order.session_id, refund_id=refund_id, amount=amount,
                                         currency=order.currency, provider_ref=await self._provider_ref(order.payment_id))
        row = await self._settle(refund_id, outcome)
        if row.status == "failed":
            raise KassaError("refund_failed", outcome.failure_message or "The provider refused the refund",
                             details={"refundId": refund_id, "reason": outcome.failure_code})
        return refund_view(await self._restore_promotions(row))

    async def _settle(self, refund_id: str, outcome: RefundOutcome) -> Any:
        now = self.clock.now()
        async with transaction(self.db) as conn:
            query = sa.select(refunds).where(R.id == refund_id)
            row = (await conn.execute(for_update(conn, query))).one()
            if row.status != "pending":
                return row  # settled by the request, the provider's webhook or the reconcile job, once
            if outcome.pending:  # the provider settles it later and tells us (its webhook; else reconcile asks)
                await conn.execute(sa.update(refunds).where(R.id == refund_id)
                                   .values(provider_ref=outcome.provider_ref, updated_at=now))
                return (await conn.execute(sa.select(refunds).where(R.id == refund_id))).first()
            order = await self._load(conn, row.app_id, row.order_id, lock=True)
            if not outcome.succeeded:
                await conn.execute(sa.update(refunds).where(R.id == refund_id).values(
                    status="failed", provider_ref=outcome.provider_ref, failure_code=outcome.failure_code,
                    failure_message=outcome.failure_message, updated_at=now))
                await conn.execute(sa.update(orders).where(O.id == order.id)
                                   .values(amount_refunded=O.amount_refunded - row.amount))
                return (await conn.execute(sa.select(refunds).where(R.id == refund_id))).first()
            status: OrderStatus = "refunded" if order.amount_refunded >= order.total else "partially_refunded"
            await conn.execute(sa.update(refunds).where(R.id == refund_id).values(
                status="succeeded", provider_ref=outcome.provider_ref or row.provider_ref, updated_at=now))
            await conn.execute(sa.update(orders).where(O.id == order.id)
                               .values(status=status, version=O.version + 1, updated_at=now))
            await conn.execute(sa.update(payments).where(payments.c.id == row.payment_id).values(
                amount_refunded=payments.c.amount_refunded + row.amount, status=status, updated_at=now))
            row = (await conn.execute(sa.select(refunds).where(R.id == refund_id))).one()
            await write_event(conn, app_id=row.app_id, type=ORDER_REFUNDED, source=SOURCE, aggregate_id=order.id,
                              sequence=order.version + 1, now=now,
                              data=RefundEventData(order_id=order.id, sequence=order.version + 1,
                                                   refund=refund_view(row), order_status=status,
                                                   amount_refunded=order.amount_refunded))
        return row

    async def _restore_promotions(self, row: Any) -> Any:
        """Give the order's promotion uses back through the promotions core (the cart service)."""
        if row.status != "succeeded" or not row.restore_promotions or row.promotions_restored:
            return row
        try:
            await self.cart.cancel_order_redemptions(row.app_id, row.order_id)
        except KassaError as exc:
            if exc.status < 500:
                raise
            return row  # the reconcile job tries again
        async with transaction(self.db) as conn:
            await conn.execute(sa.update(refunds).where(R.id == row.id).values(promotions_restored=True))
            return (await conn.execute(sa.select(refunds).where(R.id == row.id))).first()

    async def reconcile(self, *, limit: int = 50) -> int:
        """Refunds a crash left pending, and promotions still owed back."""
        async with self.db() as conn:
            rows = (await conn.execute(
                sa.select(refunds, orders.c.session_id, orders.c.currency.label("order_currency"),
                          payments.c.provider_ref.label("payment_ref"), applications.c.environment)
                .join(orders, orders.c.id == R.order_id).join(applications, applications.c.id == R.app_id)
                .join(payments, payments.c.id == R.payment_id)
                .where(sa.or_(sa.and_(R.status == "pending", R.updated_at <= self.clock.now() - timedelta(minutes=1)),
                              sa.and_(R.status == "succeeded", R.restore_promotions, ~R.promotions_restored)))
                .order_by(R.created_at).limit(limit))).all()
        done = 0
        for row in rows:
            try:
                if row.status == "pending":
                    connector = await self.connectors.for_app(row.app_id, row.environment)
                    outcome = await connector.refund(key=row.session_id, refund_id=row.id, amount=row.amount,
                                                     currency=row.order_currency, provider_ref=row.payment_ref)
                    settled = await self._settle(row.id, outcome)
                else:
                    settled = row
                await self._restore_promotions(settled)
                done += 1
            except KassaError as exc:
                log.warning("refund %s not settled yet: %s", row.id, exc.code)
        return done

    async def settle_from_provider(self, app_id: str, provider_ref: str, outcome: RefundOutcome,
                                   refund_id: str | None = None) -> bool:
        """A refund the provider reports on (its webhook): settled like the request would; False when
        no refund of ours has that reference."""
        async with self.db() as conn:
            query = sa.select(refunds.c.id).where(R.app_id == app_id)
            query = query.where(sa.or_(R.provider_ref == provider_ref, R.id == refund_id) if refund_id
                                else R.provider_ref == provider_ref)
            found = (await conn.execute(query)).first()
        if found is None:
            return False
        await self._restore_promotions(await self._settle(found.id, outcome))
        return True

    async def _provider_ref(self, payment_id: str) -> str | None:
        async with self.db() as conn:
            return (await conn.execute(sa.select(payments.c.provider_ref).where(payments.c.id == payment_id))).scalar()

    @staticmethod
    async def _load(conn: Any, app_id: str, order_id: str, *, lock: bool = False) -> Any:
        query = sa.select(orders).where(O.id == order_id, O.app_id == app_id)
        row = (await conn.execute(for_update(conn, query) if lock else query)).first()
        if row is None:
            raise KassaError("order_not_found", f"No order {order_id}")
        return row
