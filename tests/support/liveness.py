"""A stand-in for another process's liveness lock, for tests in one process: `another_process(runtime)`
gives the runtime's leases and claims the number of a process that the test then kills (its
liveness connection ends, as a kill -9 ends it) or lets live."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from kassa_platform.liveness import Liveness
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
        """Its connection ends abruptly: the server lets its lock go, nothing else is cleaned up."""
        conn = self.liveness._conn
        assert conn is not None
        conn.terminate()
        self.liveness._conn = None

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
