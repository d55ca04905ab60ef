"""A merchant's storefront for the browser tests: a second origin beside Kassa's.

Kassa answers on `http://127.0.0.1:P`; the storefront on `http://localhost:Q` (another host, so
another origin, as a real shop is). It serves pages that tests register and, like a shop's
backend, `POST /checkout` which creates the checkout session for a cart and `POST /embed-token`
which asks Kassa for an embed token, both with the merchant's secret key (the browser never sees
that key). `CHECKOUT_PAGE` is the shop's checkout page: @kassa/embed from Kassa's `/embed/v1/`
path mounting the checkout, in ten lines. A second port of the same server is a *foreign* origin
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

# The shop's checkout page (`?cart=<id>`, or `?session=<id>` for a session made already; `&locale=`
# and `&loadTimeoutMs=` are passed to mountCheckout): the shop's backend creates the session, then
# the page mounts it. What the parent hears is kept in `window.shop.events` for the tests to read.
CHECKOUT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Checkout · Example shop</title></head>
<body><h1>Example shop</h1><main id="checkout"></main>
<script type="module">
import { mountCheckout } from '__KASSA__/embed/v1/embed.mjs';
const post = (path, body) => fetch(path, { method: 'POST', body: JSON.stringify(body) }).then((r) => r.json());
const query = new URLSearchParams(location.search);
const sessionId = query.get('session') ?? (await post('/checkout', { cartId: query.get('cart') })).id;
const events = [], on = (type, key) => (value) => events.push({ type, ...(key ? { [key]: value } : value) });
window.shop = { events, sessionId, checkout: mountCheckout(document.getElementById('checkout'), {
  sessionId, fetchEmbedToken: () => post('/embed-token', { sessionId }), locale: query.get('locale') ?? undefined,
  loadTimeoutMs: query.has('loadTimeoutMs') ? Number(query.get('loadTimeoutMs')) : undefined,
  onReady: on('ready'), onStepChange: on('step', 'step'), onComplete: on('completed'), onError: on('error') }) };
</script></body></html>
"""


@dataclass
class Storefront:
    kassa_origin: str
    origin: str = ""
    foreign_origin: str = ""
    pages: dict[str, tuple[Page, str]] = field(default_factory=dict)
    secret_keys: dict[str, str] = field(default_factory=dict)  # checkout session id -> merchant's key
    token_requests: list[str] = field(default_factory=list)  # session ids, in order
    carts: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # cart id -> (key, session body)
    routes: dict[str, Handler] = field(default_factory=dict)  # POST path -> handler
    client: httpx.AsyncClient | None = None

    def add_page(self, path: str, body: Page, content_type: str = "text/html; charset=utf-8") -> str:
        """Serve `body` at `path` (on both origins); returns the URL on the storefront's origin."""
        self.pages[path] = (body, content_type)
        return self.origin + path

    def allow_session(self, session_id: str, secret_key: str) -> None:
        """The shop's backend may mint embed tokens for this session with this key."""
        self.secret_keys[session_id] = secret_key

    def allow_cart(self, cart_id: str, secret_key: str, **session: Any) -> None:
        """The shop's backend may create a checkout session for this cart (`session`: more of its body)."""
        self.carts[cart_id] = (secret_key, session)

    def checkout_url(self, *, origin: str | None = None, **query: str) -> str:
        """The shop's checkout page, served on `origin` (default: the storefront's)."""
        self.add_page("/checkout.html", CHECKOUT_PAGE.replace("__KASSA__", self.kassa_origin))
        return f"{origin or self.origin}/checkout.html?" + "&".join(f"{k}={v}" for k, v in query.items())

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if method == "POST" and (path in ("/embed-token", "/checkout") or path in self.routes):
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            handler = self.routes.get(path) or (self._checkout if path == "/checkout" else self._embed_token)
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


    async def _checkout(self, body: dict[str, Any], _origin: str) -> tuple[int, dict[str, Any]]:
        cart_id = str(body.get("cartId", ""))
        if cart_id not in self.carts or self.client is None:
            return 404, {"error": "unknown cart"}
        key, session = self.carts[cart_id]
        answer = await self.client.post("/api/v1/checkout/sessions", json={"cartId": cart_id, **session},
                                        headers={"Authorization": f"Bearer {key}"})
        if answer.status_code == 201:
            self.allow_session(answer.json()["id"], key)
        return answer.status_code, answer.json()


def _host_origin(scope: dict[str, Any]) -> str:
    host = next((v.decode() for k, v in scope["headers"] if k == b"host"), "localhost")
    return f"http://{host}"


async def _respond(send: Any, status: int, body: bytes, content_type: str) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type.encode()), (b"cache-control", b"no-store"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
