"""The distributed deployment, proven with real processes on loopback.

What compose.yaml runs, started here as processes with the commands compose.yaml names (each
container port becomes a free loopback port): `kassa migrate` on a fresh PostgreSQL database, two
cart processes, one checkout, one webhooks, two workers (arq on Redis, under this run's key
prefix), and the gateway (nginx with deploy/nginx/kassa.conf.template) in front. Each process's health check, as
compose.yaml writes it, must pass. Every request goes through the gateway; a receiver on 127.0.0.1
verifies every webhook (Standard Webhooks signatures).

One cluster serves every scenario, in order (one test function: the scenarios build on each
other's data, and xdist must not split them over two clusters):

A. 20 storefront journeys and an abandonment sweep of 10 carts, then quiet: each process's
   /metrics is scraped and checked against what the test did (requests by route and status,
   deliveries, carts abandoned, outbox and delivery backlog).
B. 180 more journeys from concurrent clients; a third of the way in, one cart process is killed
   with SIGKILL. Clients retry failed requests with their Idempotency-Key. Then 90 more idle carts
   fall due, the sweep is queued, and one worker is killed with SIGKILL mid-backlog.
   At the end: every order exactly once, every event of the outbox (order.created, cart.updated,
   cart.abandoned, ...) delivered at least once under its own event id, every due cart abandoned
   exactly once with one cart.abandoned; only requests in flight at the kill failed.
C. `/internal/...` through the gateway answers 404.

Time across processes: the carts that should fall due are made idle in the database
(`last_activity_at` two days back, past the default 24-hour threshold). No process's clock moves
and no test-only setting exists in the product; the sweep sees carts exactly as it would a day later.
The minute cron jobs (abandon_carts, webhooks_deliver_sweep) are queued by the test when it needs
them rather than awaited at the next minute.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
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
from kassa_platform.jobs import ArqQueue
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import REDIS_PREFIX, free_port, fresh_database
from tests.e2e.cluster import GATEWAY_TEMPLATE, Gateway, Kassa, compose_config, compose_env_file, on_loopback
from tests.support.cards import OK_CARD as CARD
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.slow

ADDRESS = {"addressLine1": "Unter den Linden 1", "city": "Berlin", "countryCode": "DE"}
JOURNEYS_A, JOURNEYS_B = 20, 180
DUE_A, DUE_B = 10, 90
CLIENTS = 16
KILL_CART_AFTER = 15  # journeys of phase B completed when cart-2 dies (early: see the note in check_outcome)
KILL_WORKER_AFTER = 140
CART_ROUTES = ("/api/v1/carts", "/internal/carts")
RETRY_LATER = ("idempotency_key_in_progress", "checkout_in_progress")  # 409s that say "try again shortly"


# ---------------------------------------------------------------- the cluster


@dataclass
class Cluster:
    db: str
    redis_prefix: str
    gateway: Gateway
    services: dict[str, Kassa]
    workers: list[Kassa]
    app_id: str = ""
    key: str = ""
    service_token: str = ""

    def everyone(self) -> list[Kassa]:
        return [*self.services.values(), *self.workers]


def start_cluster(tmp: Path, docker_compose: str, db: str, redis_url: str) -> Cluster:
    compose = compose_config(docker_compose, compose_env_file(tmp))["services"]
    prefix = f"{REDIS_PREFIX}-cluster"
    shared = {k: v for k, v in os.environ.items() if not k.startswith("KASSA_")}
    shared.update(KASSA_DATABASE_URL=db, KASSA_REDIS_URL=redis_url, KASSA_REDIS_PREFIX=prefix,
                  KASSA_SERVICE_TOKEN=secrets.token_urlsafe(32), KASSA_SIGNING_KEY=secrets.token_urlsafe(32),
                  KASSA_LOG_FORMAT="text", KASSA_ACCESS_LOG="1",
                  # PostgreSQL's connections are shared with the rest of the suite: small pools.
                  KASSA_DB_POOL_SIZE="2",
                  # The receiver is on loopback; a killed worker's claims come back after 3 s, not 60.
                  KASSA_WEBHOOKS_ALLOW_PRIVATE_NETWORKS="all", KASSA_WEBHOOKS_LEASE_SECONDS="3",
                  # One key drives every simulated shopper, beyond one storefront's 100 writes/s.
                  KASSA_RATE_LIMIT_READS="100000", KASSA_RATE_LIMIT_WRITES="100000",
                  KASSA_RATE_LIMIT_COMPLETES="100000")
    ports = {name: free_port() for name in ("cart-1", "cart-2", "checkout", "webhooks", "gateway")}
    # Compose gives both cart replicas one name, `cart`; loopback has no such alias, so the calls of
    # checkout and the workers go to cart-1 (the cart process killed below is cart-2).
    shared["KASSA_CART_URL"] = f"http://127.0.0.1:{ports['cart-1']}"

    def env(name: str) -> dict[str, str]:
        (tmp / name).mkdir(exist_ok=True)
        return {**shared, "KASSA_DATA_DIR": str(tmp / name)}

    def kassa_args(name: str, port: int | None, container_port: str) -> list[str]:
        command = compose[name]["command"]
        assert command[0] == "kassa", command
        return on_loopback(command[1:], {container_port: port} if port else {})

    migrate = subprocess.run([sys.executable, "-m", "kassa.cli", *kassa_args("migrate", None, "")], env=env("migrate"),
                             capture_output=True, text=True, timeout=120)
    assert migrate.returncode == 0 and "migrations applied" in migrate.stdout, migrate.stderr
    services = {name: Kassa(name, kassa_args(name, ports[name], "8000"), ports[name], env(name), tmp / f"{name}.log")
                for name in ("cart-1", "cart-2", "checkout", "webhooks")}
    workers = []
    for i in range(compose["worker"]["deploy"]["replicas"]):
        port = free_port()
        workers.append(Kassa(f"worker-{i + 1}", kassa_args("worker", port, "9100"), port, env(f"worker-{i + 1}"),
                             tmp / f"worker-{i + 1}.log"))
    # The gateway: the image compose.yaml builds renders this template; its replicas (compose's
    # names) on loopback ports.
    assert compose["gateway"]["build"]["context"] == str(GATEWAY_TEMPLATE.parent)
    servers = compose["gateway"]["environment"]
    upstreams = {service: [f"127.0.0.1:{ports[host]}" for host, _ in
                           re.findall(r"server ([\w.-]+):(\d+);", servers[f"KASSA_{service.upper()}_SERVERS"])]
                 for service in ("cart", "checkout", "webhooks")}
    gateway = Gateway(ports["gateway"], upstreams, tmp)
    return Cluster(db, prefix, gateway, services, workers, service_token=shared["KASSA_SERVICE_TOKEN"])


def health_checks_pass(docker_compose: str, tmp: Path, cluster: Cluster) -> None:
    """Each process's health check, as compose.yaml writes it, run against the process."""
    compose = compose_config(docker_compose, compose_env_file(tmp))["services"]
    checks: list[tuple[str, list[str], int, str]] = [
        (name, compose[name]["healthcheck"]["test"], p.port, "8000") for name, p in cluster.services.items()]
    checks += [(w.name, compose["worker"]["healthcheck"]["test"], w.port, "9100") for w in cluster.workers]
    checks.append(("gateway", compose["gateway"]["healthcheck"]["test"], cluster.gateway.port, "8000"))
    for name, test, port, container_port in checks:
        assert test[0] == "CMD", test
        argv = [a.replace(f"127.0.0.1:{container_port}/", f"127.0.0.1:{port}/") for a in test[1:]]
        argv = [sys.executable if a == "python" else a for a in argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, f"{name}'s health check failed: {argv}\n{done.stdout}{done.stderr}"


class ReceiverThread:
    """The merchant's receiver on an event loop of its own: it answers while the test waits."""

    def __init__(self) -> None:
        self.receiver = Receiver()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="receiver", daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.receiver.start(), self.loop).result(10)

    def received(self) -> list[Any]:
        return [r for r in list(self.receiver.received) if r.verified]

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.receiver.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


