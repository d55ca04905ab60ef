"""A worker's HTTP side: `/healthz`, `/readyz` and `/metrics` on a port of its own.

`kassa worker` has no API, but an orchestrator needs its health and Prometheus needs its figures
(deliveries, job runs, the sweep happen in the workers). The same handlers as the services',
served by uvicorn inside the worker's event loop; the worker (arq) keeps its signal handling.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from kassa_platform.app import RUNTIME_KEY, healthz, metrics, readyz
from kassa_platform.errors import EXCEPTION_HANDLERS
from kassa_platform.runtime import Runtime
from kassa_platform.security_headers import security_headers
from litestar import Litestar
from litestar.datastructures import State


def ops_app(runtime: Runtime) -> Litestar:
    return Litestar(route_handlers=[healthz, readyz, metrics], state=State({RUNTIME_KEY: runtime}),
                    before_send=[security_headers],
                    exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
                    openapi_config=None, logging_config=None)


class _Quiet(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the worker's own handlers stay: it stops this server on its way out


class OpsServer:
    """Bound when made (a port in use fails the command at once), served from `start()`."""

    def __init__(self, host: str, port: int) -> None:
        self.socket = socket.create_server((host, port), reuse_port=False)
        self._server: _Quiet | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self, runtime: Runtime) -> None:
        config = uvicorn.Config(ops_app(runtime), lifespan="off", access_log=False, log_config=None,
                                server_header=False)
        self._server = _Quiet(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[self.socket]), name="kassa-ops-server")

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
