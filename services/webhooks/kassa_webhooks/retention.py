"""How long the webhook history is kept: events, their deliveries and attempts, 30 days by default.

An event goes with its deliveries and attempts once it is older than the retention and nothing
about it is still owed: no delivery pending or in flight, no success still to be reported to the
service that emitted it. `KASSA_WEBHOOKS_RETENTION_DAYS` sets the retention (1 to 3650).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from kassa_platform.db import Database, transaction
from kassa_platform.ids import id_floor

from .tables import OPEN_DELIVERY, UNREPORTED_SUCCESS, webhook_attempts, webhook_deliveries, webhook_events

BATCH = 500
ev, d = webhook_events.c, webhook_deliveries.c


async def purge_history(db: Database, *, now: datetime, keep: timedelta, batch: int = BATCH,
                        app_id: str | None = None) -> int:
    """Delete what is past the retention, `batch` events per transaction (of one application, or of
    all); return how many events went."""
    floor = id_floor("evt", now - keep)  # event ids are time-ordered: the primary key finds the old ones
    owed = sa.exists().where(d.event_id == ev.id, sa.or_(OPEN_DELIVERY, UNREPORTED_SUCCESS))
    removed = 0
    while True:
        async with transaction(db) as conn:
            query = sa.select(ev.id).where(ev.id < floor, ~owed).order_by(ev.id).limit(batch)
            if app_id is not None:
                query = query.where(ev.app_id == app_id)
            ids = (await conn.execute(query)).scalars().all()
            if ids:
                deliveries = sa.select(d.id).where(d.event_id.in_(ids)).scalar_subquery()
                await conn.execute(sa.delete(webhook_attempts).where(webhook_attempts.c.delivery_id.in_(deliveries)))
                await conn.execute(sa.delete(webhook_deliveries).where(d.event_id.in_(ids)))
                await conn.execute(sa.delete(webhook_events).where(ev.id.in_(ids)))
        removed += len(ids)
        if len(ids) < batch:
            return removed