# ---------------------------------------------------------------- storefront clients


@dataclass
class Traffic:
    """What the clients sent and what failed, on both sides of the cart kill."""

    sent: Counter = field(default_factory=Counter)  # (method, route, status) of answered requests
    in_flight_cart: int = 0
    killing: bool = False  # from the SIGKILL until the process is gone (its sockets close as it exits)
    killed_at: float | None = None  # when it was gone
    in_flight_at_kill: int = 0  # cart requests in flight at the SIGKILL, or started before the process was gone
    failed_before_kill: list[str] = field(default_factory=list)  # requests sent before the kill that failed
    failed_after_kill: list[str] = field(default_factory=list)
    database_busy: int = 0  # 503s of a service (not of the gateway): PostgreSQL refused a connection
    executed: list[str] = field(default_factory=list)  # retries answered 409 `idempotency_key_executed`
    db: str = ""


async def call(api: httpx.AsyncClient, traffic: Traffic, method: str, path: str, route: str, body: Any = None,
               key: str | None = None) -> dict[str, Any] | None:
    """One storefront request, retried with the same Idempotency-Key until it gets an answer; None
    when that answer is 409 `idempotency_key_executed` (it ran, its answer was lost)."""
    headers = {"Idempotency-Key": key} if key else {}
    deadline = time.monotonic() + 120
    while True:
        to_cart = path.startswith(CART_ROUTES)
        started = time.monotonic()
        traffic.in_flight_cart += to_cart
        traffic.in_flight_at_kill += to_cart and traffic.killing
        try:
            response = await api.request(method, path, json=body, headers=headers)
        except httpx.TransportError as exc:
            response, failure = None, f"{method} {path}: {type(exc).__name__}"
        else:
            failure = None
            if response.status_code == 503:
                if "did not answer" in response.json()["error"]["message"]:  # the gateway's own 503
                    failure = f"{method} {path}: gateway 503"
                else:
                    traffic.database_busy += 1
        finally:
            traffic.in_flight_cart -= to_cart
        if failure is not None:
            after = traffic.killed_at is not None and started >= traffic.killed_at
            (traffic.failed_after_kill if after else traffic.failed_before_kill).append(failure)
        elif response is not None and response.status_code == 409 and \
                response.json()["error"]["code"] == "idempotency_key_executed":
            # The first attempt's change committed, its process died before storing the answer.
            traffic.executed.append(f"{method} {path}")
            return None
        elif response is not None and not (response.status_code == 503 or (
                response.status_code == 409 and response.json()["error"]["code"] in RETRY_LATER)):
            traffic.sent[(method, route, response.status_code)] += 1
            if response.status_code == 409 and traffic.db:
                rows = await sql(traffic.db, "SELECT * FROM idempotency_keys WHERE key = $1", key)
                raise AssertionError(f"{method} {path} {body}: {response.text} {[dict(r) for r in rows]}")
            assert response.status_code < 400, f"{method} {path}: {response.status_code} {response.text}"
            return response.json()
        # Not answered, or "try again shortly": the key is still held by the process that died with
        # the first attempt (taken over when its lock runs out), or that attempt's completion is
        # still being finished. The same request again, shortly.
        assert time.monotonic() < deadline, f"{method} {path} never succeeded"
        await asyncio.sleep(0.2)


