"""`kassa gateway`: the distributed mode's one base URL, a reverse proxy in front of the services.

It routes by path prefix exactly like the embedded path router, to the service processes named
by `KASSA_<SERVICE>_URL`, so clients cannot tell the two modes apart. `/internal/…` is never
forwarded: service-to-service endpoints are reached on the services' own addresses only.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import msgspec
from kassa_contract.errors import ErrorBody, ErrorEnvelope
from kassa_platform.ids import new_id
from litestar.types import Receive, Scope, Send

from .gateway import PrefixRoutes

# Hop-by-hop headers (RFC 9110, 7.6.1) are the proxy's business, never forwarded.
HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te",
                        b"trailer", b"transfer-encoding", b"upgrade", b"host", b"content-length"})


class GatewayProxy:
    def __init__(self, upstreams: dict[str, tuple[tuple[str, ...], str]], *, timeout: float = 30.0) -> None:
        """`upstreams`: service name -> (its path prefixes, its base URL)."""
        self.table = PrefixRoutes([*upstreams.values(),
                                   *(((f"/schema/{name}",), url) for name, (_, url) in upstreams.items())])
        self.upstreams = upstreams
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=5.0), follow_redirects=False,
                                        limits=httpx.Limits(max_connections=500, max_keepalive_connections=100))

    def upstream_for(self, path: str) -> str | None:
        if path.startswith("/internal/") or path == "/internal":
            return None
        return self.table.match(path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await self.client.aclose()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        request_id = _request_id(scope)
        path = scope["path"]
        if path == "/healthz":
            await _json(send, 200, {"status": "ok"}, request_id)
            return
        if path == "/readyz":
            await self._ready(send, request_id)
            return
        upstream = self.upstream_for(path)
        if upstream is None:
            await _error(send, 404, "route_not_found", f"No route {scope['method']} {path}", request_id)
            return
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(k, v) for k, v in scope["headers"] if k not in HOP_BY_HOP and k != b"x-request-id"]
        headers.append((b"x-request-id", request_id.encode()))
        query = scope.get("query_string", b"").decode("latin-1")
        url = upstream + path + (f"?{query}" if query else "")
        try:
            response = await self.client.request(scope["method"], url, content=bytes(body), headers=headers)
        except httpx.HTTPError as exc:
            await _error(send, 503, "service_unavailable", f"The service behind {path} did not answer "
                         f"({type(exc).__name__}); try again shortly", request_id)
            return
        out = [(k.lower(), v) for k, v in response.headers.raw if k.lower() not in HOP_BY_HOP]
        await send({"type": "http.response.start", "status": response.status_code, "headers": out})
        await send({"type": "http.response.body", "body": response.content})

    async def _ready(self, send: Send, request_id: str) -> None:
        async def check(url: str) -> str:
            try:
                answer = await self.client.get(url + "/readyz", timeout=3.0)
            except httpx.HTTPError as exc:
                return f"error: {type(exc).__name__}"
            return "ok" if answer.status_code == 200 else f"error: HTTP {answer.status_code}"

        names = list(self.upstreams)
        results = await asyncio.gather(*(check(self.upstreams[n][1]) for n in names))
        checks = dict(zip(names, results, strict=True))
        ok = all(v == "ok" for v in checks.values())
        await _json(send, 200 if ok else 503, {"status": "ok" if ok else "unavailable", "checks": checks}, request_id)


def _request_id(scope: Scope) -> str:
    for key, value in scope["headers"]:
        if key == b"x-request-id" and 0 < len(value) <= 100:
            return value.decode("latin-1")
    return new_id("req")


async def _json(send: Send, status: int, payload: Any, request_id: str) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"x-request-id", request_id.encode())]})
    await send({"type": "http.response.body", "body": msgspec.json.encode(payload)})


async def _error(send: Send, status: int, code: str, message: str, request_id: str) -> None:
    await _json(send, status, ErrorEnvelope(error=ErrorBody(code=code, message=message), request_id=request_id),
                request_id)
