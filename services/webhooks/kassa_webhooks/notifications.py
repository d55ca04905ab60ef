"""Telling the emitting service that its event reached the merchant.

The cart service shows an abandoned cart as `contacted` once its `cart.abandoned` was delivered
to at least one endpoint. It may not read this service's tables, so this service tells it, over
its internal API (`POST /internal/carts/abandonment-contacted`, `ServiceClient`).

The record is durable: a succeeded delivery of a reported type with no `success_reported_at`
is a notice still owed (a partial index holds exactly those rows). The `webhooks_report_successes`
cron job (every minute) sends the owed notices, per application in batches, and only then marks
them reported; the cart side is idempotent. A crash, a cart service outage or a lost job
therefore delays a notice, never loses it, and a repeat changes nothing.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from kassa_contract.abandoned import AbandonmentContacted, AbandonmentDelivered
from kassa_contract.errors import KassaError
from kassa_platform.db import Database, transaction
from kassa_platform.jobs import JobContext
from kassa_platform.service_client import ServiceClient, ServiceUnavailable

from .tables import UNREPORTED_SUCCESS, webhook_deliveries

log = logging.getLogger("kassa.webhooks.notifications")

REPORTED = ("cart.abandoned",)  # the types UNREPORTED_SUCCESS selects
CONTACTED_PATH = "/internal/carts/abandonment-contacted"
BATCH = 500  # owed notices read per query; one call per application per batch (at most 1000 events)
BUDGET_SECONDS = 30.0

d = webhook_deliveries
_OWED = (
    sa.select(d.c.id, d.c.app_id, d.c.event_id, d.c.aggregate_id, d.c.succeeded_at)
    .where(UNREPORTED_SUCCESS, d.c.id > sa.bindparam("after"))
    .order_by(d.c.id)
    .limit(sa.bindparam("limit"))
)
_MARK = (sa.update(d).where(d.c.id.in_(sa.bindparam("ids", expanding=True)), d.c.success_reported_at.is_(None))
         .values(success_reported_at=sa.bindparam("now")))


async def report_successes(db: Database, client: ServiceClient, now_fn: Any, *,
                           budget_seconds: float = BUDGET_SECONDS) -> int:
    """Send every owed notice (or as many as the budget allows); returns how many deliveries were reported.

    An application whose call fails (the cart service down, a wrong service token) keeps its
    notices owed for the next run; a report the cart service refuses as malformed (400/422) is
    marked reported and logged, not retried forever.
    """
    deadline = time.monotonic() + budget_seconds
    after = ""
    reported = 0
    while time.monotonic() < deadline:
        async with db() as conn:
            rows = (await conn.execute(_OWED, {"after": after, "limit": BATCH})).all()
        if not rows:
            break
        after = rows[-1].id
        by_app: dict[str, list[Any]] = defaultdict(list)
        for r in rows:
            by_app[r.app_id].append(r)
        for app_id, owed in by_app.items():
            events: dict[str, AbandonmentDelivered] = {}
            for r in owed:  # several endpoints got the same event: the first success is the contact
                seen = events.get(r.event_id)
                if seen is None or r.succeeded_at < seen.delivered_at:
                    events[r.event_id] = AbandonmentDelivered(event_id=r.event_id, cart_id=r.aggregate_id,
                                                              delivered_at=r.succeeded_at)
            try:
                await client.call("POST", CONTACTED_PATH, app_id=app_id,
                                  json=AbandonmentContacted(deliveries=list(events.values())))
            except ServiceUnavailable as exc:
                log.warning("could not report %d delivered cart.abandoned events of %s (%s); retrying next run",
                            len(events), app_id, exc.message)
                continue
            except KassaError as exc:
                if exc.status not in (400, 422):  # a configuration problem (token, route): fixable, so kept
                    log.warning("the cart service answered %s to the delivery report of %s (%s); retrying next run",
                                exc.status, app_id, exc.code)
                    continue
                log.warning("the cart service refused the delivery report of %s (%s: %s); not retried",
                            app_id, exc.code, exc.message)
            async with transaction(db) as conn:
                await conn.execute(_MARK, {"ids": [r.id for r in owed], "now": now_fn()})
            reported += len(owed)
        if len(rows) < BATCH:
            break
    return reported


async def report_successes_job(ctx: JobContext) -> int:
    client = ServiceClient("cart", ctx.settings, ctx.services)
    try:
        return await report_successes(ctx.db, client, ctx.clock.now)
    finally:
        await client.close()
