"""Process liveness (kassa_platform.liveness): a lock per process, gone the moment its connection is."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import sqlalchemy as sa
from kassa_platform.liveness import Liveness, alive_numbers, owner_dead
from kassa_platform.tables import idempotency_keys
from prometheus_client import REGISTRY

from tests.conftest import Backend


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def test_a_process_is_alive_while_its_connection_lives_and_dead_at_once_after(pg_backend: Backend) -> None:
    url = pg_backend.runtime.settings.database_url
    watcher, victim = Liveness(url, "watcher"), Liveness(url, "victim")
    reaped = asyncio.Event()

    async def reaper() -> None:
        reaped.set()

    watcher.watch("test", reaper)
    await victim.start()
    await watcher.start()
    conn = await asyncpg.connect(_dsn(url))
    try:
        assert victim.id is not None and watcher.id is not None and victim.id != watcher.id
        assert {victim.id, watcher.id} <= await alive_numbers(conn)
        # The SQL test leases use: a live owner's lease is not over, a dead one's is, no owner is never.
        dead = sa.select(owner_dead(sa.literal(victim.id, sa.Integer())))
        compiled = str(dead.compile(dialect=pg_backend.runtime.engine.dialect, compile_kwargs={"literal_binds": True}))
        assert await conn.fetchval(compiled) is False
        deadline = time.monotonic() + 5
        while victim.id not in watcher.alive:  # the watcher's first look
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        reaped.clear()
        victim._task.cancel()  # its own watch would reconnect it under a new number
        killed_at = time.monotonic()
        victim._conn.terminate()  # as a kill -9 ends it: no unlock, no goodbye
        await asyncio.wait_for(reaped.wait(), 5)
        assert time.monotonic() - killed_at < 2.5  # the watch looks once a second
        assert victim.id not in await alive_numbers(conn)
        assert await conn.fetchval(compiled) is True
        assert REGISTRY.get_sample_value("kassa_processes_gone_total") >= 1
        null_owner = str(sa.select(owner_dead(sa.null())).compile(dialect=pg_backend.runtime.engine.dialect))
        assert await conn.fetchval(null_owner) is False
    finally:
        await conn.close()
        await victim.stop()
        await watcher.stop()


async def test_a_reconnected_process_takes_a_new_number(pg_backend: Backend) -> None:
    """Its old number is dead to the others, who may have taken over what it held: never reused."""
    live = Liveness(pg_backend.runtime.settings.database_url, "blip")
    await live.start()
    try:
        first = live.id
        live._conn.terminate()
        deadline = time.monotonic() + 5
        while live.id == first:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert live.id is not None and live.id > first
    finally:
        await live.stop()


async def test_sqlite_has_no_liveness_machinery(sqlite_backend: Backend) -> None:
    live = sqlite_backend.runtime.liveness
    await live.start()
    assert live.id is None and not live.enabled
    async with sqlite_backend.runtime.db() as conn:  # owner_dead is plain false there
        assert (await conn.execute(sa.select(sa.func.count()).select_from(idempotency_keys)
                                   .where(owner_dead(idempotency_keys.c.owner)))).scalar_one() == 0
    await live.stop()
