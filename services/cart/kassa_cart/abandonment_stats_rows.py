"""The statement behind the abandoned carts' figures per day (the dashboard's overview): one portable
Core read over `ix_cart_abandonments_app_id_abandoned_at`, the same on PostgreSQL and SQLite."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from kassa_platform.daily import DayWindow
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import cart_abandonments

a = cart_abandonments.c
# By the day and currency columns' positions: the day's CASE, bound parameters and all, is written
# (and computed) once, where GROUP BY and ORDER BY repeating it would be compared and run again.
BY_POSITION: tuple[sa.ColumnClause[Any], ...] = (sa.literal_column("1"), sa.literal_column("2"))


@dataclass(frozen=True)
class AbandonmentFigures:
    day: int  # index into the window's dates
    currency: str
    abandoned_count: int
    abandoned_value: int
    recovered_count: int
    recovered_value: int


async def daily_figures(conn: AsyncConnection, app_id: str, window: DayWindow) -> list[AbandonmentFigures]:
    bucket = window.bucket(a.abandoned_at).label("day")
    recovered = a.recovery_status == "recovered"
    rows = await conn.execute(
        sa.select(bucket, a.currency, sa.func.count().label("n"), sa.func.sum(a.total).label("value"),
                  sa.func.sum(sa.case((recovered, 1), else_=0)).label("recovered"),
                  sa.func.sum(sa.case((recovered, a.recovered_total), else_=0)).label("recovered_value"))
        .where(a.app_id == app_id, a.abandoned_at >= window.since, a.abandoned_at < window.until)
        .group_by(*BY_POSITION).order_by(*BY_POSITION))
    return [AbandonmentFigures(int(r.day), r.currency, int(r.n), int(r.value or 0), int(r.recovered or 0),
                               int(r.recovered_value or 0)) for r in rows]
