"""The outbox relay: claim pending outbox rows, store each event once, fan out to endpoints.

On PostgreSQL a batch is claimed with `FOR UPDATE SKIP LOCKED` through the partial index on
pending rows, so several relays work side by side on disjoint batches; on SQLite writes
serialize anyway (BEGIN IMMEDIATE). A row is taken only when no earlier row of its aggregate is
still pending (taken or not), so one cart's events become deliveries in sequence order even when
two relays race; the next pass takes the next one. Claiming, storing, fanning out and marking
published are one transaction: a relay that dies leaves the rows pending for the next.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from kassa_platform.clock import Clock
from kassa_platform.db import Database, is_postgres, transaction
from kassa_platform.tables import outbox_events

from .endpoints import matches
from .store import delivery_row, store_deliveries, store_events
from .tables import webhook_endpoints

_earlier = outbox_events.alias("earlier")
_HEAD_OF_AGGREGATE = ~sa.exists().where(
    _earlier.c.aggregate_id == outbox_events.c.aggregate_id,
    _earlier.c.published_at.is_(None),
    sa.tuple_(_earlier.c.sequence, _earlier.c.id) < sa.tuple_(outbox_events.c.sequence, outbox_events.c.id),
)
_PENDING = (
    sa.select(outbox_events.c.id, outbox_events.c.app_id, outbox_events.c.type, outbox_events.c.source,
              outbox_events.c.aggregate_id, outbox_events.c.sequence, outbox_events.c.payload,
              outbox_events.c.created_at)
    .where(outbox_events.c.published_at.is_(None), _HEAD_OF_AGGREGATE)
    .order_by(outbox_events.c.created_at)
    .limit(sa.bindparam("limit"))
)
_CLAIM_PG = _PENDING.with_for_update(skip_locked=True, of=outbox_events)
_ACTIVE_ENDPOINTS = (
    sa.select(webhook_endpoints.c.id, webhook_endpoints.c.app_id, webhook_endpoints.c.enabled_events)
    .where(webhook_endpoints.c.app_id.in_(sa.bindparam("app_ids", expanding=True)),
           webhook_endpoints.c.disabled.is_(False), webhook_endpoints.c.deleted_at.is_(None))
)
_MARK_PUBLISHED = (sa.update(outbox_events).where(outbox_events.c.id.in_(sa.bindparam("ids", expanding=True)))
                   .values(published_at=sa.bindparam("now")))
_ANY_PENDING = sa.select(outbox_events.c.id).where(outbox_events.c.published_at.is_(None)).limit(1)


class Relay:
    def __init__(self, db: Database, clock: Clock, batch: int) -> None:
        self.db = db
        self.clock = clock
        self.batch = batch

    async def relay_once(self) -> tuple[int, int]:
        """One batch: returns (events relayed, deliveries created)."""
        async with transaction(self.db) as conn:
            claim = _CLAIM_PG if is_postgres(conn) else _PENDING
            rows = (await conn.execute(claim, {"limit": self.batch})).all()
            if not rows:
                return 0, 0
            now = self.clock.now()
            endpoints = await self._endpoints_by_app(conn, {r.app_id for r in rows})
            events: list[dict[str, Any]] = []
            deliveries: list[dict[str, Any]] = []
            for r in rows:
                events.append({"id": r.id, "app_id": r.app_id, "type": r.type, "source": r.source,
                               "aggregate_id": r.aggregate_id, "sequence": r.sequence, "payload": r.payload,
                               "created_at": r.created_at, "relayed_at": now})
                for endpoint_id, patterns in endpoints.get(r.app_id, ()):
                    if matches(patterns, r.type):
                        deliveries.append(delivery_row(app_id=r.app_id, endpoint_id=endpoint_id, event_id=r.id,
                                                       event_type=r.type, aggregate_id=r.aggregate_id,
                                                       sequence=r.sequence, now=now))
            await store_events(conn, events)
            await store_deliveries(conn, deliveries)
            await conn.execute(_MARK_PUBLISHED, {"ids": [r.id for r in rows], "now": now})
        return len(rows), len(deliveries)

    async def relay_all(self, *, budget_seconds: float = 30.0) -> tuple[int, int, bool]:
        """Relay batches until nothing is pending; returns (events, deliveries, whether the time
        budget ran out first)."""
        deadline = time.monotonic() + budget_seconds
        events = deliveries = 0
        while True:
            relayed, created = await self.relay_once()
            if not relayed:
                return events, deliveries, False
            events, deliveries = events + relayed, deliveries + created
            if time.monotonic() >= deadline:
                return events, deliveries, True

    async def has_pending(self) -> bool:
        async with self.db() as conn:
            return (await conn.execute(_ANY_PENDING)).first() is not None

    @staticmethod
    async def _endpoints_by_app(conn: Any, app_ids: set[str]) -> dict[str, list[tuple[str, list[str]]]]:
        found: dict[str, list[tuple[str, list[str]]]] = defaultdict(list)
        for e in (await conn.execute(_ACTIVE_ENDPOINTS, {"app_ids": sorted(app_ids)})).all():
            found[e.app_id].append((e.id, e.enabled_events))
        return found
