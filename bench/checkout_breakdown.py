"""Where a checkout completion's CPU goes: the accounting half of `checkout_load.py`.

Two instruments, both printed by the load bench:

* `account()` runs completes IN the bench process against the bench database (no HTTP server,
  no webhook relay running), one at a time, and counts per complete: SQL statements and round
  trips (statements + BEGIN/COMMIT, through SQLAlchemy or the direct asyncpg pool), transactions,
  internal calls (checkout -> cart through `service_client`), and the process CPU of a complete
  (a) through the checkout app over ASGI, (b) calling the saga directly, and (c) of relaying the
  events those completes wrote (the webhook relay's part).
* `classify()` reads the raw stacks py-spy sampled from the server under load and sorts every
  sample into one part of the work (`PARTS`): the innermost frame that names a part decides.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec
from common import BENCH_LIMIT
from kassa_checkout.service import module_of as checkout_module
from kassa_contract.checkout import CompleteCheckoutSession
from kassa_platform.settings import Settings
from kassa_webhooks.service import module_of as webhooks_module
from sqlalchemy import event

from kassa.gateway import PathRouter
from kassa.services import SERVICES, build_runtime

# ---------------------------------------------------------------- counting


@dataclass
class Counts:
    statements: int = 0
    transactions: int = 0
    calls: int = 0
    kinds: Counter[str] = field(default_factory=Counter)  # "UPDATE checkout_sessions" -> n
    call_paths: Counter[str] = field(default_factory=Counter)
    active: bool = False

    def attach(self, runtime: Any) -> None:
        engine = runtime.db.engine.sync_engine

        def statement(sql: str) -> None:
            if self.active and not sql.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
                self.statements += 1
                self.kinds[_kind(sql)] += 1

        def ended(*_: Any) -> None:
            if self.active:
                self.transactions += 1

        event.listen(engine, "before_cursor_execute", lambda c, cur, sql, *a: statement(sql))
        event.listen(engine, "commit", ended)
        event.listen(engine, "rollback", ended)
        if runtime.db.direct is not None:
            runtime.db.direct.listeners.append(statement)

        def call(method: str, path: str) -> None:
            if self.active:
                self.calls += 1
                self.call_paths[f"{method} {re.sub(r'/(cart|cs|ord)_[0-9a-z]+', '/{id}', path)}"] += 1

        client = checkout_module(runtime).cart.client
        if hasattr(client, "listeners"):
            client.listeners.append(call)
        else:  # code from before service_client had listeners (the bench measures it too): wrap the call
            original = client.call

            async def counted(method: str, path: str, **kw: Any) -> Any:
                call(method, path)
                return await original(method, path, **kw)

            client.call = counted

    @property
    def round_trips(self) -> int:
        return self.statements + 2 * self.transactions  # each transaction adds BEGIN and COMMIT

    def reset(self) -> None:
        self.statements = self.transactions = self.calls = 0
        self.kinds.clear()
        self.call_paths.clear()


def _kind(sql: str) -> str:
    """What a statement does, in two words: `INSERT outbox_events`, `WITH written` ..."""
    words = re.sub(r"\s+", " ", sql.strip()).split(" ")
    verb = words[0].upper()
    target = {"SELECT": "FROM", "INSERT": "INTO", "UPDATE": None, "DELETE": "FROM", "WITH": None}.get(verb)
    if verb in ("UPDATE", "WITH"):
        return f"{verb} {words[1]}"
    if target and target in (w.upper() for w in words):
        index = [w.upper() for w in words].index(target)
        return f"{verb} {words[index + 1]}"
    return verb


# ---------------------------------------------------------------- in-process accounting


async def account(url: str, data_dir: str, key: str, variants: list[str], method_id: str, n: int,
                  address: dict, card: dict) -> dict[str, Any]:
    """`n` completes through ASGI, then `n` through the saga directly, one at a time; returns per complete
    the counts and CPU of each way, and the relay's CPU for the events they wrote."""
    # The bench drives one key far beyond a storefront's limits: raised out of reach, as for its servers.
    settings = Settings.from_env(database_url=url, redis_url=None, data_dir=Path(data_dir),
                                 rate_limits={"reads": BENCH_LIMIT, "writes": BENCH_LIMIT, "completes": BENCH_LIMIT})
    runtime = build_runtime(settings)  # not started: no cron ticker; no webhooks app: no outbox waker
    apps = [(SERVICES[s].path_prefixes, SERVICES[s].create_app(runtime, owns_runtime=False)) for s in ("cart", "checkout")]
    counts = Counts()
    counts.attach(runtime)
    transport = httpx.ASGITransport(app=PathRouter(apps, default=apps[0][1]))
    client = httpx.AsyncClient(transport=transport, base_url="http://kassa.bench",
                               headers={"Authorization": f"Bearer {key}"})
    result: dict[str, Any] = {}
    try:
        module = checkout_module(runtime)
        principal = await runtime.keys.resolve(key)
        sessions = [await _session(client, variants, method_id, i) for i in range(2 * n + 2)]
        payload = {"shippingAddress": address, "paymentMethod": card}
        body = msgspec.convert(payload, CompleteCheckoutSession)
        # warm up both ways (caches, prepared statements) before anything is counted
        assert (await client.post(f"/api/v1/checkout-sessions/{sessions.pop()}/complete", json=payload)).status_code == 200
        await module.saga.complete(principal, sessions.pop(), body, None)

        async def over_asgi(session_id: str) -> None:
            r = await client.post(f"/api/v1/checkout-sessions/{session_id}/complete", json=payload)
            assert r.status_code == 200 and r.json()["status"] == "complete", r.text

        async def direct(session_id: str) -> None:
            assert (await module.saga.complete(principal, session_id, body, None)).status == "complete"

        for name, way in (("asgi", over_asgi), ("saga", direct)):
            counts.reset()
            counts.active = True
            started = time.process_time()
            for session_id in sessions[:n]:
                await way(session_id)
            cpu = time.process_time() - started
            counts.active = False
            del sessions[:n]
            result[name] = {"cpu_ms": 1000 * cpu / n, "statements": counts.statements / n,
                            "round_trips": counts.round_trips / n, "transactions": counts.transactions / n,
                            "calls": counts.calls / n, "kinds": {k: v / n for k, v in counts.kinds.most_common()},
                            "call_paths": {k: v / n for k, v in counts.call_paths.most_common()}}
        relay = webhooks_module(runtime).relay
        started = time.process_time()
        events, _, _ = await relay.relay_all(budget_seconds=60)
        result["relay"] = {"cpu_ms": 1000 * (time.process_time() - started) / (2 * n + 2),
                           "events": events / (2 * n + 2)}
    finally:
        await client.aclose()
        await runtime.close()
    return result


