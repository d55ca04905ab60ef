"""The API version at the edge: which version a call gets, and its request and answer in that shape.

A call gets the version its `Kassa-Version` header names, else the one its application is pinned
to (`Principal.api_version`); an unknown one is 400 `api_version_invalid` naming the known ones.
Every authenticated answer says which version answered in its own `Kassa-Version` header.

Handlers only ever see and produce the newest shape. For a caller on an older version, the plan of
`kassa_contract.versions` says which operations change: only those bodies are decoded and passed
through the changes' transforms (a request forward to the newest shape before the handler, a 2xx
answer back to the caller's shape after it). Every other call, and every call at the newest
version, costs one header.

Calls between services (service principals) are not versioned: services speak the newest shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from kassa_contract.errors import KassaError
from kassa_contract.versions import PLANS, VERSIONS, Transform, VersionPlan, version_error_message
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from .auth import principal_in
from .body import BODY_KEY, body_in, replaying
from .middleware import header

VERSION_HEADER = b"kassa-version"
_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


def requested_version(scope: Scope, pinned: str, plans: Mapping[str, VersionPlan] = PLANS) -> str:
    """The version of this call: its header's if it names one, else the application's pin."""
    named = header(scope, VERSION_HEADER)
    if named is None:
        return pinned
    named = named.strip()
    if named not in plans:
        raise KassaError("api_version_invalid", version_error_message(named), details={"versions": list(VERSIONS)})
    return named


def operation_of(scope: Scope) -> str | None:
    handler = scope.get("route_handler")
    op = getattr(handler, "operation_id", None)
    return op.removesuffix("Alias") if isinstance(op, str) else None  # hidden aliases answer as their route


class ApiVersionMiddleware:
    """Runs after authentication (it needs the principal) and after the body is read and bounded."""

    def __init__(self, app: ASGIApp, plans: Mapping[str, VersionPlan] = PLANS) -> None:
        self.app = app
        self.plans = plans

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = principal_in(scope) if scope["type"] == ScopeType.HTTP else None
        if principal is None or principal.kind == "service":
            await self.app(scope, receive, send)
            return
        version = requested_version(scope, principal.api_version, self.plans)
        plan = self.plans[version]
        version_header = (VERSION_HEADER, version.encode())
        op = operation_of(scope)
        upgrade = plan.requests.get(op) if op else None
        if upgrade is not None and BODY_KEY in scope:
            receive = replaying(_upgraded(scope, upgrade), receive)
        downgrade = plan.responses.get(op) if op else None
        if downgrade is None:
            async def send_with_version(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message["headers"] = [*message.get("headers", ()), version_header]
                await send(message)

            await self.app(scope, receive, send_with_version)
            return
        await self.app(scope, receive, _rendering(send, downgrade, version_header))


def _upgraded(scope: Scope, upgrade: Transform) -> bytes:
    """The request body in the newest shape, for the handler and the idempotency fingerprint."""
    try:
        body: bytes = _encoder.encode(upgrade(_decoder.decode(body_in(scope))))
    except msgspec.DecodeError:
        body = body_in(scope)  # not JSON: the handler says so
    scope[BODY_KEY] = body  # type: ignore[literal-required]
    return body


def _rendering(send: Send, downgrade: Transform, version_header: tuple[bytes, bytes]) -> Send:
    """A `send` that holds a 2xx JSON answer until its end, then sends it in the caller's shape."""
    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def send_rendered(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [*message.get("headers", ()), version_header]
            message["headers"] = headers
            is_json = any(k.lower() == b"content-type" and b"json" in v for k, v in headers)
            if 200 <= message["status"] < 300 and is_json:
                start.update(message)
                return
            await send(message)
            return
        if not start or message["type"] != "http.response.body":
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = b"".join(chunks)
        try:
            body = _encoder.encode(downgrade(_decoder.decode(body)))
        except msgspec.DecodeError:
            pass  # not JSON after all: as it is
        start["headers"] = [(k, str(len(body)).encode()) if k.lower() == b"content-length" else (k, v)
                            for k, v in start["headers"]]
        await send(start)  # type: ignore[arg-type]
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return send_rendered
