"""The cart service's background jobs."""

from __future__ import annotations

import logging
from datetime import timedelta

from kassa_platform.db import transaction
from kassa_platform.jobs import JobContext, JobRegistry
from kassa_promotions.store.redemptions import RedemptionStore
from prometheus_client import Counter

from .abandonment import sweep
from .customers import CustomerService
from .erasure import ErasureService, erasure_clients
from .redemption_api import expire_holds

log = logging.getLogger("kassa.jobs.cart")
registry = JobRegistry()

# The sweep's runs, failures and durations are the job metrics of `abandon_carts` (kassa_platform.metrics).
CARTS_ABANDONED = Counter("kassa_carts_abandoned", "Carts the abandonment sweep marked abandoned (one "
                          "cart.abandoned each)")


@registry.cron(every_minutes=1, name="expire_redemptions")
async def expire_redemptions(ctx: JobContext) -> int:
    """Reservations not confirmed within their TTL give their uses, budget and value back. A
    transaction per batch: the campaigns' rows it locks, which every checkout's hold waits for, are
    held for one batch, not for all of them."""
    store, now, released, more = RedemptionStore(), ctx.clock.now(), 0, True
    while more:
        async with transaction(ctx.db) as conn:
            batch, more = await store.expire_batch(conn, now=now, limit=500)
        released += batch
    if released:
        log.info("released %d expired reservations", released)
    return released


@registry.cron(every_minutes=60, name="purge_rejected_redemptions")
async def purge_rejected_redemptions(ctx: JobContext) -> int:
    """Refused code attempts are evidence for a while, not history: drop them past their retention."""
    before = ctx.clock.now() - timedelta(days=max(1, ctx.settings.promotions_rejected_retention_days))
    async with transaction(ctx.db) as conn:
        purged = await RedemptionStore().purge_rejected(conn, before=before)
    if purged:
        log.info("purged %d rejected redemptions", purged)
    return purged


@registry.cron(every_minutes=1, name="expire_redemption_holds")
async def expire_redemption_holds(ctx: JobContext) -> int:
    """Two-step redemptions not confirmed within their hold: `expired`, their discounts given back."""
    expired = await expire_holds(ctx.db, ctx.clock)
    if expired:
        log.info("expired %d redemption holds", expired)
    return expired


@registry.cron(every_minutes=1, name="abandon_carts")
async def abandon_carts(ctx: JobContext) -> int:
    """Mark carts idle past their application's threshold abandoned and emit `cart.abandoned`
    (exactly once per abandonment; what a run's time budget leaves waits for the next minute)."""
    abandoned = await sweep(ctx.db, ctx.clock, ctx.settings.signing_key)
    CARTS_ABANDONED.inc(abandoned)
    if abandoned:
        log.info("marked %d carts abandoned", abandoned)
    return abandoned


@registry.cron(every_minutes=1, name="complete_erasures")
async def complete_erasures(ctx: JobContext) -> int:
    """Finish erasures left pending by a failure midway (a service that did not answer): each step
    redacts only what is still there, so finishing one again is safe."""
    module = ctx.services.get("cart")
    service = module.erasure if module is not None else ErasureService(
        ctx.db, ctx.clock, CustomerService(ctx.db, ctx.clock), *erasure_clients(ctx.settings, ctx.services))
    done = await service.complete_pending(ctx.clock.now() - timedelta(minutes=1))
    if done:
        log.info("completed %d pending erasures", done)
    return done
