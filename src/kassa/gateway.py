"""The embedded mode's path router: every service app behind one port, one base URL.

Distributed deployments put the real gateway (nginx, deploy/nginx/kassa.conf.template) in front
of the service processes; this router gives the same URL layout in one process, so clients cannot
tell the two modes apart (tests/e2e/test_gateway_config.py holds the gateway to the same prefixes).
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Generic, TypeVar

import msgspec
from kassa_contract.errors import ErrorBody, ErrorEnvelope
from kassa_platform.ids import new_id
from kassa_platform.security_headers import ALWAYS
from litestar import Litestar
from litestar.types import Receive, Scope, Send

T = TypeVar("T")


class PrefixRoutes(Generic[T]):
    """Path prefixes to targets, the longest prefix winning."""

    def __init__(self, routes: list[tuple[tuple[str, ...], T]]) -> None:
        self.routes = sorted(((p, target) for prefixes, target in routes for p in prefixes), key=lambda r: -len(r[0]))

    def match(self, path: str) -> T | None:
        for prefix, target in self.routes:
            if path == prefix or path.startswith(prefix + "/"):
                return target
        return None


class PathRouter:
    def __init__(self, routes: list[tuple[tuple[str, ...], Litestar]], default: Litestar) -> None:
        # Each app's OpenAPI document (`/schema/<service>`) is served by that app.
        docs = [((app.openapi_config.path,), app) for _, app in routes if app.openapi_config is not None]
        self.table = PrefixRoutes([*routes, *docs])
        self.default = default
        self.apps = list(dict.fromkeys([app for _, app in routes] + [default]))

    def app_for(self, path: str) -> Litestar | None:
        app = self.table.match(path)
        if app is not None:
            return app
        if path in ("/healthz", "/readyz", "/metrics") or path.startswith("/schema"):
            return self.default
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        app = self.app_for(scope["path"])
        if app is None:
            request_id = new_id("req")
            body = msgspec.json.encode(ErrorEnvelope(
                error=ErrorBody(code="route_not_found", message=f"No route {scope.get('method', '')} {scope['path']}"),
                request_id=request_id))
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-type", b"application/json"), (b"x-request-id", request_id.encode()),
                                    *ALWAYS]})
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """Enter every app's lifespan on startup and leave them all on shutdown."""
        message = await receive()
        if message["type"] != "lifespan.startup":
            return
        async with AsyncExitStack() as stack:
            try:
                for app in self.apps:
                    await stack.enter_async_context(app.lifespan())
            except Exception as exc:  # noqa: BLE001 - reported to the server, which exits
                await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                return
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
        await send({"type": "lifespan.shutdown.complete"})
