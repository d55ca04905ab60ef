"""Background jobs behind one small interface.

A service declares its jobs in a `JobRegistry`. The same job functions run under either runner:
`InProcessRunner` (embedded mode: asyncio tasks and a minute ticker in the server process) or
arq on Redis (distributed mode: `kassa worker`). Jobs run at least once, so every job must be
idempotent; PostgreSQL, not Redis, holds the state a job works on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol, cast

from . import executed
from .clock import Clock
from .db import Database
from .metrics import job_run
from .settings import Settings

log = logging.getLogger("kassa.jobs")


@dataclass
class JobContext:
    settings: Settings
    db: Database
    clock: Clock
    queue: "JobQueue"
    services: dict[str, Any] = field(default_factory=dict)
    # This process's liveness (kassa_platform.liveness.Liveness): the number its leases carry.
    liveness: Any = None


JobFunc = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class JobSpec:
    name: str
    func: JobFunc
    timeout_seconds: int = 60
    max_tries: int = 5


@dataclass(frozen=True)
class CronSpec:
    name: str
    func: JobFunc
    every_minutes: int = 1
    timeout_seconds: int = 60


class JobRegistry:
    def __init__(self) -> None:
        self.jobs: dict[str, JobSpec] = {}
        self.crons: dict[str, CronSpec] = {}

    def job(self, *, name: str | None = None, timeout_seconds: int = 60, max_tries: int = 5) -> Callable[[JobFunc], JobFunc]:
        def register(func: JobFunc) -> JobFunc:
            spec = JobSpec(name or func.__name__, func, timeout_seconds, max_tries)
            self.jobs[spec.name] = spec
            return func

        return register

    def cron(self, *, every_minutes: int = 1, name: str | None = None, timeout_seconds: int = 60) -> Callable[[JobFunc], JobFunc]:
        if not 1 <= every_minutes <= 60 or 60 % every_minutes:
            raise ValueError("every_minutes must divide 60")

        def register(func: JobFunc) -> JobFunc:
            spec = CronSpec(name or func.__name__, func, every_minutes, timeout_seconds)
            self.crons[spec.name] = spec
            return func

        return register

    def merge(self, *others: "JobRegistry") -> "JobRegistry":
        merged = JobRegistry()
        for reg in (self, *others):
            merged.jobs.update(reg.jobs)
            merged.crons.update(reg.crons)
        return merged


class JobQueue(Protocol):
    async def enqueue(self, name: str, *args: Any, job_id: str | None = None, defer: timedelta | None = None) -> None: ...


class InProcessRunner:
    """Runs jobs as asyncio tasks in this process; cron jobs on a minute ticker."""

    def __init__(self, registry: JobRegistry, context_factory: Callable[["InProcessRunner"], JobContext]) -> None:
        self.registry = registry
        self.context = context_factory(self)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._running_ids: set[str] = set()
        self._ticker: asyncio.Task[None] | None = None

    async def enqueue(self, name: str, *args: Any, job_id: str | None = None, defer: timedelta | None = None) -> None:
        spec = self.registry.jobs.get(name)
        if spec is None:
            raise LookupError(f"no job named {name}")
        if job_id is not None:
            if job_id in self._running_ids:
                return
            self._running_ids.add(job_id)
        task = asyncio.create_task(self._run(spec, args, job_id, defer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, spec: JobSpec, args: tuple[Any, ...], job_id: str | None, defer: timedelta | None) -> None:
        # The task copied the context of whatever enqueued it: a job's commits are no request's change.
        executed.current.set(None)
        try:
            if defer:
                await asyncio.sleep(defer.total_seconds())
            for attempt in range(1, spec.max_tries + 1):
                try:
                    async with job_run(spec.name):
                        await asyncio.wait_for(spec.func(self.context, *args), spec.timeout_seconds)
                    return
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("job %s failed (try %d of %d)", spec.name, attempt, spec.max_tries,
                                  extra={"job": spec.name})
                    if attempt < spec.max_tries:
                        await asyncio.sleep(min(2**attempt, 30))
        finally:
            if job_id is not None:
                self._running_ids.discard(job_id)

    async def run_cron(self, name: str) -> Any:
        """Run one cron job now, in the caller's task (tests and the ticker use this)."""
        spec = self.registry.crons[name]
        async with job_run(name):
            return await asyncio.wait_for(spec.func(self.context), spec.timeout_seconds)

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        minute = 0
        while True:
            await asyncio.sleep(60 - (loop.time() % 60))
            minute += 1
            for spec in self.registry.crons.values():
                if minute % spec.every_minutes == 0:
                    try:
                        await self.run_cron(spec.name)
                    except Exception:
                        log.exception("cron %s failed", spec.name, extra={"job": spec.name})

    def start(self) -> None:
        if self._ticker is None and self.registry.crons:
            self._ticker = asyncio.create_task(self._tick())

    async def drain(self) -> None:
        """Wait until every queued job has finished (tests; graceful shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        if self._ticker:
            self._ticker.cancel()
            self._ticker = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)


def arq_queue_name(redis_prefix: str) -> str:
    """The deployment's arq queue: one per prefix, so two deployments on one Redis never take each
    other's jobs."""
    return f"{redis_prefix}:queue"


