"""Browser access (CORS) to the routes a publishable key may call.

A preflight (`OPTIONS` with `Access-Control-Request-Method`) carries no `Authorization` header, so
it cannot tell which application is calling. It is answered from the route alone: a browser route
(`opt={"publishable": True}`) is allowed from any origin; every other route is refused (a secret
key belongs on a server). The application's own origin list is enforced on the actual request,
where the key names the application, before anything runs: an origin the application does not
allow gets 403 `origin_not_allowed` (readable by the page, so the SDK can say what to fix). This is
how per-key origin restrictions work elsewhere (Google API keys' referrer restrictions, Algolia's
referer-restricted keys); Stripe, Shopify's Storefront API and commercetools allow every origin.

The policy (`origin_allowed`): an application with `allowedOrigins` allows exactly those; a test
application without a list allows any origin; a live one without a list allows none. Kassa's own
origin (the hosted page) is always allowed. The lists are kept by the cart service (its embed
config); every service learns them through the cart service's API, as it would any other fact
the cart service owns, and keeps them for `TTL` seconds (`BrowserOrigins`).
"""

from __future__ import annotations

import time
from typing import Any

from kassa_contract.errors import KassaError
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.exceptions import MethodNotAllowedException, NotFoundException
from litestar.types import ASGIApp, HTTPResponseBodyEvent, Message, Receive, Scope, Send

from .auth import Principal, principal_in
from .middleware import header
from .service_client import ServiceClient
from .settings import Settings

ALLOWED_HEADERS = ("Authorization, Content-Type, Idempotency-Key, Kassa-Version, X-Cart-Secret, X-Checkout-Secret, X-Shopper-Token, "
                   "X-Request-Id")
EXPOSED_HEADERS = ("X-Request-Id, Kassa-Version, Idempotent-Replayed, Retry-After, RateLimit, RateLimit-Policy, RateLimit-Limit, "
                   "RateLimit-Remaining, RateLimit-Reset")
MAX_AGE = "600"  # browsers keep a preflight answer this long (Chromium caps it at 7200 s)
TTL = 10.0  # seconds a service keeps an application's origin list (a PUT in the same process clears it at once)


def is_browser_route(handler: Any) -> bool:
    return handler is not None and bool(handler.opt.get("publishable"))


def origin_allowed(listed: frozenset[str] | list[str], environment: str, origin: str) -> bool:
    """The one rule: the application's list when it has one; else any origin in test, none in live."""
    if listed:
        return origin.lower() in listed
    return environment == "test"


def _own_origins(scope: Scope, public_base_url: str) -> set[str]:
    host = header(scope, b"host")
    own = {public_base_url.rstrip("/").lower()}
    if host:
        own.add(f"{scope.get('scheme', 'http')}://{host}".lower())
    return own


class BrowserOrigins:
    """Application id -> its allowed origins, fetched from the cart service's embed config."""

    def __init__(self, settings: Settings, services: dict[str, Any], ttl: float = TTL) -> None:
        self._settings = settings
        self._services = services
        self._ttl = ttl
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._client: ServiceClient | None = None

    async def listed(self, app_id: str) -> frozenset[str]:
        now = time.monotonic()
        hit = self._cache.get(app_id)
        if hit and hit[0] > now:
            return hit[1]
        if self._client is None:
            self._client = ServiceClient("cart", self._settings, self._services)
        config = await self._client.call("GET", "/api/v1/embed-config", app_id=app_id)
        origins = frozenset(o.lower() for o in (config or {}).get("allowedOrigins") or [])
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[app_id] = (now + self._ttl, origins)
        return origins

    async def allows(self, principal: Principal, origin: str) -> bool:
        return origin_allowed(await self.listed(principal.app_id), principal.environment, origin)

    def forget(self, app_id: str) -> None:
        self._cache.pop(app_id, None)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()


class PreflightMiddleware:
    """Answers browser preflights (before AuthMiddleware: a preflight has no key)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and scope["method"] == "OPTIONS":
            origin = header(scope, b"origin")
            method = header(scope, b"access-control-request-method")
            if origin and method:
                await self._preflight(scope, send, origin, method.upper())
                return
        await self.app(scope, receive, send)

    async def _preflight(self, scope: Scope, send: Send, origin: str, method: str) -> None:
        try:
            _, target, *_ = scope["app"].asgi_router.handle_routing(path=scope["path"], method=method)
        except (NotFoundException, MethodNotAllowedException):
            target = None
        if origin == "null" or not is_browser_route(target):
            # No Access-Control-Allow-Origin: the browser refuses the call.
            raise KassaError("forbidden", f"{method} {scope['path']} cannot be called from a browser: it needs a "
                             "secret key, which belongs on a server", status=403)
        await send({"type": "http.response.start", "status": 204, "headers": [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-methods", method.encode()),
            (b"access-control-allow-headers", ALLOWED_HEADERS.encode()),
            (b"access-control-max-age", MAX_AGE.encode()),
            (b"vary", b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
        ]})
        await send(HTTPResponseBodyEvent(type="http.response.body", body=b"", more_body=False))


class OriginGuardMiddleware:
    """Enforces the application's origins on a browser's actual request (after AuthMiddleware, before
    idempotency: a refused request never claims its key)."""

    def __init__(self, app: ASGIApp, origins: BrowserOrigins, public_base_url: str) -> None:
        self.app = app
        self.origins = origins
        self.public_base_url = public_base_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = header(scope, b"origin") if scope["type"] == ScopeType.HTTP else None
        principal = principal_in(scope)
        if (origin and principal is not None and principal.kind != "service"
                and is_browser_route(scope.get("route_handler"))
                and origin.lower() not in _own_origins(scope, self.public_base_url)
                and not await self.origins.allows(principal, origin)):
            live = principal.environment == "live"
            raise KassaError("origin_not_allowed", f"{origin} may not call this application from a browser: add it "
                             "to `allowedOrigins` of PUT /api/v1/embed-config"
                             + (" (live applications must list their origins)" if live else ""),
                             status=403, details={"origin": origin})
        await self.app(scope, receive, send)


async def cors_headers(message: Message, scope: Scope) -> None:
    """`before_send` hook: a browser route's every answer (errors raised by the middleware too) is
    readable by the calling page, with the headers the SDK needs exposed. The request itself only
    ran if OriginGuardMiddleware let it."""
    if message["type"] != "http.response.start" or scope["type"] != ScopeType.HTTP:
        return
    if not is_browser_route(scope.get("route_handler")):
        return
    headers = MutableScopeHeaders.from_message(message)
    headers.add("vary", "Origin")
    origin = header(scope, b"origin")
    if origin and origin != "null":
        headers["access-control-allow-origin"] = origin
        headers["access-control-expose-headers"] = EXPOSED_HEADERS
