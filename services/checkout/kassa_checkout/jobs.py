"""The checkout service's background jobs: expiry and the saga's reconcile."""

from __future__ import annotations

import logging

from kassa_platform.jobs import JobContext, JobRegistry

log = logging.getLogger("kassa.jobs.checkout")
registry = JobRegistry()


def _module(ctx: JobContext):  # type: ignore[no-untyped-def]
    from .service import KEY

    return ctx.services[KEY]


@registry.cron(every_minutes=1, name="expire_checkout_sessions")
async def expire_checkout_sessions(ctx: JobContext) -> int:
    """Open sessions past their expiry: `expired`, their cart reopened and its reservations released."""
    expired = await _module(ctx).sessions.expire_due()
    if expired:
        log.info("expired %d checkout sessions", expired)
    return expired


@registry.cron(every_minutes=1, name="reconcile_checkouts")
async def reconcile_checkouts(ctx: JobContext) -> int:
    """Finish or unwind completions cut off by a crash; retry owed cart calls and pending refunds."""
    module = _module(ctx)
    done = await module.saga.reconcile()
    done += await module.orders.reconcile()
    if done:
        log.info("reconciled %d checkouts and refunds", done)
    return done
