"""ASGI middleware: request ids and API-key authentication.

Plain ASGI (no per-request objects) because every request passes through both.
"""

from __future__ import annotations

import hmac
import logging
import re
import time

from kassa_contract.errors import KassaError
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from .auth import PRINCIPAL_KEY, KeyResolver, Principal, authorize, is_public
from .ids import new_id
from .logs import request_id_var

access_log = logging.getLogger("kassa.access")
SERVICE_APP_HEADER = b"x-kassa-application"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of a request header (ASGI names are lower case)."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


class RequestIdMiddleware:
    """Take the caller's `X-Request-Id` if it is sane, else make one; echo it on the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = header(scope, b"x-request-id")
        request_id = incoming if incoming and _VALID_REQUEST_ID.match(incoming) else new_id("req")
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status_holder: list[int] = []

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder.append(message["status"])
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "%s %s %s", scope["method"], scope["path"], status_holder[0] if status_holder else "-",
                    extra={"method": scope["method"], "path": scope["path"],
                           "status": status_holder[0] if status_holder else None,
                           "durationMs": round((time.perf_counter() - started) * 1000, 2)},
                )
            request_id_var.reset(token)


class AuthMiddleware:
    """Resolve `Authorization: Bearer <key>` into a Principal on the scope.

    Routes marked `opt={"public": True}` (health, docs) skip it. A missing or unknown key is a
    401; a key that may not call the route is a 403 (`auth.authorize`).
    """

    def __init__(self, app: ASGIApp, resolver: KeyResolver, service_token: str) -> None:
        self.app = app
        self.resolver = resolver
        self.service_token = service_token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        if scope["type"] != "http" or is_public(scope, handler):  # type: ignore[arg-type]
            await self.app(scope, receive, send)
            return
        raw = header(scope, b"authorization")
        if not raw:
            raise KassaError("unauthorized", "An API key is required: send `Authorization: Bearer <key>`")
        scheme, _, key = raw.partition(" ")
        if scheme.lower() == "service" and key.strip():
            principal = await self._service(scope, key.strip())
        elif scheme.lower() != "bearer" or not key.strip():
            raise KassaError("unauthorized", "Malformed Authorization header: expected `Bearer <key>`")
        else:
            principal = await self.resolver.resolve(key.strip())
        if principal is None:
            raise KassaError("unauthorized", "The API key is invalid or has been revoked")
        if handler is not None:
            authorize(principal, handler, scope["method"], scope["path"])
        scope[PRINCIPAL_KEY] = principal  # type: ignore[literal-required]
        await self.app(scope, receive, send)

    async def _service(self, scope: Scope, token: str) -> Principal | None:
        if not hmac.compare_digest(token.encode(), self.service_token):
            return None
        app_id = header(scope, SERVICE_APP_HEADER)
        if not app_id:
            raise KassaError("unauthorized", "A service call names its application in X-Kassa-Application")
        return await self.resolver.service(app_id)
