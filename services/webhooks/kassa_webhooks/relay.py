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
from typing import Any

from kassa_platform.clock import Clock
from kassa_platform.db import Database, transaction

from . import relay_rows
from .endpoints import matches
from .store import delivery_row, store_deliveries, store_events


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
            candidates = await relay_rows.claim(conn, self.batch)
            rows = [r for r in candidates if not r.blocked]
            heads = not rows and len(candidates) >= self.batch
            if heads:
                rows = await relay_rows.claim_heads(conn, self.batch)
            # A full batch may have left rows behind; so may a run cut by the batch's end. Rows blocked by
            # another relay's batch are its to hand on (it relays their predecessors, then goes again).
            more = heads or len(candidates) >= self.batch or (bool(rows) and len(rows) < len(candidates))
            if not rows:
                return 0, 0, more
            now = self.clock.now()
            endpoints = await relay_rows.endpoints_by_app(conn, {r.app_id for r in rows})
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
            await relay_rows.mark_published(conn, [r.id for r in rows], now)
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
        return await relay_rows.any_pending(self.db)