async def journey(api: httpx.AsyncClient, traffic: Traffic, n: str, variants: list[str], method_id: str) -> str:
    """cart -> lines -> address -> shipping -> session -> complete; returns the cart id."""
    cart = await call(api, traffic, "POST", "/api/v1/carts", "/api/v1/carts", {"currency": "EUR"}, f"{n}-cart")
    if cart is None:  # created, but its id died with the answer: the storefront makes another (docs/idempotency.md)
        cart = await call(api, traffic, "POST", "/api/v1/carts", "/api/v1/carts", {"currency": "EUR"}, f"{n}-cart-2")
    assert cart is not None
    path = f"/api/v1/carts/{cart['id']}"
    lines = "/api/v1/carts/{cart_id}/line-items"
    await call(api, traffic, "POST", f"{path}/line-items", lines, {"variantId": variants[0], "quantity": 1}, f"{n}-l1")
    await call(api, traffic, "POST", f"{path}/line-items", lines, {"variantId": variants[1], "quantity": 2}, f"{n}-l2")
    await call(api, traffic, "PATCH", path, "/api/v1/carts/{cart_id}",
               {"shippingAddress": ADDRESS, "customerEmail": f"{n}@example.com"})
    await call(api, traffic, "PUT", f"{path}/shipping-method", "/api/v1/carts/{cart_id}/shipping-method",
               {"shippingMethodId": method_id})
    session = await call(api, traffic, "POST", "/api/v1/checkout/sessions", "/api/v1/checkout/sessions",
                         {"cartId": cart["id"]}, f"{n}-session")
    assert session is not None  # the checkout process is never killed
    done = await call(api, traffic, "POST", f"/api/v1/checkout-sessions/{session['id']}/complete",
                      "/api/v1/checkout-sessions/{session_id}/complete", {"paymentMethod": CARD}, f"{n}-complete")
    assert done is not None and done["status"] == "complete" and done["orderId"], done
    return cart["id"]


