"""ASGI middleware: request ids and API-key authentication.

Plain ASGI (no per-request objects) because every request passes through both.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
from typing import cast

from kassa_contract.errors import KassaError
from litestar.enums import ScopeType
from litestar.handlers import BaseRouteHandler
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from . import audit
from .auth import (
    PAGE_KEY_PREFIX,
    PRINCIPAL_KEY,
    KeyResolver,
    Principal,
    SessionResolver,
    authorize,
    is_public,
    page_principal,
    session_cookie,
)
from .clock import Clock
from .ids import new_id
from .logs import request_id_var
from .ratelimit import RateLimiter, RouteClass

access_log = logging.getLogger("kassa.access")
SERVICE_APP_HEADER = b"x-kassa-application"
# A signed-in user's call names the application it acts on (docs/team.md).
SESSION_APP_HEADER = b"kassa-application"
CSRF_HEADER = b"x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
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
        if scope["type"] != ScopeType.HTTP:
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
    """Resolve `Authorization: Bearer <key>` into a Principal on the scope, and apply rate limits.

    Routes marked `opt={"public": True}` (health, docs) skip it. A missing or unknown key is a
    401; a key that may not call the route is a 403 (`auth.authorize`). A hosted checkout page's
    credential (`kcp_…`, `auth.page_principal`) is checked by its signature alone. A key this process does
    not hold as valid is looked up only if the client address has not used up its failed
    authentications (else 429). Then the key's buckets for the route class (`ratelimit`): 429 when
    empty, else the RateLimit headers on the response. Service-to-service calls are not limited.

    Without an Authorization header, a `kassa_session` cookie (a signed-in user, docs/team.md) stands
    for a key: the user's roles give the scopes on the application named by `Kassa-Application`, and
    the same `authorize` decides. A state-changing call with a session must carry the session's
    `X-CSRF-Token` (403 `csrf_token_invalid`): a cookie rides along on any site's form, the token
    does not.
    """

    def __init__(self, app: ASGIApp, resolver: KeyResolver, service_token: str, limiter: RateLimiter,
                 signing_key: str = "", clock: Clock | None = None, sessions: SessionResolver | None = None) -> None:
        self.app = app
        self.resolver = resolver
        self.sessions = sessions
        self.service_token = service_token.encode()
        self.limiter = limiter
        self.signing_key = signing_key
        self.clock = clock or Clock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        if scope["type"] != ScopeType.HTTP or is_public(scope, handler):  # type: ignore[arg-type]
            await self.app(scope, receive, send)
            return
        raw = header(scope, b"authorization")
        client = scope.get("client")
        address = client[0] if client else "unknown"
        cookie = session_cookie(scope) if not raw and self.sessions is not None else None
        if cookie:
            principal = await self._session(scope, scope["method"], cookie, address)
        else:
            principal = await self._key(scope, raw, address)
        if handler is not None:
            authorize(principal, handler, scope["method"], scope["path"])
        scope[PRINCIPAL_KEY] = principal  # type: ignore[literal-required]
        # The actor of what this request changes (kassa_platform.audit): a user's session or a secret key.
        # A publishable key or the hosted page acts for a shopper, another service for Kassa: unaudited.
        acting = None
        if principal.user_id or principal.kind == "secret":
            acting = audit.request_context("user" if principal.user_id else "key",
                                           principal.user_id or principal.key_id, address, principal.workspace_id)
        audit_token = audit.current.set(acting)
        try:
            await self._call(scope, receive, send, principal, handler, address, scope["method"])
        finally:
            audit.current.reset(audit_token)

    async def _call(self, scope: Scope, receive: Receive, send: Send, principal: Principal,
                    handler: BaseRouteHandler | None, address: str, method: str) -> None:
        if principal.kind == "service" or handler is None:
            await self.app(scope, receive, send)
            return
        route_class = handler.opt.get("rate_limit") or ("reads" if method in ("GET", "HEAD") else "writes")
        limit_headers = await self.limiter.take(principal, cast(RouteClass, route_class), address)
        if not limit_headers:
            await self.app(scope, receive, send)
            return

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *limit_headers]
            await send(message)

        await self.app(scope, receive, send_with_limits)

    async def _key(self, scope: Scope, raw: str | None, address: str) -> Principal:
        if not raw:
            raise KassaError("unauthorized", "An API key is required: send `Authorization: Bearer <key>` "
                             "(or sign in)")
        scheme, _, key = raw.partition(" ")
        key = key.strip()
        scheme = scheme.lower()
        if scheme == "service" and key:
            principal = await self._service(scope, key)
        elif scheme != "bearer" or not key:
            raise KassaError("unauthorized", "Malformed Authorization header: expected `Bearer <key>`")
        elif key.startswith(PAGE_KEY_PREFIX) and self.signing_key:
            # The hosted page's credential: a signature to check, nothing to look up (nothing to guess).
            principal = page_principal(self.signing_key, key, self.clock.now())
        else:
            principal = self.resolver.cached(key)
            if principal is None:
                await self.limiter.check_auth(address)  # 429 before any lookup
                principal = await self.resolver.resolve(key)
        if principal is None:
            await self.limiter.auth_failed(address)
            raise KassaError("unauthorized", "The API key is invalid or has been revoked")
        return principal

    async def _session(self, scope: Scope, method: str, cookie: str, address: str) -> Principal:
        assert self.sessions is not None
        record = self.sessions.cached(cookie)
        if record is None:
            await self.limiter.check_auth(address)  # 429 before any lookup
            record = await self.sessions.session(cookie)
        if record is None:
            await self.limiter.auth_failed(address)
            raise KassaError("unauthorized", "The session has ended: sign in again")
        if method not in SAFE_METHODS:
            sent = header(scope, CSRF_HEADER)
            if not sent or not hmac.compare_digest(sent.encode(), record.csrf_token.encode()):
                raise KassaError("csrf_token_invalid", "A signed-in call that changes something must send the "
                                 "session's `X-CSRF-Token` (from sign-in or GET /api/v1/auth/session)")
        app_id = header(scope, SESSION_APP_HEADER)
        principal = await self.sessions.principal(record, app_id)
        if principal is None:
            raise KassaError("forbidden", f"You have no access to application {app_id}",
                             details={"application": app_id})
        return principal

    async def _service(self, scope: Scope, token: str) -> Principal | None:
        if not hmac.compare_digest(token.encode(), self.service_token):
            return None
        app_id = header(scope, SERVICE_APP_HEADER)
        if not app_id:
            raise KassaError("unauthorized", "A service call names its application in X-Kassa-Application")
        return await self.resolver.service(app_id)
