"""The outbox relay's statements, on PostgreSQL and on SQLite (kassa_webhooks.relay holds the rules).

PostgreSQL lets several relays work side by side: each locks the rows it takes with `FOR UPDATE
SKIP LOCKED` (through the partial index on pending rows), so their batches are disjoint. SQLite
writers take turns (BEGIN IMMEDIATE): the same queries without the lock.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from kassa_platform.db import Database, is_postgres
from kassa_platform.tables import outbox_events
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import webhook_endpoints

_COLUMNS = (outbox_events.c.id, outbox_events.c.app_id, outbox_events.c.type, outbox_events.c.source,
            outbox_events.c.aggregate_id, outbox_events.c.sequence, outbox_events.c.payload,
            outbox_events.c.created_at)


def _claim(postgres: bool) -> sa.Select[Any]:
    """The oldest pending rows (locked on PostgreSQL, skipping rows another relay holds), each with
    `blocked`: whether an earlier pending row of its aggregate is outside this batch."""
    oldest = (sa.select(outbox_events.c.id).where(outbox_events.c.published_at.is_(None))
              .order_by(outbox_events.c.created_at).limit(sa.bindparam("limit")))
    if postgres:
        oldest = oldest.with_for_update(skip_locked=True)
    taken = oldest.cte("taken")
    earlier = outbox_events.alias("earlier")
    blocked = sa.exists().where(
        earlier.c.aggregate_id == outbox_events.c.aggregate_id,
        earlier.c.published_at.is_(None),
        sa.tuple_(earlier.c.sequence, earlier.c.id) < sa.tuple_(outbox_events.c.sequence, outbox_events.c.id),
        earlier.c.id.not_in(sa.select(taken.c.id)),
    )
    return (sa.select(*_COLUMNS, blocked.label("blocked"))
            .join_from(outbox_events, taken, taken.c.id == outbox_events.c.id)
            .order_by(outbox_events.c.created_at, outbox_events.c.id))


_CLAIMS = {True: _claim(True), False: _claim(False)}
# The oldest row of each aggregate, whatever its age (the claim above takes rows by age): for the
# unlikely batch whose every row waits for an earlier row of its aggregate written with a later
# `created_at` (two writers of one cart racing), so that the relay never stalls on it.
_earlier = outbox_events.alias("earlier_head")
_HEADS = (
    sa.select(*_COLUMNS, sa.false().label("blocked"))
    .where(outbox_events.c.published_at.is_(None), ~sa.exists().where(
        _earlier.c.aggregate_id == outbox_events.c.aggregate_id, _earlier.c.published_at.is_(None),
        sa.tuple_(_earlier.c.sequence, _earlier.c.id) < sa.tuple_(outbox_events.c.sequence, outbox_events.c.id)))
    .order_by(outbox_events.c.created_at)
    .limit(sa.bindparam("limit"))
)
_HEADS_CLAIMS = {True: _HEADS.with_for_update(skip_locked=True, of=outbox_events), False: _HEADS}
_ACTIVE_ENDPOINTS = (
    sa.select(webhook_endpoints.c.id, webhook_endpoints.c.app_id, webhook_endpoints.c.enabled_events)
    .where(webhook_endpoints.c.app_id.in_(sa.bindparam("app_ids", expanding=True)),
           webhook_endpoints.c.disabled.is_(False), webhook_endpoints.c.deleted_at.is_(None))
)
_MARK_PUBLISHED = (sa.update(outbox_events).where(outbox_events.c.id.in_(sa.bindparam("ids", expanding=True)))
                   .values(published_at=sa.bindparam("now")))
_ANY_PENDING = sa.select(outbox_events.c.id).where(outbox_events.c.published_at.is_(None)).limit(1)


async def claim(conn: AsyncConnection, limit: int) -> list[sa.Row[Any]]:
    """The oldest pending outbox rows (up to `limit`, locked where several relays run), each with
    `blocked`: whether an earlier pending row of its aggregate is outside this batch."""
    return list((await conn.execute(_CLAIMS[is_postgres(conn)], {"limit": limit})).all())


async def claim_heads(conn: AsyncConnection, limit: int) -> list[sa.Row[Any]]:
    """The oldest pending row of each aggregate, whatever its age (see _HEADS)."""
    return list((await conn.execute(_HEADS_CLAIMS[is_postgres(conn)], {"limit": limit})).all())


async def endpoints_by_app(conn: AsyncConnection, app_ids: set[str]) -> dict[str, list[tuple[str, list[str]]]]:
    """The active endpoints of these applications: (id, the event patterns it takes) per application."""
    found: dict[str, list[tuple[str, list[str]]]] = defaultdict(list)
    for e in (await conn.execute(_ACTIVE_ENDPOINTS, {"app_ids": sorted(app_ids)})).all():
        found[e.app_id].append((e.id, e.enabled_events))
    return found


async def mark_published(conn: AsyncConnection, ids: list[str], now: datetime) -> None:
    await conn.execute(_MARK_PUBLISHED, {"ids": ids, "now": now})


async def any_pending(db: Database) -> bool:
    async with db() as conn:
        return (await conn.execute(_ANY_PENDING)).first() is not None
