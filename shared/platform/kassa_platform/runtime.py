"""The per-process resources a service needs: settings, engine, db, clock, auth, jobs.

Built once per process (one engine, one pool) and shared by every service app in it: in
embedded mode the three apps share one runtime; distributed, each process has its own.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from .auth import KeyResolver, SessionResolver
from .clock import Clock
from .cors import BrowserOrigins
from .db import Database, create_engine
from .idempotency import IdempotencyStore
from .jobs import ArqQueue, InProcessRunner, JobContext, JobQueue, JobRegistry
from .key_watch import KeyWatch
from .liveness import Liveness
from .ratelimit import Limits, RateLimiter
from .settings import Settings


class Runtime:
    def __init__(self, settings: Settings, registry: JobRegistry, *, clock: Clock | None = None,
                 engine: AsyncEngine | None = None, kind: str = "process") -> None:
        self.settings = settings
        self.clock = clock or Clock()
        # SQLite writes serialize anyway (BEGIN IMMEDIATE); a few connections let reads wait less.
        self.engine = engine or create_engine(
            settings.database_url, pool_size=4 if settings.is_sqlite else settings.db_pool_size
        )
        self.db: Database = Database(self.engine, direct_pool_size=settings.db_pool_size)
        self.keys = KeyResolver(self.db, settings.api_key_cache_seconds, self.clock)
        # Signed-in users' sessions (docs/team.md), kept true by the same watch as the keys.
        self.sessions = SessionResolver(self.db, settings.api_key_cache_seconds, self.clock,
                                        idle_seconds=settings.session_idle_minutes * 60)
        self.key_watch = KeyWatch(self.keys, self.db, settings.database_url, self.sessions)
        # This process's liveness lock (PostgreSQL): the number its leases and claims carry.
        self.liveness = Liveness(settings.database_url, kind)
        self.limiter = RateLimiter(Limits.from_values(settings.rate_limits), self.clock.timestamp, settings.redis_url,
                                   settings.redis_prefix)
        self.idempotency = IdempotencyStore(self.db, self.clock, settings.idempotency_ttl_hours, self.liveness)
        self.registry = registry
        self.services: dict[str, Any] = {}
        # Figures a service reads from the database when /metrics is scraped (kassa_platform.metrics).
        self.metric_sources: list[Any] = []
        self.origins = BrowserOrigins(settings, self.services)  # browsers' allowed origins per application
        self.arq: ArqQueue | None = ArqQueue(settings.redis_url, settings.redis_prefix) if settings.redis_url else None
        self.runner: InProcessRunner | None = None if self.arq else InProcessRunner(registry, self.job_context)
        self.queue: JobQueue = self.arq or self.runner  # type: ignore[assignment]
        self._started = False

    def job_context(self, queue: JobQueue | None = None) -> JobContext:
        return JobContext(settings=self.settings, db=self.db, clock=self.clock,
                          queue=queue or self.queue, services=self.services, liveness=self.liveness)

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        await self.liveness.start()
        self.key_watch.start()
        if self.runner is not None:
            self.runner.start()

    async def close(self) -> None:
        if self.runner is not None:
            await self.runner.stop()
        await self.key_watch.stop()
        await self.liveness.stop()
        await self.limiter.close()
        if self.arq is not None:
            await self.arq.close()
        await self.origins.close()
        await self.db.close()  # the direct pool, then the engine
        self._started = False

    async def check_ready(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            async with self.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - readiness reports, it does not raise
            checks["database"] = f"error: {type(exc).__name__}"
        if self.arq is not None:
            try:
                await self.arq.ping()
                checks["redis"] = "ok"
            except Exception as exc:  # noqa: BLE001
                checks["redis"] = f"error: {type(exc).__name__}"
        return checks
