"""Jobs every deployment runs, whatever services it has."""

from __future__ import annotations

import logging

from .idempotency import IdempotencyStore
from .jobs import JobContext, JobRegistry

log = logging.getLogger("kassa.jobs.platform")
registry = JobRegistry()


@registry.cron(every_minutes=15, name="purge_idempotency_keys")
async def purge_idempotency_keys(ctx: JobContext) -> int:
    """Idempotency keys are kept 24 h (KASSA_IDEMPOTENCY_TTL_HOURS); then they go."""
    store = IdempotencyStore(ctx.db, ctx.clock, ctx.settings.idempotency_ttl_hours)
    removed = await store.purge_expired()
    if removed:
        log.info("purged %d idempotency keys", removed)
    return removed