async def run_journeys(clients: list[httpx.AsyncClient], traffic: Traffic, names: list[str], variants: list[str],
                       method_id: str, milestones: dict[int, Any] | None = None) -> list[str]:
    """The journeys over the clients, each client one journey at a time; `milestones[k]()` runs once
    k journeys have completed."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for name in names:
        queue.put_nowait(name)
    carts: list[str] = []

    async def client(api: httpx.AsyncClient) -> None:
        while not queue.empty():
            carts.append(await journey(api, traffic, queue.get_nowait(), variants, method_id))
            action = (milestones or {}).pop(len(carts), None)
            if action is not None:
                await action()

    await asyncio.gather(*(client(api) for api in clients))
    return carts


# ---------------------------------------------------------------- what the deployment did


async def scrape(base: str) -> dict[tuple[str, frozenset], float]:
    async with httpx.AsyncClient(timeout=10) as client:
        page = (await client.get(f"{base}/metrics")).text
    return {(s.name, frozenset(s.labels.items())): s.value for f in text_string_to_metric_families(page)
            for s in f.samples}


def figure(page: dict, name: str, **labels: str) -> float:
    return page.get((name, frozenset(labels.items())), 0.0)


async def eventually(check, what: str, timeout: float = 60, every: float = 0.1) -> None:  # type: ignore[no-untyped-def]
    """Until `await check()` is true: other processes are working; the test only looks."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(every)


_connections: dict[str, asyncpg.Connection] = {}


async def sql(db: str, query: str, *args: Any) -> list[asyncpg.Record]:
    """A query on the cluster's database, on one connection the test keeps (PostgreSQL's connections
    are shared with the rest of the suite)."""
    conn = _connections.get(db)
    if conn is None or conn.is_closed():
        conn = _connections[db] = await asyncpg.connect(db.replace("postgresql+asyncpg://", "postgresql://"))
    return await conn.fetch(query, *args)


async def outbox(db: str, app_id: str) -> list[asyncpg.Record]:
    # Audit entries' events go only to endpoints that name them (docs/audit-log.md), not to `*`.
    return await sql(db, "SELECT id, type, aggregate_id FROM outbox_events WHERE app_id = $1 AND source <> 'audit'",
                     app_id)


async def everything_delivered(db: str, app_id: str, receiver: ReceiverThread) -> bool:
    """Every event this application wrote to the outbox reached the receiver, verified."""
    return {r["id"] for r in await outbox(db, app_id)} <= {r.event_id for r in receiver.received()}


async def make_idle(db: str, cart_ids: list[str]) -> None:
    """Two days without activity: past the default abandonment threshold of 24 hours."""
    await sql(db, "UPDATE carts SET last_activity_at = now() - interval '2 days' WHERE id = ANY($1)", cart_ids)


async def queue_job(cluster: Cluster, redis_url: str, name: str) -> None:
    """What the minute cron would queue, queued now."""
    queue = ArqQueue(redis_url, cluster.redis_prefix)
    try:
        await queue.enqueue(name, job_id=f"{name}:test:{uuid.uuid4().hex}")
    finally:
        await queue.close()


# ---------------------------------------------------------------- the test


@pytest.fixture
async def cluster_db() -> Any:
    async with fresh_database(f"kassa_e2e_cluster_{uuid.uuid4().hex[:10]}") as url:
        yield url


