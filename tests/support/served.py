"""Kassa and other ASGI apps over real HTTP on loopback, inside the test's event loop."""

from __future__ import annotations

import asyncio
import socket
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from kassa_platform.migrate import migrate
from kassa_platform.settings import Settings

from kassa.gateway import PathRouter
from kassa.services import SERVICES, build_runtime, components
from tests.conftest import Backend, StatementCounter, TestClock, fresh_database


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


class LoopbackServer:
    """uvicorn serving an ASGI app on already-bound sockets, as a task of this event loop (so the
    app can share the tests' database pools)."""

    def __init__(self, app: Any, sockets: list[socket.socket]) -> None:
        self.sockets = sockets
        self.server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_config=None, access_log=False,
                                                    timeout_graceful_shutdown=1))
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve(sockets=self.sockets))
        while not self.server.started:
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.01)  # uvicorn sets `started` from its own task: nothing else to wait on

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task


@dataclass
class KassaWeb:
    """Kassa over real HTTP at `origin`; `backend` reaches the same apps over ASGI for setup."""

    origin: str
    backend: Backend


@asynccontextmanager
async def _sqlite_database(name: str) -> AsyncIterator[str]:
    yield f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp(prefix='kassa-served-')) / (name + '.db')}"


@asynccontextmanager
async def serve_kassa(database: str, *, sqlite: bool = False, **settings: Any) -> AsyncIterator[KassaWeb]:
    """Kassa over real HTTP on a fresh database `database` (PostgreSQL, or a SQLite file: the embedded
    mode); `settings` override Settings (rate_limits, …)."""
    async with (_sqlite_database(database) if sqlite else fresh_database(database)) as url:
        await migrate(url, components())
        sock = listening_socket()
        origin = f"http://127.0.0.1:{sock.getsockname()[1]}"
        clock = TestClock()
        settings = {"webhooks_allow_private_networks": "all", "shopper_auth_allow_private_networks": True, **settings}
        config = Settings.from_env(database_url=url, redis_url=None, public_base_url=origin,
                                   data_dir=Path(tempfile.mkdtemp(prefix="kassa-browser-")), db_pool_size=5, **settings)
        runtime = build_runtime(config, clock=clock)
        apps = [(d.path_prefixes, d.create_app(runtime, owns_runtime=False)) for d in SERVICES.values()]
        router = PathRouter(apps, default=apps[0][1])
        server = LoopbackServer(router, [sock])
        await runtime.start()  # in-process jobs, as `kassa serve` runs them: webhooks go out on their own
        await server.start()
        counter = StatementCounter()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=router), base_url=origin) as client:
            try:
                yield KassaWeb(origin, Backend("browser", runtime, client, clock, counter))
            finally:
                await server.stop()
                await runtime.close()
