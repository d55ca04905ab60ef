"""Jobs every deployment runs, whatever services it has."""

from __future__ import annotations

import logging

from . import audit
from .db import transaction
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


@registry.cron(every_minutes=60, name="purge_audit_log")
async def purge_audit_log(ctx: JobContext) -> int:
    """Audit entries are kept 400 days (KASSA_AUDIT_RETENTION_DAYS); then they go, a batch per
    transaction so no delete holds locks for long."""
    removed = 0
    while True:
        async with transaction(ctx.db) as conn:
            batch = await audit.purge_batch(conn, ctx.clock.now(), max(1, ctx.settings.audit_retention_days))
        removed += batch
        if batch < audit.PURGE_BATCH:
            break
    if removed:
        log.info("purged %d audit entries", removed)
    return removed