async def _session(client: httpx.AsyncClient, variants: list[str], method_id: str, i: int) -> str:
    lines = [{"variantId": v, "quantity": 1 + (i + j) % 2} for j, v in enumerate(variants[:2 + i % 2])]
    cart = (await client.post("/api/v1/carts", json={"currency": "EUR", "lineItems": lines})).json()["id"]
    r = await client.put(f"/api/v1/carts/{cart}/shipping-method", json={"shippingMethodId": method_id})
    assert r.status_code == 200, r.text
    r = await client.post("/api/v1/checkout/sessions", json={"cartId": cart})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def print_accounting(a: dict[str, Any], server_ms: float | None) -> None:
    asgi, saga, relay = a["asgi"], a["saga"], a["relay"]
    print("\nPer complete, counted in-process (one complete at a time, no HTTP server, no relay running)")
    print(f"  SQL statements {asgi['statements']:.1f}, round trips {asgi['round_trips']:.1f} "
          f"(statements + BEGIN/COMMIT of {asgi['transactions']:.1f} transactions), internal calls {asgi['calls']:.1f}")
    print("    statements: " + ", ".join(f"{k} {v:g}" for k, v in asgi["kinds"].items()))
    print("    internal calls: " + (", ".join(f"{k} {v:g}" for k, v in asgi["call_paths"].items()) or "none"))
    print(f"  webhook relay: {relay['events']:.1f} events per complete")
    print("\nWhere the server's CPU goes, per complete (ms of process CPU)")
    rows = [("complete over ASGI in-process: checkout + cart apps, no HTTP server", asgi["cpu_ms"]),
            ("  of which the saga called directly (no checkout HTTP layer)", saga["cpu_ms"]),
            ("  so the checkout app's Litestar layer, request and response", asgi["cpu_ms"] - saga["cpu_ms"]),
            ("relaying its events to webhooks (the relay's own CPU)", relay["cpu_ms"])]
    if server_ms is not None:
        rows.append(("full server under the closed loop (HTTP server, relay, jobs included)", server_ms))
        rows.append(("  so the HTTP server, the relay and per-time work",
                     server_ms - asgi["cpu_ms"]))
    for label, ms in rows:
        print(f"  {label:<76}{ms:>7.2f}")


# ---------------------------------------------------------------- py-spy samples