class ArqQueue:
    """Enqueue onto arq (Redis). Each attempt gets its own job id: arq keeps results per id."""

    def __init__(self, redis_url: str, redis_prefix: str) -> None:
        self.redis_url = redis_url
        self.queue_name = arq_queue_name(redis_prefix)
        self._pool: Any = None

    async def connect(self) -> None:
        from arq import create_pool
        from arq.connections import RedisSettings

        if self._pool is None:
            settings = RedisSettings.from_dsn(self.redis_url)
            settings.conn_retries, settings.conn_timeout = 1, 2  # fail fast: readiness and callers report it
            self._pool = await create_pool(settings, default_queue_name=self.queue_name)

    async def enqueue(self, name: str, *args: Any, job_id: str | None = None, defer: timedelta | None = None) -> None:
        await self.connect()
        await self._pool.enqueue_job(name, *args, _job_id=job_id, _defer_by=defer)

    async def ping(self) -> bool:
        await self.connect()
        return bool(await self._pool.ping())

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None


def arq_worker_settings(registry: JobRegistry, make_context: Callable[[], Awaitable[JobContext]],
                        close_context: Callable[[JobContext], Awaitable[None]], redis_url: str,
                        redis_prefix: str, *, burst: bool = False) -> dict[str, Any]:
    """Keyword arguments for `arq.Worker` running this registry's jobs and crons."""
    from arq import cron, func
    from arq.connections import RedisSettings

    def wrap(name: str, spec_func: JobFunc) -> JobFunc:
        async def call(ctx: dict[str, Any], *args: Any) -> Any:
            async with job_run(name):
                return await spec_func(ctx["kassa"], *args)

        call.__qualname__ = call.__name__ = spec_func.__name__
        return call

    async def on_startup(ctx: dict[str, Any]) -> None:
        ctx["kassa"] = await make_context()

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        if "kassa" in ctx:
            await close_context(ctx["kassa"])

    return {
        "functions": [func(cast(Any, wrap(s.name, s.func)), name=s.name, timeout=s.timeout_seconds, max_tries=s.max_tries)
                      for s in registry.jobs.values()],
        "cron_jobs": [cron(cast(Any, wrap(c.name, c.func)), name=c.name, minute=set(range(0, 60, c.every_minutes)), second=0,
                           timeout=c.timeout_seconds, unique=True, run_at_startup=False)
                      for c in registry.crons.values()],
        "redis_settings": RedisSettings.from_dsn(redis_url),
        "queue_name": arq_queue_name(redis_prefix),
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "burst": burst,
        "poll_delay": 0.2,
        "keep_result": 60,
        "handle_signals": not burst,
    }
