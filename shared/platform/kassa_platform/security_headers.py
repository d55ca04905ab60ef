"""The headers every response carries, whatever produced it (a handler, a middleware's refusal,
the router's 404, a crash).

* `X-Content-Type-Options: nosniff`: a browser never guesses a type other than the declared one
  (a JSON error that echoes input is never run as a script or page).
* `Cache-Control: no-store`: API answers carry secrets (a cart's or session's `clientSecret`,
  `whsec_` secrets, API keys) and a tenant's data; no browser or proxy cache may keep them. Every
  answer to an authenticated request gets it, whatever its handler set; any other answer gets it
  unless its handler chose a policy of its own (a public asset that may be cached).

The servers send no `Server` banner (`kassa serve` runs uvicorn with `server_header=False`; the
gateway's nginx template drops nginx's).
"""

from __future__ import annotations

from litestar.types import Message, Scope

from .auth import principal_in

NOSNIFF = (b"x-content-type-options", b"nosniff")
NO_STORE = (b"cache-control", b"no-store")
# For responses made outside any app (the embedded router's 404).
ALWAYS: tuple[tuple[bytes, bytes], ...] = (NOSNIFF, NO_STORE)


def harden(headers: list[tuple[bytes, bytes]], *, authenticated: bool) -> list[tuple[bytes, bytes]]:
    """`headers` with the security headers set (ASGI header names are lower case)."""
    kept = [h for h in headers if h[0] != b"x-content-type-options"
            and not (authenticated and h[0] == b"cache-control")]
    kept.append(NOSNIFF)
    if not any(name == b"cache-control" for name, _ in kept):
        kept.append(NO_STORE)
    return kept


async def security_headers(message: Message, scope: Scope) -> None:
    """`before_send` hook of every service app."""
    if message["type"] == "http.response.start":
        message["headers"] = harden(list(message.get("headers") or ()),
                                    authenticated=principal_in(scope) is not None)
