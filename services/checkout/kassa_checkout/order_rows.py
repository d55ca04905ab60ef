"""The statements that read orders for lists and figures (the dashboard's, and any integrator's).

Every one is bounded by an index: the application's orders newest first by id (`ix_orders_app_id_id`),
narrowed by status (`ix_orders_app_status_id`) or email (`ix_orders_app_email_id`, on the lower-cased
address), a time range turned into an id range (ids are time-ordered: `id_floor`). The figures per
day read only `ix_orders_app_created_figures`, which holds every column they add up (on PostgreSQL an
index-only scan: no order row is read). Portable Core,
read through SQLAlchemy on PostgreSQL and SQLite alike: a read is one statement either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from kassa_platform.daily import DayWindow
from kassa_platform.ids import id_floor
from kassa_platform.pagination import decode_cursor, encode_cursor
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import orders

O = orders.c  # noqa: E741
# By the day and currency columns' positions: the day's CASE, bound parameters and all, is written
# (and computed) once, where GROUP BY and ORDER BY repeating it would be compared and run again.
BY_POSITION: tuple[sa.ColumnClause[Any], ...] = (sa.literal_column("1"), sa.literal_column("2"))


@dataclass(frozen=True)
class OrderFilter:
    status: str | None = None
    email: str | None = None
    created_gte: datetime | None = None
    created_lt: datetime | None = None


@dataclass(frozen=True)
class OrderRowsPage:
    rows: list[Any]  # rows of `orders`
    next_cursor: str | None


async def order_page(conn: AsyncConnection, app_id: str, where: OrderFilter, *, limit: int,
                     cursor: str | None) -> OrderRowsPage:
    query = sa.select(orders).where(O.app_id == app_id)
    if where.status:
        query = query.where(O.status == where.status)
    if where.email:
        query = query.where(sa.func.lower(O.customer_email) == where.email.lower())
    if where.created_gte:
        query = query.where(O.id >= id_floor("ord", where.created_gte))
    if where.created_lt:
        query = query.where(O.id < id_floor("ord", where.created_lt))
    before = decode_cursor(cursor)
    if before:
        query = query.where(O.id < before)
    rows = list((await conn.execute(query.order_by(O.id.desc()).limit(limit + 1))).all())
    return OrderRowsPage(rows[:limit], encode_cursor(rows[limit - 1].id) if len(rows) > limit else None)


@dataclass(frozen=True)
class DayFigures:
    day: int  # index into the window's dates
    currency: str
    order_count: int
    revenue: int
    refunded: int


async def daily_figures(conn: AsyncConnection, app_id: str, window: DayWindow) -> list[DayFigures]:
    """Per day of the window and currency: orders, their totals, what of them was refunded."""
    bucket = window.bucket(O.created_at).label("day")
    rows = await conn.execute(
        sa.select(bucket, O.currency, sa.func.count().label("n"), sa.func.sum(O.total).label("revenue"),
                  sa.func.sum(O.amount_refunded).label("refunded"))
        .where(O.app_id == app_id, O.created_at >= window.since, O.created_at < window.until)
        .group_by(*BY_POSITION).order_by(*BY_POSITION))
    return [DayFigures(int(r.day), r.currency, int(r.n), int(r.revenue or 0), int(r.refunded or 0)) for r in rows]
