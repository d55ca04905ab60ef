"""A merchant's storefront for the browser tests: a second origin beside Kassa's.

Kassa answers on `http://127.0.0.1:P`; the storefront on `http://localhost:Q` (another host, so
another origin, as a real shop is). It serves pages that tests register and, like a shop's
backend, `POST /embed-token` which asks Kassa for an embed token with the merchant's secret key
(the browser never sees that key). A second port of the same server is a *foreign* origin
(`foreign_origin`), for pages that must not be able to frame or talk to a checkout.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

Page = str | bytes
# More of the shop's backend: a POST route's handler, given the JSON body and the page's origin.
Handler = Callable[[dict[str, Any], str], Awaitable[tuple[int, Any]]]


@dataclass
class Storefront:
    kassa_origin: str
    origin: str = ""
    foreign_origin: str = ""
    pages: dict[str, tuple[Page, str]] = field(default_factory=dict)
    secret_keys: dict[str, str] = field(default_factory=dict)  # checkout session id -> merchant's key
    token_requests: list[str] = field(default_factory=list)  # session ids, in order
    routes: dict[str, Handler] = field(default_factory=dict)  # POST path -> handler
    client: httpx.AsyncClient | None = None

    def add_page(self, path: str, body: Page, content_type: str = "text/html; charset=utf-8") -> str:
        """Serve `body` at `path` (on both origins); returns the URL on the storefront's origin."""
        self.pages[path] = (body, content_type)
        return self.origin + path

    def allow_session(self, session_id: str, secret_key: str) -> None:
        """The shop's backend may mint embed tokens for this session with this key."""
        self.secret_keys[session_id] = secret_key

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if method == "POST" and (path == "/embed-token" or path in self.routes):
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            handler = self.routes.get(path, self._embed_token)
            status, payload = await handler(json.loads(body or b"{}"), _host_origin(scope))
            await _respond(send, status, json.dumps(payload).encode(), "application/json")
            return
        found = self.pages.get(path)
        if method != "GET" or found is None:
            await _respond(send, 404, b"not found", "text/plain")
            return
        content, content_type = found
        await _respond(send, 200, content.encode() if isinstance(content, str) else content, content_type)

    async def _embed_token(self, body: dict[str, Any], origin: str) -> tuple[int, dict[str, Any]]:
        session_id = str(body.get("sessionId", ""))
        self.token_requests.append(session_id)
        key = self.secret_keys.get(session_id)
        if key is None or self.client is None:
            return 404, {"error": "unknown session"}
        answer = await self.client.post("/api/v1/checkout-sessions/embed-token",
                                        json={"sessionId": session_id, "origin": origin},
                                        headers={"Authorization": f"Bearer {key}"})
        return answer.status_code, answer.json()


def _host_origin(scope: dict[str, Any]) -> str:
    host = next((v.decode() for k, v in scope["headers"] if k == b"host"), "localhost")
    return f"http://{host}"


async def _respond(send: Any, status: int, body: bytes, content_type: str) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type.encode()), (b"cache-control", b"no-store"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
