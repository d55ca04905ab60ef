"""The webhook service's parts, built once per process and shared by its handlers and jobs."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from kassa_platform.clock import Clock
from kassa_platform.db import Database
from kassa_platform.ids import new_id
from kassa_platform.jobs import JobContext, JobQueue
from kassa_platform.liveness import Liveness
from kassa_platform.runtime import Runtime
from kassa_platform.settings import Settings

from .config import WebhookConfig
from .delivery import Deliverer, reclaim_dead
from .endpoints import EndpointService
from .operations import Operations
from .relay import Relay

KEY = "webhooks"
RELAY_JOB = "webhooks_relay"
DELIVER_JOB = "webhooks_deliver"

log = logging.getLogger("kassa.webhooks")


@dataclass
class Coalescer:
    """At most one run of a loop per process; a hint during a run makes that run go round again.

    Hints arrive far more often than a run takes (one per outbox commit), and a second run beside
    the first would only compete with it for the same rows.
    """

    running: bool = False
    again: bool = False


@dataclass
class WebhookModule:
    db: Database
    clock: Clock
    config: WebhookConfig
    queue: JobQueue
    endpoints: EndpointService
    operations: Operations
    relay: Relay
    deliverer: Deliverer
    relay_loop: Coalescer = field(default_factory=Coalescer)
    deliver_loop: Coalescer = field(default_factory=Coalescer)

    async def hint(self, job: str, *, at: datetime | None = None) -> None:
        """Ask for a job to run (now, or at `at`). A hint that cannot be queued is only logged: the
        work is in PostgreSQL and the minute sweep picks it up."""
        try:
            if at is None:
                await self.queue.enqueue(job, job_id=new_id(job))
            else:
                # One deferred hint per second of due time, however many retries fall in it.
                second = int(at.timestamp()) + 1
                defer = max(timedelta(seconds=second) - timedelta(seconds=self.clock.now().timestamp()), timedelta())
                await self.queue.enqueue(job, job_id=f"{job}:at:{second}", defer=defer)
        except Exception as exc:  # noqa: BLE001 - Redis down: correctness does not depend on it
            log.warning("could not queue %s (%s); the sweep will pick the work up", job, type(exc).__name__)


def build_module(db: Database, clock: Clock, settings: Settings, queue: JobQueue,
                 liveness: Liveness | None = None) -> WebhookModule:
    config = WebhookConfig.from_settings(settings)
    module: WebhookModule

    async def retry_at(when: datetime) -> None:
        await module.hint(DELIVER_JOB, at=when)

    module = WebhookModule(db=db, clock=clock, config=config, queue=queue, endpoints=EndpointService(config),
                           operations=Operations(), relay=Relay(db, clock, config.relay_batch),
                           deliverer=Deliverer(db, clock, config, on_retry_scheduled=retry_at, liveness=liveness))
    return module


def module_of(runtime: Runtime) -> WebhookModule:
    module = runtime.services.get(KEY)
    if module is None:
        module = runtime.services[KEY] = build_module(runtime.db, runtime.clock, runtime.settings, runtime.queue,
                                                      runtime.liveness)
    return module


def module_of_context(ctx: JobContext) -> WebhookModule:
    module = ctx.services.get(KEY)
    if module is None:
        module = ctx.services[KEY] = build_module(ctx.db, ctx.clock, ctx.settings, ctx.queue, ctx.liveness)
    return module


def reaper(module: WebhookModule):  # type: ignore[no-untyped-def]
    """What a dead process leaves to this service: its deliveries in flight, due again at once."""

    async def reap() -> None:
        reclaimed = await reclaim_dead(module.db, module.clock)
        if reclaimed:
            log.info("%d deliveries of a dead process are due again", reclaimed)
            await module.hint(DELIVER_JOB)

    return reap