async def test_the_distributed_deployment(tmp_path: Path, cluster_db: str, redis_url: str, nginx: str,
                                          docker_compose: str) -> None:
    began = time.monotonic()
    cluster = await asyncio.to_thread(start_cluster, tmp_path, docker_compose, cluster_db, redis_url)
    receiver = ReceiverThread()
    timings: dict[str, float] = {}
    try:
        for process in [*cluster.everyone(), cluster.gateway]:
            process.start()
        engine = create_engine(cluster_db, pool_size=1)
        async with transaction(Database(engine)) as conn:
            cluster.app_id = await create_application(conn, "cluster shop", "test", Clock().now())
            cluster.key = await create_key(conn, cluster.app_id, kind="secret", scopes=["*"], now=Clock().now())
        await engine.dispose()
        for process in cluster.everyone():
            await asyncio.to_thread(process.wait_ready)
        await asyncio.to_thread(cluster.gateway.wait_ready)
        await asyncio.to_thread(health_checks_pass, docker_compose, tmp_path, cluster)
        timings["start"] = time.monotonic() - began
        await scenarios(cluster, receiver, redis_url, timings)
    finally:
        receiver.stop()
        for process in [cluster.gateway, *cluster.everyone()]:
            process.stop()
        conn = _connections.pop(cluster_db, None)
        if conn is not None:
            await conn.close()
    print(f"\ncluster test timings (s): {timings}, total {time.monotonic() - began:.1f}")


async def scenarios(cluster: Cluster, receiver: ReceiverThread, redis_url: str, timings: dict[str, float]) -> None:
    gateway = cluster.gateway.base
    auth = {"Authorization": f"Bearer {cluster.key}"}
    clients = [httpx.AsyncClient(base_url=gateway, headers=auth, timeout=60) for _ in range(CLIENTS)]
    api = clients[0]
    traffic = Traffic(db=cluster.db)
    mark = time.monotonic()
    try:
        # The shop: two variants, a shipping method, a webhook endpoint for every event.
        product = await call(api, traffic, "POST", "/api/v1/products", "", {"name": "Tee", "variants": [
            {"sku": "CL-1", "prices": {"EUR": 1500}}, {"sku": "CL-2", "prices": {"EUR": 2500}}]}, "product")
        variants = [v["id"] for v in product["variants"]]
        method = await call(api, traffic, "POST", "/api/v1/shipping-methods", "",
                            {"name": "Post", "prices": {"EUR": 490}}, "shipping")
        endpoint = await call(api, traffic, "POST", "/api/v1/webhook-endpoints", "",
                              {"url": receiver.receiver.url, "enabledEvents": ["*"]}, "endpoint")
        receiver.receiver.secrets.append(endpoint["secret"])
        # Carts that will be left idle, then swept: a line each, created in one call.
        idle = [(await call(api, traffic, "POST", "/api/v1/carts", "/api/v1/carts", {
            "currency": "EUR", "lineItems": [{"variantId": variants[0], "quantity": 1}]}, f"idle-{i}"))["id"]
            for i in range(DUE_A + DUE_B)]

        # ---- A: journeys, a sweep, quiet; then every process's figures against what happened.
        traffic.sent.clear()
        before = await scrape_services(cluster)
        carts_a = await run_journeys(clients, traffic, [f"a{i}" for i in range(JOURNEYS_A)], variants, method["id"])
        await make_idle(cluster.db, idle[:DUE_A])
        await queue_job(cluster, redis_url, "abandon_carts")
        await eventually(lambda: _abandoned(cluster, idle[:DUE_A]), "phase A's carts abandoned")
        await eventually(lambda: everything_delivered(cluster.db, cluster.app_id, receiver), "phase A's events")
        await check_metrics(cluster, traffic, receiver, before)
        timings["A"] = time.monotonic() - mark
        mark = time.monotonic()

        # ---- B: more journeys; a cart process dies a third of the way; later, a worker mid-backlog.
        cart_2, worker_1 = cluster.services["cart-2"], cluster.workers[0]

        async def kill_cart() -> None:
            # Mid-way: when several cart requests are out (some of them, likely, on cart-2). No await
            # between the count and the kill: no request starts in between.
            deadline = time.monotonic() + 5
            while traffic.in_flight_cart < 4 and time.monotonic() < deadline:
                await asyncio.sleep(0)  # the other clients' requests go out meanwhile
            traffic.in_flight_at_kill, traffic.killing = traffic.in_flight_cart, True
            os.kill(cart_2.pid, signal.SIGKILL)
            await asyncio.to_thread(cart_2.proc.wait)  # type: ignore[union-attr]
            traffic.killing, traffic.killed_at = False, time.monotonic()

        async def kill_worker() -> None:
            await make_idle(cluster.db, idle[DUE_A:])
            await queue_job(cluster, redis_url, "abandon_carts")
            await asyncio.to_thread(worker_1.kill)

        carts_b = await run_journeys(clients, traffic, [f"b{i}" for i in range(JOURNEYS_B)], variants, method["id"],
                                     {KILL_CART_AFTER: kill_cart, KILL_WORKER_AFTER: kill_worker})
        timings["B journeys"] = time.monotonic() - mark

        # The surviving worker finishes: the sweep, and the deliveries the dead one had claimed
        # (theirs come back when the 3 s lease ends). The minute crons, queued now and again.
        async def swept_and_delivered() -> bool:
            await queue_job(cluster, redis_url, "abandon_carts")
            await queue_job(cluster, redis_url, "webhooks_deliver")
            return await _abandoned(cluster, idle) and await everything_delivered(cluster.db, cluster.app_id, receiver)

        await eventually(swept_and_delivered, "every event delivered and every due cart abandoned", timeout=120,
                         every=2)
        timings["B finish"] = time.monotonic() - mark
        await check_outcome(cluster, receiver, traffic, api, carts_a + carts_b, idle)

        # ---- C: service-to-service endpoints are not reachable through the gateway.
        internal = await api.post(f"/internal/carts/{carts_b[0]}/reopen", json={"sessionId": "x", "reason": "x"},
                                  headers={"Authorization": f"Service {cluster.service_token}",
                                           "X-Kassa-Application": cluster.app_id})
        assert internal.status_code == 404 and internal.json()["error"]["code"] == "route_not_found", internal.text
    finally:
        for client in clients:
            await client.aclose()


