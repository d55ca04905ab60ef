"""A stand-in for another process's liveness lock, for tests in one process: `another_process(runtime)`
gives the runtime's leases and claims the number of a process that the test then kills (its
liveness connection ends, as a kill -9 ends it) or lets live."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import asyncpg
from kassa_platform.liveness import Liveness, alive_numbers
from kassa_platform.runtime import Runtime


class OtherProcess:
    def __init__(self, runtime: Runtime) -> None:
        self.liveness = Liveness(runtime.settings.database_url, "test-process")
        self.runtime = runtime
        self._own = runtime.liveness.id

    @property
    def number(self) -> int:
        assert self.liveness.id is not None
        return self.liveness.id

    async def kill(self) -> None:
        """Its connection ends abruptly: the server lets its lock go, nothing else is cleaned up.
        Returns once the server has (its backend notices the closed socket within milliseconds)."""
        conn = self.liveness._conn
        assert conn is not None
        conn.terminate()
        self.liveness._conn = None
        probe = await asyncpg.connect(self.liveness.dsn, timeout=5)
        try:
            deadline = time.monotonic() + 5
            while self.number in await alive_numbers(probe):
                assert time.monotonic() < deadline, "the server never let the lock go"
                await asyncio.sleep(0.005)
        finally:
            await probe.close()

    def back_to_this_process(self) -> None:
        self.runtime.liveness.id = self._own


@contextlib.asynccontextmanager
async def another_process(runtime: Runtime) -> AsyncIterator[OtherProcess]:
    """While inside, what `runtime` claims carries the other process's number (PostgreSQL only)."""
    other = OtherProcess(runtime)
    await other.liveness._connect()
    runtime.liveness.id = other.number
    try:
        yield other
    finally:
        other.back_to_this_process()
        await other.liveness.stop()
