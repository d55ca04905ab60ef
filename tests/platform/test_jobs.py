"""One job interface, two runners: the same job function in-process and on arq (Redis)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa
from arq.worker import Worker
from kassa_platform.columns import new_metadata
from kassa_platform.db import transaction
from kassa_platform.jobs import (
    ArqQueue,
    InProcessRunner,
    JobContext,
    JobRegistry,
    arq_worker_settings,
)
from kassa_platform.runtime import Runtime
from kassa_platform.settings import Settings
from sqlalchemy.exc import IntegrityError

from tests.conftest import REDIS_PREFIX, Backend

# A job that records what it did in the database, idempotently (a re-run changes nothing).
marks = sa.Table("test_job_marks", new_metadata(), sa.Column("key", sa.String(80), primary_key=True),
                 sa.Column("runs", sa.Integer(), nullable=False))
registry = JobRegistry()


@registry.job(name="mark")
async def mark(ctx: JobContext, key: str) -> None:
    try:
        async with transaction(ctx.db) as conn:
            await conn.execute(sa.insert(marks).values(key=key, runs=1))
    except IntegrityError:
        pass  # done already (perhaps by a concurrent run): nothing more to do


@registry.cron(every_minutes=5, name="tick")
async def tick(ctx: JobContext) -> str:
    return "ticked"


async def _ensure_table(backend: Backend) -> None:
    async with backend.runtime.engine.begin() as conn:
        await conn.run_sync(lambda c: marks.create(c, checkfirst=True))


async def _marked(backend: Backend, key: str) -> int | None:
    async with backend.runtime.db() as conn:
        return (await conn.execute(sa.select(marks.c.runs).where(marks.c.key == key))).scalar_one_or_none()


async def test_in_process_runner_runs_jobs_and_crons(backend: Backend) -> None:
    await _ensure_table(backend)
    runner = InProcessRunner(registry, lambda r: backend.runtime.job_context(r))
    key = uuid.uuid4().hex
    await runner.enqueue("mark", key, job_id=f"mark:{key}")
    await runner.enqueue("mark", key, job_id=f"mark:{key}")  # deduplicated while queued
    await runner.enqueue("mark", key)  # and idempotent when it does run twice
    await runner.drain()
    assert await _marked(backend, key) == 1
    assert await runner.run_cron("tick") == "ticked"


async def test_arq_runs_the_same_job_function(pg_backend: Backend, redis_url: str) -> None:
    await _ensure_table(pg_backend)
    queue = ArqQueue(redis_url, REDIS_PREFIX)
    key = uuid.uuid4().hex
    await queue.enqueue("mark", key, job_id=f"mark:{key}:1")
    await queue.enqueue("mark", key, job_id=f"mark:{key}:1")  # arq refuses a duplicate id
    await queue.enqueue("mark", key, job_id=f"mark:{key}:2", defer=timedelta(seconds=0))
    await queue.close()

    async def make_context() -> JobContext:
        return pg_backend.runtime.job_context()

    async def close_context(_: JobContext) -> None:
        return None

    worker = Worker(**{**arq_worker_settings(registry, make_context, close_context, redis_url, REDIS_PREFIX,
                                           burst=True),
                       # Without the crons: one due at the minute the worker runs would count as a job.
                       "poll_delay": 0, "cron_jobs": []})
    await worker.main()
    assert worker.jobs_complete == 2 and worker.jobs_failed == 0
    await worker.close()
    assert await _marked(pg_backend, key) == 1


async def test_runtime_picks_arq_when_redis_is_configured(pg_url: str, redis_url: str) -> None:
    runtime = Runtime(Settings.from_env(database_url=pg_url, redis_url=redis_url), registry)
    try:
        assert runtime.runner is None and isinstance(runtime.queue, ArqQueue)
        assert await runtime.check_ready() == {"database": "ok", "redis": "ok"}
    finally:
        await runtime.close()
    broken = Runtime(Settings.from_env(database_url=pg_url, redis_url="redis://127.0.0.1:1"), registry)
    try:
        checks = await broken.check_ready()
        assert checks["database"] == "ok" and checks["redis"].startswith("error")
    finally:
        await broken.close()
