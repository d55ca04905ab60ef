"""Calls from one Kassa service to another, the same way in both run modes.

Embedded, the other service's app lives in this process and is called as an ASGI app (the same
request its HTTP server would hand it, without building httpx's request and response objects);
distributed, `KASSA_<SERVICE>_URL` names where it answers and the call goes over the network.
Either way the call carries the deployment's service token and the application it acts for,
has a timeout, and is retried a bounded number of times when the other side is down or fails
(5xx): every internal endpoint is idempotent, so a retry never does the work twice.
"""

from __future__ import annotations

import asyncio
import random
import ssl
from collections.abc import Callable
from typing import Any

import httpx
import msgspec
from kassa_contract.errors import ERROR_STATUS, KassaError

from .settings import Settings

IDLE_CONNECTIONS = 64  # keep-alive connections kept per service beyond the calls in flight
APP_KEY_PREFIX = "app:"  # runtime.services[f"app:{name}"]: a service app built in this process
_decoder = msgspec.json.Decoder()
_typed_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}


def _typed_decoder(type_: Any) -> msgspec.json.Decoder[Any]:
    decoder = _typed_decoders.get(type_)
    if decoder is None:
        decoder = _typed_decoders[type_] = msgspec.json.Decoder(type_)
    return decoder


class ServiceUnavailable(KassaError):
    def __init__(self, service: str, reason: str) -> None:
        super().__init__("service_unavailable", f"The {service} service did not answer ({reason}); try again shortly",
                         headers={"Retry-After": "1"})
        self.service = service


class ServiceClient:
    def __init__(self, name: str, settings: Settings, services: dict[str, Any], *, timeout: float = 5.0,
                 attempts: int = 3, backoff: float = 0.05) -> None:
        self.name = name
        self._settings = settings
        self._services = services  # the runtime's registry, read at call time: apps may be built later
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 2.0))
        self.attempts = attempts
        self.backoff = backoff
        self._client: httpx.AsyncClient | None = None
        # Over the network: clients of one keep-alive connection each, leased one per call (httpcore's
        # pool re-examines every connection on every request: with 64 calls in flight it cost more
        # CPU than the call). The TLS context is built once, not per client.
        self._idle: list[httpx.AsyncClient] = []
        self._tls: ssl.SSLContext | None = None
        # Called with (method, path) before each request goes out (tests and the bench count calls with it).
        self.listeners: list[Callable[[str, str], None]] = []

    def _in_process(self) -> Any:
        """The other service's app when it runs in this process and no URL sends the call elsewhere;
        an httpx client set on `_client` takes over (tests put failing transports there)."""
        if self._client is not None or self._settings.service_urls.get(self.name):
            return None
        return self._services.get(APP_KEY_PREFIX + self.name)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            url = self._settings.service_urls.get(self.name)
            if url:
                transport: httpx.AsyncBaseTransport = httpx.AsyncHTTPTransport(
                    limits=httpx.Limits(max_connections=100, max_keepalive_connections=50))
            else:
                app = self._services.get(APP_KEY_PREFIX + self.name)
                if app is None:
                    raise ServiceUnavailable(self.name, f"not in this process and KASSA_{self.name.upper()}_URL is unset")
                transport = httpx.ASGITransport(app=app)
                url = "http://kassa.internal"
            self._client = httpx.AsyncClient(transport=transport, base_url=url, timeout=self._timeout)
        return self._client

    async def call(self, method: str, path: str, *, app_id: str, json: Any = None, into: Any = None) -> Any:
        """The decoded JSON answer (decoded straight into the type `into` where given); a 4xx of the other
        service raised as the same KassaError."""
        body = None if json is None else msgspec.json.encode(json)
        headers = {"Authorization": f"Service {self._settings.service_token}", "X-Kassa-Application": app_id,
                   "Content-Type": "application/json"}
        app = self._in_process()
        last = ""
        for attempt in range(self.attempts):
            if attempt:
                await asyncio.sleep(self.backoff * (3 ** (attempt - 1)) * (0.5 + random.random()))  # noqa: S311
            for listener in self.listeners:
                listener(method, path)
            try:
                if app is not None:
                    status, content = await asgi_request(app, method, path, body, headers)
                else:
                    status, content = await self._over_http(method, path, body, headers)
            except (httpx.TransportError, OSError) as exc:
                last = type(exc).__name__
                continue
            if status >= 500:
                last = f"HTTP {status}"
                continue
            if into is not None and status < 400:
                return _typed_decoder(into).decode(content)
            payload = _decoder.decode(content) if content else None
            if status >= 400:
                raise _error_of(payload, status)
            return payload
        raise ServiceUnavailable(self.name, last)

    async def _over_http(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
        url = self._settings.service_urls.get(self.name)
        if self._client is not None or not url:
            response = await self._http().request(method, path, content=body, headers=headers)
            return response.status_code, response.content
        if self._idle:
            client = self._idle.pop()
        else:
            self._tls = self._tls or ssl.create_default_context()
            client = httpx.AsyncClient(base_url=url, timeout=self._timeout, verify=self._tls,
                                       limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))
        try:
            response = await client.request(method, path, content=body, headers=headers)
        except BaseException:
            await client.aclose()
            raise
        if len(self._idle) < IDLE_CONNECTIONS:
            self._idle.append(client)
        else:
            await client.aclose()
        return response.status_code, response.content

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            await client.aclose()
        if self._client is not None:
            await self._client.aclose()
            self._client = None


async def asgi_request(app: Any, method: str, path: str, body: bytes | None,
                       headers: dict[str, str]) -> tuple[int, bytes]:
    """One HTTP request to an ASGI app in this process: (status, body). As with httpx's
    ASGITransport, an exception the app raises reaches the caller."""
    path, _, query = path.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
             "query_string": query.encode(), "client": ("127.0.0.1", 0), "server": ("kassa.internal", 80),
             "headers": [(b"host", b"kassa.internal"), (b"content-length", str(len(body or b"")).encode()),
                         *((k.lower().encode(), v.encode("latin-1")) for k, v in headers.items())]}
    request = [{"type": "http.request", "body": body or b"", "more_body": False}]
    status = 500
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return request.pop() if request else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


def _error_of(payload: Any, status: int) -> KassaError:
    error = (payload or {}).get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return KassaError("internal_error", f"Unexpected answer {status} from a Kassa service", status=500)
    code = str(error.get("code", "internal_error"))
    return KassaError(code, str(error.get("message", "")), field=error.get("field"), details=error.get("details"),
                      status=status if ERROR_STATUS.get(code) != status else None)
