"""The webhook service's background jobs: relay the outbox, deliver, and the sweeps behind them.

Hints (a NOTIFY from the outbox, a relay that created deliveries, a retry coming due) queue the
jobs; the minute crons run the same functions, so a lost hint, a flushed Redis or a dead worker
delays work by at most a minute and loses nothing. Every job is idempotent.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import sqlalchemy as sa
from kassa_platform.db import transaction
from kassa_platform.jobs import JobContext, JobRegistry
from kassa_platform.tables import outbox_events

from .delivery import disable_long_failing
from .notifications import report_successes_job
from .retention import purge_history
from .service import DELIVER_JOB, RELAY_JOB, Coalescer, module_of_context

log = logging.getLogger("kassa.webhooks.jobs")
registry = JobRegistry()

# Job timeouts are 60 s; a delivery run stops claiming after its budget and returns: requests still
# open carry over to the follow-up run (delivery.Deliverer.run), so a job never waits on them.
RELAY_BUDGET_SECONDS = 30.0
DELIVER_BUDGET_SECONDS = 30.0
OUTBOX_KEEP_HOURS = 24
OUTBOX_PURGE_BATCH = 5000


async def _coalesced(loop: Coalescer, body, budget_seconds: float, follow_up) -> int | None:  # type: ignore[no-untyped-def]
    """Run `body(seconds_left) -> (count, more)` once per process at a time; a hint during a run
    (or `more`) makes it go again.

    The whole call stays within its budget (well inside the job timeout: a job cut off by its
    timeout would abandon requests in flight); work left when it is spent goes to a new job, queued
    once this run has let go, so that the new job does not find it still running and fold into it.
    """
    if loop.running:
        loop.again = True
        return None
    loop.running = True
    deadline = time.monotonic() + budget_seconds
    total = 0
    try:
        while True:
            loop.again = False
            count, more = await body(deadline - time.monotonic())
            total += count
            loop.again = loop.again or more
            if not loop.again or time.monotonic() >= deadline:
                break
    finally:
        loop.running = False
    if loop.again:
        await follow_up()
    return total


@registry.job(name=RELAY_JOB, timeout_seconds=60, max_tries=3)
async def relay_outbox(ctx: JobContext) -> int | None:
    """Move pending outbox rows into events and deliveries; then hint the delivery job."""
    module = module_of_context(ctx)

    async def one_run(seconds_left: float) -> tuple[int, bool]:
        events, deliveries, more = await module.relay.relay_all(budget_seconds=max(seconds_left, 0.0))
        if deliveries:
            await module.hint(DELIVER_JOB)
        return events, more

    return await _coalesced(module.relay_loop, one_run, RELAY_BUDGET_SECONDS, lambda: module.hint(RELAY_JOB))


@registry.job(name=DELIVER_JOB, timeout_seconds=60, max_tries=3)
async def deliver_webhooks(ctx: JobContext) -> int | None:
    """Deliver everything due; a run that spends its time budget queues its own continuation."""
    module = module_of_context(ctx)
    if module.deliver_loop.running:
        module.deliverer.wake()  # the running loop claims again now instead of after its next result

    async def one_run(seconds_left: float) -> tuple[int, bool]:
        return await module.deliverer.run(budget_seconds=max(seconds_left, 0.0))

    return await _coalesced(module.deliver_loop, one_run, DELIVER_BUDGET_SECONDS, lambda: module.hint(DELIVER_JOB))


@registry.cron(every_minutes=1, name="webhooks_relay_sweep")
async def relay_sweep(ctx: JobContext) -> int | None:
    return await relay_outbox(ctx)


@registry.cron(every_minutes=1, name="webhooks_deliver_sweep")
async def deliver_sweep(ctx: JobContext) -> int | None:
    return await deliver_webhooks(ctx)


@registry.cron(every_minutes=1, name="webhooks_report_successes")
async def report_successes(ctx: JobContext) -> int:
    """Tell the cart service which `cart.abandoned` events reached an endpoint (notifications.py)."""
    return await report_successes_job(ctx)


@registry.cron(every_minutes=60, name="webhooks_disable_failing")
async def disable_failing(ctx: JobContext) -> int:
    module = module_of_context(ctx)
    return await disable_long_failing(module.db, module.clock, module.config)


@registry.cron(every_minutes=60, name="webhooks_purge_history")
async def purge_old_history(ctx: JobContext) -> int:
    """Events past the retention go with their deliveries and attempts (retention.py)."""
    module = module_of_context(ctx)
    return await purge_history(ctx.db, now=ctx.clock.now(), keep=module.config.retention)


@registry.cron(every_minutes=15, name="webhooks_purge_outbox")
async def purge_outbox(ctx: JobContext) -> int:
    """Relayed outbox rows are copied into `webhook_events`; after a day they go, in batches."""
    cutoff = ctx.clock.now() - timedelta(hours=OUTBOX_KEEP_HOURS)
    removed = 0
    while True:
        async with transaction(ctx.db) as conn:
            ids = sa.select(outbox_events.c.id).where(outbox_events.c.published_at < cutoff).limit(OUTBOX_PURGE_BATCH)
            result = await conn.execute(sa.delete(outbox_events).where(outbox_events.c.id.in_(ids.scalar_subquery())))
        removed += result.rowcount
        if result.rowcount < OUTBOX_PURGE_BATCH:
            return removed
