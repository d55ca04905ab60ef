"""What API versions cost per request: at the newest version, and one version behind.

    uv run python bench/api_versions.py [--calls 2000] [--rounds 7]

Two measurements, in CPU time of this one process (`time.process_time`, steadier than wall time on
a busy machine); kinds are interleaved round after round, and each figure is the median over the
rounds (the minimum beside it is the least disturbed):

1. The edge alone: `kassa_platform.versioning.ApiVersionMiddleware` around an app that answers at
   once, against that app bare. At the newest version the middleware reads a header and adds one;
   one version behind, on an operation the version changes touch, it decodes, transforms and encodes
   the answer (a list of payments, a page of 20 events: the real bodies of the real app below).
2. Whole requests through the real cart, checkout and webhook apps (embedded, SQLite in a temporary
   directory, ASGI in process: no sockets, so the app's own work is what is timed): the same call with
   `Kassa-Version` at the newest version and one behind, for a cart read (untouched by any change) and
   for the operations the 2026-12-07 change touches.

Targets (issue "API versions"): the newest version costs no measurable extra CPU; one version
behind costs <= 0.05 ms per request. Prints figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import tempfile
import time
import types
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from kassa_contract.versions import FIRST_VERSION, LATEST_VERSION
from kassa_platform.auth import PRINCIPAL_KEY, Principal, create_application, create_key
from kassa_platform.body import BODY_KEY
from kassa_platform.db import transaction
from kassa_platform.migrate import migrate
from kassa_platform.settings import Settings
from kassa_platform.versioning import ApiVersionMiddleware

from kassa.gateway import PathRouter
from kassa.services import SERVICES, build_runtime, components

TARGET_BEHIND_MS = 0.05
ADDRESS = {"addressLine1": "Unter den Linden 1", "city": "Berlin", "countryCode": "DE"}
CARD = {"type": "card", "card": {"number": "4242424242424242", "expMonth": 12, "expYear": 2030, "cvc": "123"}}


def _interleaved(kinds: dict[str, Callable[[], Awaitable[None]]], calls: int, rounds: int,
                 loop: asyncio.AbstractEventLoop) -> dict[str, list[float]]:
    """ms of CPU per call, per kind and round."""
    per_call: dict[str, list[float]] = {k: [] for k in kinds}
    for _ in range(rounds):
        for kind, call in kinds.items():
            async def many(call: Callable[[], Awaitable[None]] = call) -> None:
                for _ in range(calls):
                    await call()

            gc.collect()
            started = time.process_time()
            loop.run_until_complete(many())
            per_call[kind].append((time.process_time() - started) * 1000 / calls)
    return per_call


def _row(name: str, values: list[float], base: list[float] | None = None) -> str:
    median, low = statistics.median(values), min(values)
    extra = "" if base is None else f"   +{(median - statistics.median(base)) * 1000:7.2f} µs"
    return f"  {name:<44} {median * 1000:8.1f} µs   (min {low * 1000:7.1f}){extra}"


# ---------------------------------------------------------------- 1. the edge alone


def edge_alone(bodies: dict[str, bytes], calls: int, rounds: int, loop: asyncio.AbstractEventLoop) -> None:
    def answering(body: bytes) -> Any:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body, "more_body": False})
        return app

    async def sink(message: Any) -> None:
        return None

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    def call(app: Any, operation: str, version: str) -> Callable[[], Awaitable[None]]:
        principal = Principal(app_id="app", environment="test", key_id="key", kind="secret", api_version=LATEST_VERSION)
        handler = types.SimpleNamespace(operation_id=operation)
        headers = [(b"authorization", b"Bearer sk_test_x"), (b"kassa-version", version.encode())]

        async def one() -> None:
            scope = {"type": "http", "method": "GET", "path": "/", "headers": headers, "route_handler": handler,
                     PRINCIPAL_KEY: principal, BODY_KEY: b""}
            await app(scope, receive, sink)
        return one

    kinds: dict[str, Callable[[], Awaitable[None]]] = {}
    for operation, body in bodies.items():
        bare = answering(body)
        versioned = ApiVersionMiddleware(bare)
        kinds[f"{operation}: bare app"] = call(bare, operation, LATEST_VERSION)
        kinds[f"{operation}: edge, newest"] = call(versioned, operation, LATEST_VERSION)
        kinds[f"{operation}: edge, one behind"] = call(versioned, operation, FIRST_VERSION)
    got = _interleaved(kinds, calls, rounds, loop)
    print(f"\n1. The edge alone (CPU per call, median of {rounds} rounds of {calls}; + is over the bare app)")
    for operation, body in bodies.items():
        base = got[f"{operation}: bare app"]
        print(f"  {operation} ({len(body):,} bytes of answer)")
        print(_row("bare app", base))
        print(_row("edge, newest version", got[f"{operation}: edge, newest"], base))
        behind = got[f"{operation}: edge, one behind"]
        print(_row("edge, one version behind", behind, base))
        extra_ms = statistics.median(behind) - statistics.median(base)
        verdict = "ok" if extra_ms <= TARGET_BEHIND_MS else "MISSED"
        print(f"  {'':<44} one behind: {extra_ms:.4f} ms per request (target <= {TARGET_BEHIND_MS}): {verdict}")


# ---------------------------------------------------------------- 2. whole requests


async def _setup(data_dir: Path) -> tuple[Any, httpx.AsyncClient, dict[str, str]]:
    url = f"sqlite+aiosqlite:///{data_dir / 'bench.db'}"
    await migrate(url, components())
    no_limits = {name: "0" for name in ("reads", "writes", "completes", "auth_failures")}
    runtime = build_runtime(Settings.from_env(database_url=url, redis_url=None, data_dir=data_dir, rate_limits=no_limits))
    apps = [(d.path_prefixes, d.create_app(runtime, owns_runtime=False)) for d in SERVICES.values()]
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=PathRouter(apps, default=apps[0][1])),
                               base_url="http://kassa.bench")
    now = runtime.clock.now()
    async with transaction(runtime.db) as conn:
        app_id = await create_application(conn, "versions-bench", "test", now)
        key = await create_key(conn, app_id, kind="secret", scopes=["*"], now=now)
    auth = {"Authorization": f"Bearer {key}"}

    async def ok(method: str, path: str, body: Any = None) -> Any:
        response = await client.request(method, path, json=body, headers=auth)
        assert response.status_code < 300, response.text
        return response.json()

    product = await ok("POST", "/api/v1/products", {"name": "Shirt", "variants": [{"sku": "S-1", "prices": {"EUR": 2500}}]})
    cart = await ok("POST", "/api/v1/carts", {"currency": "EUR", "lineItems": [
        {"variantId": product["variants"][0]["id"], "quantity": 2}]})
    session = await ok("POST", "/api/v1/checkout/sessions", {"cartId": cart["id"]})
    await ok("POST", f"/api/v1/checkout-sessions/{session['id']}/complete",
             {"shippingAddress": ADDRESS, "paymentMethod": CARD})
    for _ in range(19):  # 20 payment events for a full page of events
        other = await ok("POST", "/api/v1/carts", {"currency": "EUR", "lineItems": [
            {"variantId": product["variants"][0]["id"], "quantity": 1}]})
        paid = await ok("POST", "/api/v1/checkout/sessions", {"cartId": other["id"]})
        await ok("POST", f"/api/v1/checkout-sessions/{paid['id']}/complete",
                 {"shippingAddress": ADDRESS, "paymentMethod": CARD})
    from kassa_platform.jobs import JobContext
    from kassa_webhooks import jobs

    class _Queue:
        async def enqueue(self, *args: Any, **kw: Any) -> None:
            return None

    ctx = JobContext(settings=runtime.settings, db=runtime.db, clock=runtime.clock, queue=_Queue(),
                     services=runtime.services)
    while await jobs.relay_outbox(ctx):
        pass
    paths = {
        "getCart (no change touches it)": f"/api/v1/carts/{cart['id']}",
        "listCheckoutSessionPayments": f"/api/v1/checkout-sessions/{session['id']}/payments",
        "listPaymentMethods": "/api/v1/payment-methods",
        "listEvents (20 payment.captured)": "/api/v1/events?type=payment.captured&limit=20",
    }
    return runtime, client, {name: path for name, path in paths.items()} | {"_key": key}


def whole_requests(calls: int, rounds: int, loop: asyncio.AbstractEventLoop) -> dict[str, bytes]:
    data_dir = Path(tempfile.mkdtemp(prefix="kassa-versions-bench-"))
    runtime, client, paths = loop.run_until_complete(_setup(data_dir))
    key = paths.pop("_key")
    kinds: dict[str, Callable[[], Awaitable[None]]] = {}
    for name, path in paths.items():
        for label, version in (("newest", LATEST_VERSION), ("one behind", FIRST_VERSION)):
            headers = {"Authorization": f"Bearer {key}", "Kassa-Version": version}

            async def one(path: str = path, headers: dict[str, str] = headers) -> None:
                response = await client.get(path, headers=headers)
                if response.status_code != 200:
                    raise RuntimeError(response.text)
            kinds[f"{name}|{label}"] = one
    got = _interleaved(kinds, calls, rounds, loop)
    print(f"\n2. Whole requests through the apps (CPU per request, median of {rounds} rounds of {calls}; "
          "+ is one behind over newest)")
    for name in paths:
        newest, behind = got[f"{name}|newest"], got[f"{name}|one behind"]
        print(f"  {name}")
        print(_row("newest version", newest))
        print(_row("one version behind", behind, newest))
    bodies = {}
    for name, path in paths.items():
        if name.startswith("getCart"):
            continue
        response = loop.run_until_complete(client.get(path, headers={"Authorization": f"Bearer {key}"}))
        bodies[name.split(" ")[0]] = response.content
    loop.run_until_complete(client.aclose())
    loop.run_until_complete(runtime.close())
    return bodies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per kind and round, edge alone (default 2000)")
    parser.add_argument("--requests", type=int, default=300, help="requests per kind and round, whole (default 300)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds (default 7)")
    args = parser.parse_args()
    loop = asyncio.new_event_loop()
    print(f"API versions: newest {LATEST_VERSION}, one behind {FIRST_VERSION}")
    bodies = whole_requests(args.requests, args.rounds, loop)
    edge_alone(bodies, args.calls, args.rounds, loop)


if __name__ == "__main__":
    main()