async def _abandoned(cluster: Cluster, cart_ids: list[str]) -> bool:
    rows = await sql(cluster.db, "SELECT count(DISTINCT cart_id) AS n FROM cart_abandonments WHERE cart_id = ANY($1)",
                     cart_ids)
    return rows[0]["n"] == len(cart_ids)


async def scrape_services(cluster: Cluster) -> dict[str, dict]:
    return {name: await scrape(process.base) for name, process in cluster.services.items()}


async def check_metrics(cluster: Cluster, traffic: Traffic, receiver: ReceiverThread, before: dict[str, dict]) -> None:
    """Phase A, quiet: the figures of every process add up to what the test did and saw."""
    after = await scrape_services(cluster)

    def grew(names: tuple[str, ...], metric: str, **labels: str) -> float:
        return sum(figure(after[n], metric, **labels) - figure(before[n], metric, **labels) for n in names)

    carts = ("cart-1", "cart-2")
    for (method, route, status), count in traffic.sent.items():
        service, names = ("cart", carts) if route.startswith("/api/v1/carts") else ("checkout", ("checkout",))
        counted = grew(names, "kassa_http_requests_total", service=service, method=method, route=route,
                       status=str(status))
        assert counted == count, (method, route, status, count, counted)
    assert grew(carts, "kassa_http_request_duration_seconds_count", service="cart", method="PATCH",
                route="/api/v1/carts/{cart_id}") == JOURNEYS_A
    # Both cart processes served: the gateway balances.
    for name in carts:
        assert grew((name,), "kassa_http_requests_total", service="cart", method="POST",
                    route="/api/v1/carts/{cart_id}/line-items", status="200") > 0, name
    carts_pages = [after[n] for n in carts]
    webhooks = await scrape(cluster.services["webhooks"].base)
    assert figure(webhooks, "kassa_outbox_pending_events") == 0
    assert figure(webhooks, "kassa_outbox_oldest_pending_age_seconds") == 0
    assert figure(webhooks, "kassa_webhook_deliveries_open") == 0
    assert figure(webhooks, "kassa_webhook_endpoints", state="failing") == 0
    delivered = len(receiver.received())  # no process died yet: each delivery was attempted once

    async def workers_counted() -> bool:
        pages = [await scrape(w.base) for w in cluster.workers]
        attempts = sum(figure(p, "kassa_webhook_delivery_attempts_total", result="succeeded") for p in pages)
        abandoned = sum(figure(p, "kassa_carts_abandoned_total") for p in pages)
        sweeps = sum(figure(p, "kassa_job_runs_total", job="abandon_carts", result="ok") for p in pages)
        relays = sum(figure(p, "kassa_job_runs_total", job="webhooks_relay", result="ok") for p in pages)
        return attempts == delivered and abandoned == DUE_A and sweeps >= 1 and relays >= 1

    await eventually(workers_counted, "the workers' figures", timeout=10)
    pools = [figure(p, "kassa_db_pool_connections", pool="direct", state="size") for p in carts_pages]
    assert pools == [2, 2]


