"""The cart service's background jobs."""

from __future__ import annotations

import logging

from kassa_platform.db import transaction
from kassa_platform.jobs import JobContext, JobRegistry
from kassa_promotions.store.redemptions import RedemptionStore

log = logging.getLogger("kassa.jobs.cart")
registry = JobRegistry()


@registry.cron(every_minutes=1, name="expire_redemptions")
async def expire_redemptions(ctx: JobContext) -> int:
    """Reservations not confirmed within their TTL give their uses, budget and value back."""
    async with transaction(ctx.db) as conn:
        released = await RedemptionStore().expire(conn, now=ctx.clock.now())
    if released:
        log.info("released %d expired reservations", released)
    return released
