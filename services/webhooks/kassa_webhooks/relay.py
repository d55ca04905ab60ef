"""The outbox relay: claim pending outbox rows, store each event once, fan out to endpoints.

A pass is one transaction of four statements whatever its size: the claim, the endpoints of the
claimed applications, the events and deliveries, the published mark. It takes the oldest pending
rows (up to the batch) with each aggregate's run of consecutive pending events, so a cart whose
lines, address and checkout were written within one gathering window (waker.py) is relayed in one
pass, not one pass per event: a relay that took only each aggregate's oldest row needed as many
transactions as the deepest run, which at low load (runs gathered whole) meant one per event.

On PostgreSQL the oldest rows are locked with `FOR UPDATE SKIP LOCKED` through the partial index
on pending rows, so several relays work side by side on disjoint batches; on SQLite writes
serialize anyway (BEGIN IMMEDIATE). Of those rows a row is relayed only when every earlier
pending row of its aggregate (taken by another relay or not) is in this very batch, so one cart's
events become deliveries in sequence order even when two relays race; a row left out stays pending
for a later pass. A relay that dies leaves the rows pending for the next.
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

_COLUMNS = (outbox_events.c.id, outbox_events.c.app_id, outbox_events.c.type, outbox_events.c.source,
            outbox_events.c.aggregate_id, outbox_events.c.sequence, outbox_events.c.payload,
            outbox_events.c.created_at)


def _claim(postgres: bool) -> sa.Select:
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


class Relay:
    def __init__(self, db: Database, clock: Clock, batch: int) -> None:
        self.db = db
        self.clock = clock
        self.batch = batch

    async def relay_once(self) -> tuple[int, int]:
        """One pass (one transaction): returns (events relayed, deliveries created)."""
        relayed, created, _ = await self._pass()
        return relayed, created

    async def _pass(self) -> tuple[int, int, bool]:
        """One pass; the third figure says whether another pass would find rows this one could not take."""
        async with transaction(self.db) as conn:
            postgres = is_postgres(conn)
            candidates = (await conn.execute(_CLAIMS[postgres], {"limit": self.batch})).all()
            rows = [r for r in candidates if not r.blocked]
            heads = not rows and len(candidates) >= self.batch
            if heads:
                rows = (await conn.execute(_HEADS_CLAIMS[postgres], {"limit": self.batch})).all()
            # A full batch may have left rows behind; so may a run cut by the batch's end. Rows blocked by
            # another relay's batch are its to hand on (it relays their predecessors, then goes again).
            more = heads or len(candidates) >= self.batch or (bool(rows) and len(rows) < len(candidates))
            if not rows:
                return 0, 0, more
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
        return len(rows), len(deliveries), more

    async def relay_all(self, *, budget_seconds: float = 30.0) -> tuple[int, int, bool]:
        """Relay passes until nothing is left that this relay can take; returns (events, deliveries,
        whether the time budget ran out first). A pass that took everything it found is the last:
        no empty pass follows to make sure (whatever is written meanwhile notifies the waker)."""
        deadline = time.monotonic() + budget_seconds
        events = deliveries = 0
        while True:
            relayed, created, more = await self._pass()
            events, deliveries = events + relayed, deliveries + created
            if not more or not relayed:
                return events, deliveries, False
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