async def check_outcome(cluster: Cluster, receiver: ReceiverThread, traffic: Traffic, api: httpx.AsyncClient,
                        journey_carts: list[str], idle: list[str]) -> None:
    assert len(journey_carts) == len(set(journey_carts)) == JOURNEYS_A + JOURNEYS_B
    # Every order exactly once, one charge each, every cart with exactly its two lines.
    orders = await sql(cluster.db, "SELECT cart_id, count(*) AS n FROM orders WHERE app_id = $1 GROUP BY cart_id",
                       cluster.app_id)
    assert {r["cart_id"]: r["n"] for r in orders} == dict.fromkeys(journey_carts, 1)
    charges = await sql(cluster.db, "SELECT charges FROM test_payment_intents i JOIN checkout_sessions s ON s.id = i.key "
                        "WHERE s.app_id = $1", cluster.app_id)
    assert [r["charges"] for r in charges] == [1] * len(journey_carts)
    carts = await sql(cluster.db, "SELECT id, item_count, status FROM carts WHERE id = ANY($1)", journey_carts)
    assert {r["status"] for r in carts} == {"converted"}
    doubled = sorted(r["id"] for r in carts if r["item_count"] != 3)  # checked last, below
    # Every event delivered at least once, under its own event id; the kills lost none.
    events = await outbox(cluster.db, cluster.app_id)
    received = receiver.received()
    by_id: dict[str, set[bytes]] = {}
    for r in received:
        by_id.setdefault(r.event_id, set()).add(r.body)
    assert {e["id"] for e in events} == set(by_id)
    assert all(len(bodies) == 1 for bodies in by_id.values())  # a repeat is the same event, byte for byte
    types = Counter(e["type"] for e in events)
    assert types["order.created"] == len(journey_carts)
    assert types["cart.updated"] >= 4 * len(journey_carts)  # two lines, the address, the shipping method
    # Every due cart abandoned exactly once, with exactly one cart.abandoned.
    abandonments = await sql(cluster.db, "SELECT cart_id, count(*) AS n FROM cart_abandonments WHERE app_id = $1 "
                             "GROUP BY cart_id", cluster.app_id)
    assert {r["cart_id"]: r["n"] for r in abandonments} == dict.fromkeys(idle, 1)
    abandoned_events = Counter(e["aggregate_id"] for e in events if e["type"] == "cart.abandoned")
    assert abandoned_events == Counter(idle)
    # The cart kill: only requests in flight at that moment failed, and each succeeded when retried.
    assert traffic.killed_at is not None
    assert len(traffic.failed_before_kill) <= traffic.in_flight_at_kill, traffic.failed_before_kill
    assert traffic.failed_after_kill == []
    print(f"\ncart kill: {traffic.in_flight_at_kill} cart requests in flight, {len(traffic.failed_before_kill)} failed "
          f"and were retried; {len(received)} webhook requests for {len(events)} events; "
          f"{traffic.database_busy} database-busy 503s; {len(traffic.executed)} retries answered "
          f"idempotency_key_executed")
    # Every cart with exactly its two lines (quantities 1 and 2): a POST whose process died after
    # its change committed but before its answer was stored is never run again by a retry (its key
    # was marked executed with the change); the retry is answered 409 `idempotency_key_executed`.
    assert doubled == [], f"carts {doubled} got a line twice"
