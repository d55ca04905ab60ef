"""Recovery from kill -9, in seconds: the distributed deployment on PostgreSQL, real processes behind
nginx, 21 SIGKILLs at random moments while storefronts buy and webhooks flow.

Processes: two cart processes, one checkout, one webhooks, two workers (arq on Redis, this run's key
prefix), the gateway (nginx, deploy/nginx/kassa.conf.template) in front; leases at their defaults
(60 s): recovery must come from the processes' liveness locks (kassa_platform.liveness), not from
leases running out. Every killed process is started again at once, as a supervisor would.

Shoppers buy in a loop through the gateway (a cart with a line, a second line, a session, the
completion), each request retried with its Idempotency-Key after a network error, a 5xx or "try
again shortly", as the SDKs do; now and then a shopper "loses" an answer and sends the request again.
Two endpoints receive every order (one answers at once, one after half a second) and the fast one
every event.

The kills, seven of each kind, in a shuffled order at random moments: a worker while deliveries are
open (a burst of events just written), the checkout process while completions are in flight, the
second cart process while cart writes are in flight (the first is where checkout calls the cart
service: its outage would only add to the checkout's).

What must hold:
* event-to-delivery p99 < 10 s for the endpoint that always answers, through every kill;
* every completion interrupted by a checkout kill ends in its one order within 10 s of the restart;
* nothing lost (every event at each endpoint that wants it), no order twice, no line twice, no
  capture without an order, no answer that was sent but not stored (every key ends `completed`),
  never `idempotency_key_executed`, and a lost answer is replayed byte for byte.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from kassa_platform.auth import create_application, create_key
from kassa_platform.clock import Clock
from kassa_platform.db import Database, create_engine, transaction

from tests.conftest import REDIS_PREFIX, free_port, fresh_database
from tests.e2e.cluster import Gateway, Kassa
from tests.support import cards
from tests.support.receiver_process import ReceiverProcess

pytestmark = pytest.mark.slow

ADDRESS = {"addressLine1": "Unter den Linden 1", "city": "Berlin", "countryCode": "DE"}
CARD = cards.OK_CARD
KILLS_PER_KIND = 7
SHOPPERS = 3
RETRY_LATER = ("idempotency_key_in_progress", "checkout_in_progress")
SEED = int(os.environ.get("KASSA_CRASH_SEED") or random.SystemRandom().randrange(1 << 30))


# ---------------------------------------------------------------- the deployment


@dataclass
class Deployment:
    db: str
    gateway: Gateway
    processes: dict[str, Kassa]
    app_id: str = ""
    key: str = ""
    # (process, kind, killed at, ready again at): monotonic times
    restarts: list[tuple[str, str, float, float]] = field(default_factory=list)


def deploy(tmp: Path, db: str, redis_url: str) -> Deployment:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASSA_")}
    ports = {name: free_port() for name in ("cart-1", "cart-2", "checkout", "webhooks", "worker-1", "worker-2")}
    env.update(KASSA_DATABASE_URL=db, KASSA_REDIS_URL=redis_url, KASSA_REDIS_PREFIX=f"{REDIS_PREFIX}-crash",
               KASSA_SERVICE_TOKEN=secrets.token_urlsafe(32), KASSA_SIGNING_KEY=secrets.token_urlsafe(32),
               KASSA_LOG_FORMAT="text", KASSA_DB_POOL_SIZE="2",  # PostgreSQL is shared with the whole suite
               KASSA_WEBHOOKS_ALLOW_PRIVATE_NETWORKS="all",  # the receivers are on loopback
               KASSA_RATE_LIMIT_READS="100000", KASSA_RATE_LIMIT_WRITES="100000", KASSA_RATE_LIMIT_COMPLETES="100000",
               KASSA_CART_URL=f"http://127.0.0.1:{ports['cart-1']}")

    def env_for(name: str) -> dict[str, str]:
        (tmp / name).mkdir(exist_ok=True)
        return {**env, "KASSA_DATA_DIR": str(tmp / name)}

    migrated = subprocess.run([sys.executable, "-m", "kassa.cli", "migrate"], env=env_for("migrate"),
                              capture_output=True, text=True, timeout=120)
    assert migrated.returncode == 0, migrated.stderr
    processes = {}
    for name, port in ports.items():
        if name.startswith("worker"):
            args = ["worker", "--metrics-port", str(port)]
        else:
            args = ["serve", name.split("-")[0], "--port", str(port)]
        processes[name] = Kassa(name, args, port, env_for(name), tmp / f"{name}.log")
    gateway = Gateway(free_port(), {"cart": [f"127.0.0.1:{ports['cart-1']}", f"127.0.0.1:{ports['cart-2']}"],
                                    "checkout": [f"127.0.0.1:{ports['checkout']}"],
                                    "webhooks": [f"127.0.0.1:{ports['webhooks']}"]}, tmp)
    return Deployment(db, gateway, processes)


class Receivers:
    """The merchant's two endpoints, each a process of its own (tests/support/receiver_process.py):
    this process is busy driving the shoppers, and a receiver here would answer late."""

    def __init__(self, directory: Path) -> None:
        self.fast = ReceiverProcess(directory / "fast.jsonl")
        self.slow = ReceiverProcess(directory / "slow.jsonl", delay=0.5)

    @staticmethod
    def first_seen(receiver: ReceiverProcess) -> dict[str, float]:
        seen: dict[str, float] = {}
        for r in receiver.received():
            if r.verified and r.event_id not in seen:
                seen[r.event_id] = r.at
        return seen

    def stop(self) -> None:
        self.fast.stop()
        self.slow.stop()


_conns: dict[str, asyncpg.Connection] = {}


async def sql(db: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = _conns.get(db)
    if conn is None or conn.is_closed():
        conn = _conns[db] = await asyncpg.connect(db.replace("postgresql+asyncpg://", "postgresql://"))
    return await conn.fetch(query, *args)


# ---------------------------------------------------------------- shoppers


@dataclass
class Call:
    """One request as the SDK makes it: retried with its key until it gets an answer."""

    route: str
    started: float
    failures: list[tuple[float, str]] = field(default_factory=list)
    done_at: float = 0.0
    replayed: bool = False


@dataclass
class Traffic:
    calls: list[Call] = field(default_factory=list)
    in_flight: Counter = field(default_factory=Counter)  # by route
    executed: list[str] = field(default_factory=list)  # answers `idempotency_key_executed` (must stay empty)
    lost_answers_replayed: int = 0
    journeys: list[dict[str, str]] = field(default_factory=list)


async def call(api: httpx.AsyncClient, traffic: Traffic, route: str, path: str, body: Any, key: str) -> httpx.Response:
    record = Call(route, time.monotonic())
    traffic.calls.append(record)
    deadline = time.monotonic() + 90
    while True:
        traffic.in_flight[route] += 1
        try:
            response = await api.post(path, json=body, headers={"Idempotency-Key": key})
        except httpx.TransportError as exc:
            response, failure = None, type(exc).__name__
        else:
            failure = None
            if response.status_code >= 500:
                failure = f"{response.status_code}"
            elif response.status_code == 409 and response.json()["error"]["code"] in RETRY_LATER:
                failure = response.json()["error"]["code"]
        finally:
            traffic.in_flight[route] -= 1
        if failure is None:
            assert response is not None
            if response.status_code == 409 and response.json()["error"]["code"] == "idempotency_key_executed":
                traffic.executed.append(f"{path} {key}")
            assert response.status_code < 400, f"POST {path}: {response.status_code} {response.text}"
            record.done_at = time.monotonic()
            record.replayed = response.headers.get("idempotent-replayed") == "true"
            return response
        record.failures.append((time.monotonic(), failure))
        assert time.monotonic() < deadline, f"POST {path} never succeeded: {record.failures[-5:]}"
        await asyncio.sleep(0.1)  # the SDKs' first backoff


async def lose_and_retry(api: httpx.AsyncClient, traffic: Traffic, route: str, path: str, body: Any, key: str,
                         first: httpx.Response) -> None:
    """The answer never reached the shopper: the same request again gets it again, byte for byte."""
    again = await call(api, traffic, route, path, body, key)
    assert again.headers.get("idempotent-replayed") == "true", again.text
    assert (again.status_code, again.content) == (first.status_code, first.content)
    traffic.lost_answers_replayed += 1


async def shopper(api: httpx.AsyncClient, traffic: Traffic, n: int, variants: list[str], stop: asyncio.Event,
                  rng: random.Random) -> None:
    i = 0
    while not stop.is_set():
        name = f"s{n}-{i}"
        i += 1
        cart = (await call(api, traffic, "cart", "/api/v1/carts", {
            "currency": "EUR", "shippingAddress": ADDRESS,
            "lineItems": [{"variantId": variants[0], "quantity": 1}]}, f"{name}-cart")).json()
        path, body = f"/api/v1/carts/{cart['id']}/line-items", {"variantId": variants[1], "quantity": 2}
        line = await call(api, traffic, "cart", path, body, f"{name}-line")
        if rng.random() < 0.25:
            await lose_and_retry(api, traffic, "cart", path, body, f"{name}-line", line)
        session = (await call(api, traffic, "session", "/api/v1/checkout/sessions", {"cartId": cart["id"]},
                              f"{name}-session")).json()
        path, body = f"/api/v1/checkout-sessions/{session['id']}/complete", {"paymentMethod": CARD}
        done = await call(api, traffic, "complete", path, body, f"{name}-complete")
        assert done.json()["status"] == "complete" and done.json()["orderId"], done.text
        if rng.random() < 0.25:
            await lose_and_retry(api, traffic, "complete", path, body, f"{name}-complete", done)
        traffic.journeys.append({"cart": cart["id"], "session": session["id"], "order": done.json()["orderId"]})


# ---------------------------------------------------------------- kills


async def until(check, deadline: float, every: float = 0.01) -> bool:  # type: ignore[no-untyped-def]
    """Poll `check()` until true or the deadline (other processes are working; the test only looks)."""
    while not await check():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(every)
    return True


async def restart(deployment: Deployment, name: str, kind: str, killed_at: float) -> None:
    process = deployment.processes[name]
    await asyncio.to_thread(process.proc.wait)  # type: ignore[union-attr]
    process.start()
    await asyncio.to_thread(process.wait_ready, 60)
    deployment.restarts.append((name, kind, killed_at, time.monotonic()))


async def kill_at_random(deployment: Deployment, api: httpx.AsyncClient, traffic: Traffic, rng: random.Random,
                         notes: list[str]) -> None:
    kinds = ["worker", "checkout", "cart"] * KILLS_PER_KIND
    rng.shuffle(kinds)
    pending: dict[str, asyncio.Task[None]] = {}
    turn = Counter[str]()
    for kind in kinds:
        await asyncio.sleep(rng.uniform(0.1, 1.0))
        # cart-2: the gateway sends writes to both cart processes; cart-1 is also where checkout calls
        # the cart service (KASSA_CART_URL), and killing it would only stack a second outage on that.
        name = {"checkout": "checkout", "cart": "cart-2", "worker": f"worker-{1 + turn[kind] % 2}"}[kind]
        turn[kind] += 1
        # Every process of its kind up again first: a kill hits a live process at work, and the
        # other replica of a kind carries on meanwhile.
        for other in [n for n in pending if n.startswith(kind)]:
            await pending.pop(other)
        soon = time.monotonic() + 3
        if kind == "worker":  # mid-backlog: a burst of events, then the kill while they are open
            await asyncio.gather(*(api.post("/api/v1/carts", json={"currency": "EUR"}) for _ in range(10)))

            async def backlog() -> bool:
                rows = await sql(deployment.db, "SELECT count(*) AS n FROM webhook_deliveries WHERE app_id = $1 "
                                 "AND status IN ('pending', 'sending')", deployment.app_id)
                return rows[0]["n"] >= 5

            met = await until(backlog, soon)
        elif kind == "checkout":  # mid-burst: completions in flight

            async def burst() -> bool:
                return traffic.in_flight["complete"] >= 2

            met = await until(burst, soon)
        else:  # mid-write: cart writes in flight

            async def writing() -> bool:
                return traffic.in_flight["cart"] >= 2

            met = await until(writing, soon)
        process = deployment.processes[name]
        os.kill(process.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        notes.append(f"{name}{'' if met else ' (quiet)'}")
        pending[name] = asyncio.create_task(restart(deployment, name, kind, killed_at))
    for task in pending.values():
        await task


# ---------------------------------------------------------------- the test


@pytest.fixture
async def crash_db() -> Any:
    async with fresh_database(f"kassa_e2e_crash_{uuid.uuid4().hex[:10]}") as url:
        yield url


async def test_recovery_from_kill_9_takes_seconds(tmp_path: Path, crash_db: str, redis_url: str, nginx: str) -> None:
    began = time.monotonic()
    deployment = await asyncio.to_thread(deploy, tmp_path, crash_db, redis_url)
    receivers = Receivers(tmp_path)
    try:
        for process in [*deployment.processes.values(), deployment.gateway]:
            process.start()
        engine = create_engine(crash_db, pool_size=1)
        async with transaction(Database(engine)) as conn:
            deployment.app_id = await create_application(conn, "crash shop", "test", Clock().now())
            deployment.key = await create_key(conn, deployment.app_id, kind="secret", scopes=["*"], now=Clock().now())
        await engine.dispose()
        for process in deployment.processes.values():
            await asyncio.to_thread(process.wait_ready)
        await asyncio.to_thread(deployment.gateway.wait_ready)
        started = time.monotonic() - began
        await drill(deployment, receivers, began, started)
    finally:
        receivers.stop()
        for process in [deployment.gateway, *deployment.processes.values()]:
            process.stop()
        conn = _conns.pop(crash_db, None)
        if conn is not None:
            await conn.close()


async def drill(deployment: Deployment, receivers: Receivers, began: float, started: float) -> None:
    rng = random.Random(SEED)
    auth = {"Authorization": f"Bearer {deployment.key}"}
    clients = [httpx.AsyncClient(base_url=deployment.gateway.base, headers=auth, timeout=30)
               for _ in range(SHOPPERS + 1)]
    api = clients[-1]
    traffic = Traffic()
    notes: list[str] = []
    try:
        product = await call(api, traffic, "setup", "/api/v1/products", {"name": "Tee", "variants": [
            {"sku": "CR-1", "prices": {"EUR": 1500}}, {"sku": "CR-2", "prices": {"EUR": 2500}}]}, "product")
        variants = [v["id"] for v in product.json()["variants"]]
        fast = (await call(api, traffic, "setup", "/api/v1/webhook-endpoints",
                           {"url": receivers.fast.url, "enabledEvents": ["*"], "maxConcurrency": 20},
                           "fast-endpoint")).json()
        slow = (await call(api, traffic, "setup", "/api/v1/webhook-endpoints",
                           {"url": receivers.slow.url, "enabledEvents": ["order.created"], "maxConcurrency": 4},
                           "slow-endpoint")).json()
        receivers.fast.secrets.append(fast["secret"])
        receivers.slow.secrets.append(slow["secret"])
        traffic.calls.clear()

        stop = asyncio.Event()
        shoppers = [asyncio.create_task(shopper(clients[i], traffic, i, variants, stop, random.Random(SEED + i)))
                    for i in range(SHOPPERS)]
        await asyncio.sleep(1.0)  # buying is under way
        kills_began = time.monotonic()
        await kill_at_random(deployment, api, traffic, rng, notes)
        kills_took = time.monotonic() - kills_began
        stop.set()
        await asyncio.gather(*shoppers)

        # ---- nothing lost: every event at the endpoints that want it
        events = await sql(deployment.db, "SELECT id, type, created_at FROM outbox_events WHERE app_id = $1 "
                           "AND source <> 'audit'", deployment.app_id)  # audit events go only to who names them
        orders_created = {e["id"] for e in events if e["type"] == "order.created"}

        async def delivered() -> bool:
            return ({e["id"] for e in events} <= set(Receivers.first_seen(receivers.fast))
                    and orders_created <= set(Receivers.first_seen(receivers.slow)))

        assert await until(delivered, time.monotonic() + 60, every=0.5), "events missing at the receivers"
        seen = Receivers.first_seen(receivers.fast)
        latencies = sorted(seen[e["id"]] - e["created_at"].timestamp() for e in events)
        p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]

        # ---- every order exactly once, every charge with its order, every cart with its two lines
        journeys = traffic.journeys
        assert journeys and len({j["session"] for j in journeys}) == len(journeys)
        orders = await sql(deployment.db, "SELECT session_id, cart_id, count(*) AS n FROM orders WHERE app_id = $1 "
                           "GROUP BY session_id, cart_id", deployment.app_id)
        assert {r["session_id"]: r["n"] for r in orders} == {j["session"]: 1 for j in journeys}
        assert len({r["cart_id"] for r in orders}) == len(orders)
        orphans = await sql(deployment.db, "SELECT i.key FROM test_payment_intents i LEFT JOIN orders o "
                            "ON o.session_id = i.key WHERE i.status = 'captured' AND o.id IS NULL")
        assert orphans == [], "a capture without an order"
        charges = await sql(deployment.db, "SELECT i.charges FROM test_payment_intents i JOIN checkout_sessions s "
                            "ON s.id = i.key WHERE s.app_id = $1", deployment.app_id)
        assert {r["charges"] for r in charges} == {1}
        lines = await sql(deployment.db, "SELECT id, item_count FROM carts WHERE id = ANY($1)",
                          [j["cart"] for j in journeys])
        assert {r["item_count"] for r in lines} == {3}, "a line added twice, or lost"
        # ---- no answer sent and not stored; none lost to `idempotency_key_executed`
        assert traffic.executed == []
        states = await sql(deployment.db, "SELECT state, count(*) AS n FROM idempotency_keys WHERE app_id = $1 "
                           "GROUP BY state", deployment.app_id)
        assert {r["state"] for r in states} == {"completed"}, [dict(r) for r in states]

        # ---- interrupted completions: one order each, within 10 s of the checkout's restart
        checkout_restarts = sorted((k, r) for name, _, k, r in deployment.restarts if name == "checkout")
        recovery: list[float] = []
        others: list[float] = []
        for c in traffic.calls:
            if c.route != "complete" or not c.failures:
                continue
            first = c.failures[0][0]
            if any(k - 0.05 <= first <= r + 0.5 for k, r in checkout_restarts):
                # From the restart that followed the last kill this call met (a retry may meet a later
                # kill too); 0 when it ended before this test saw that restart ready (it polls /readyz).
                # Not from the last restart seen ready before it ended: a call that met a later kill and
                # ended before that restart's /readyz answered would be timed from an older restart.
                last = c.failures[-1][0]
                met = [r for k, r in checkout_restarts if k - 0.05 <= last]
                recovery.append(max(0.0, c.done_at - met[-1]) if met else 0.0)
            else:
                others.append(c.done_at - first)
        interrupted = len(recovery)
        worst_recovery = max(recovery, default=0.0)

        kinds = Counter(kind for _, kind, _, _ in deployment.restarts)
        restart_times = [r - k for _, _, k, r in deployment.restarts]
        print(f"\ncrash drill (seed {SEED}): {sum(kinds.values())} kills {dict(kinds)} in {kills_took:.1f} s "
              f"({', '.join(notes)}); restarts median {statistics.median(restart_times):.1f} s, max "
              f"{max(restart_times):.1f} s; {len(journeys)} orders; {len(events)} events, event-to-delivery p50 "
              f"{p50:.2f} s, p99 {p99:.2f} s, max {latencies[-1]:.2f} s; {interrupted} completions interrupted by "
              f"a checkout kill, done at most {worst_recovery:.2f} s after its restart; other interrupted "
              f"completions done within {max(others, default=0.0):.2f} s; {traffic.lost_answers_replayed} lost "
              f"answers replayed; {sum(1 for c in traffic.calls if c.failures and c.replayed)} retries after a "
              f"failure answered by a replay; started in {started:.1f} s, total {time.monotonic() - began:.1f} s")
        assert sum(kinds.values()) == 3 * KILLS_PER_KIND
        slowest = sorted(((seen[e["id"]] - e["created_at"].timestamp(), e["type"],
                           e["created_at"].timestamp() - (time.time() - time.monotonic()) - kills_began) for e in events),
                         reverse=True)[:15]
        timeline = sorted((k - kills_began, r - k, name) for name, _, k, r in deployment.restarts)
        worst = [r["id"] for r in sorted(events, key=lambda e: e["created_at"].timestamp() - seen[e["id"]])[:5]]
        trail = [dict(r) for r in await sql(deployment.db, "SELECT e.id, e.relayed_at - o.created_at AS relay, "
                                            "min(a.started_at) - o.created_at AS first_attempt, count(a.id) AS attempts "
                                            "FROM webhook_events e JOIN outbox_events o ON o.id = e.id "
                                            "JOIN webhook_deliveries d ON d.event_id = e.id "
                                            "LEFT JOIN webhook_attempts a ON a.delivery_id = d.id "
                                            "WHERE e.id = ANY($1) AND d.endpoint_id = $2 GROUP BY e.id, e.relayed_at, "
                                            "o.created_at", worst, fast["id"])]
        print(f"slowest: {trail}")
        assert p99 < 10, f"event-to-delivery p99 {p99:.2f} s; slowest {slowest}; restarts {timeline}"
        assert interrupted > 0, "no completion was in flight at a checkout kill"
        slow_ones = [(c.done_at - began, [(round(t - began, 2), f) for t, f in c.failures][-8:])
                     for c in traffic.calls if c.route == "complete" and c.failures and c.done_at - c.failures[0][0] > 5]
        assert worst_recovery < 10, (sorted(recovery)[-5:], slow_ones,
                                     [(round(k - began, 2), round(r - began, 2)) for k, r in checkout_restarts])
        assert traffic.lost_answers_replayed > 0
    finally:
        for client in clients:
            await client.aclose()