JSON = "JSON: msgspec encode, decode, convert"
PLUMBING = "internal calls: service_client, httpx, ASGI, the cart app's Litestar"
GREENLET = "SQLAlchemy and asyncpg, caller unknown (inside a greenlet)"
REQUEST = "the complete request: Litestar, middleware, routing"
SERVER = "HTTP server (uvicorn, httptools)"
REST = "event loop and the rest"
# Kassa code by what it does: the innermost Kassa frame of a sample names the part, except frames
# that only pass a statement on (db.py, direct.py): the caller decides.
KASSA_PARTS: list[tuple[str, str]] = [
    ("webhook relay, outbox waker, jobs", r"kassa_webhooks/|kassa_platform/jobs\.py|kassa_\w+/jobs\.py"),
    ("outbox events (write)", r"kassa_platform/outbox\.py"),
    ("promotions: evaluate, reserve, confirm", r"kassa_promotions/"),
    ("auth of calls (API key, service token)", r"AuthMiddleware|KeyResolver|hash_key|^authorize \("),
    ("cart: lock (reprice, write)",
     r"CheckoutLink\._?lock|_locking|_priced|_serializes|_take_addresses|kassa_cart/(carts|pricing|config|discounts)\.py"),
    ("cart: convert", r"CheckoutLink\._?(convert|reopen)|_convert|kassa_cart/abandonment\.py"),
    ("order copy (order row and view)", r"_create_order|order_view|_order_values|OrderDocument"),
    ("payment connector (test provider's table)", r"kassa_checkout/payments/"),
    (PLUMBING, r"kassa_platform/service_client\.py|kassa_checkout/cart_client\.py|kassa_cart/internal_routes\.py"),
    ("saga: session and payment rows", r"kassa_checkout/(completion|sessions|views|saga_rows)\.py"),
    (REQUEST, r"kassa_platform/(middleware|idempotency|app|errors|metrics|cors)\.py|kassa_checkout/routes\.py"
              r"|kassa/gateway\.py"),
    (REST, r"kassa/cli\.py"),  # the innermost Kassa frame is the server's main: the loop is running
]
PASS_THROUGH = re.compile(r"kassa_platform/(db|direct|ids|clock)\.py")
PARTS = [JSON, *[name for name, _ in KASSA_PARTS], "other Kassa code", PLUMBING, GREENLET, SERVER, REST]
# With --native py-spy reports the loop waiting in epoll as a sample too: idle, not CPU.
_IDLE = re.compile(r"epoll_p?wait \([^;]*$")
_PACKAGE = re.compile(r"\(([A-Za-z_][\w.]*)[/.]")


def classify(path: str) -> tuple[int, list[tuple[str, int]]]:
    """(samples, [(part, samples)]) from a py-spy raw file."""
    found: Counter[str] = Counter()
    total = 0
    text = Path(path).read_text() if Path(path).exists() else ""
    for line in text.splitlines():
        stack, _, n = line.rpartition(" ")
        if n.isdigit() and not _IDLE.search(stack):
            total += int(n)
            found[_part(stack.split(";"))] += int(n)
    return total, [(name, found[name]) for name in dict.fromkeys(PARTS) if found[name]]


def _part(frames: list[str]) -> str:
    in_call = any("ServiceClient.call" in f for f in frames)
    database = False
    for frame in reversed(frames):  # innermost first
        package = (_PACKAGE.search(frame) or [None, ""])[1]
        if package == "msgspec":
            return JSON
        if package.startswith("kassa"):
            if PASS_THROUGH.search(frame):
                continue
            for name, pattern in KASSA_PARTS:
                if re.search(pattern, frame):
                    return PLUMBING if name == REQUEST and in_call else name
            return "other Kassa code"
        if package in ("sqlalchemy", "asyncpg", "greenlet"):
            database = True  # the Kassa frame that called it decides
        elif not database and package in ("litestar", "httpx", "httpcore", "anyio"):
            return PLUMBING if in_call else REQUEST
        elif not database and package == "uvicorn":
            return SERVER
    return GREENLET if database else REST


def print_profile(path: str, title: str, ms_per_complete: float) -> None:
    total, parts = classify(path)
    if not total:
        print(f"\n  (no py-spy samples {title}: is py-spy installed, and may it attach to the server?)")
        return
    print(f"\nWhere the server's CPU goes {title}: {total} py-spy samples, each counted for the innermost frame "
          f"that names a part ({path})")
    print(f"  {'part':<76}{'share':>7}{'ms/complete':>13}")
    for name, n in parts:
        print(f"  {name:<76}{100 * n / total:>6.1f}%{ms_per_complete * n / total:>13.2f}")
