"""Load benchmark for completing checkout sessions on PostgreSQL: prints figures, it is not a test.

    ./dev bench checkout_load [--duration 30] [--clients 64] [--quick] [--mode embedded|distributed|both]
                              [--no-profile] [--idempotency-keys] [--keep-database] [--provider test|stripe]
                              [--rate R]

Each mode: drop and recreate the database at KASSA_BENCH_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/kassa_checkout_bench; dropped again at the end unless
--keep-database), `kassa migrate`, an application and secret key from the CLI, then the servers:
embedded, ONE process `kassa serve` (cart, checkout and webhook services behind the path router;
checkout calls the cart service in the same process); distributed, `kassa serve cart`,
`kassa serve checkout` (calling the cart over loopback HTTP) and `kassa serve webhooks`. No
Redis: jobs in-process. A product (3 EUR variants), a shipping method and a DE tax rate are made
through the API.

Every complete gets a session of its own, prepared through the API BEFORE the phase that uses it
(not timed): a cart created with 2 or 3 lines and a shipping address, its shipping method chosen,
then `POST /api/v1/checkout/sessions`. After preparing, the driver waits until the webhook relay
has drained the outbox, so the phase measures completes alone. What is timed is
`POST /api/v1/checkout-sessions/{id}/complete` (shipping address, test card 4242…): cart lock
with reprice, payment (authorize + capture), order, cart conversion.

1. calibration: --clients buyers complete back to back for a few seconds (also the warm-up);
   its rate sizes how many sessions the next phase prepares;
2. closed loop: --clients buyers (one keep-alive connection each) complete back to back for
   --duration seconds after a warm-up -> the most completes per second;
3. open loop: completes sent on a fixed schedule at half that rate for --duration seconds after a
   warm-up; a complete's latency counts from its scheduled send time (no coordinated omission);
4. embedded, unless --no-profile: the closed and the open loop again with py-spy sampling the
   server, sorted into the parts of a complete (checkout_breakdown.py); then, with the server
   stopped, completes run in this process one at a time to count SQL statements, round trips,
   transactions and internal calls per complete, and the CPU of the ASGI, saga and relay parts.

With `--provider stripe` the application takes its payments with Stripe, played by localstripe
(a third party's stateful fake of Stripe's API, started on loopback): each session gets a card
token made as Stripe.js makes it (untimed), each complete pays with it (Stripe customer, intent,
confirm); embedded only, without the profile and accounting phases. localstripe's CPU per complete
is printed apart from Kassa's (target for Kassa's: at most 10 ms).

Targets: at most 8 ms of server CPU per complete (test provider); p99 of a complete under 150 ms at half load. A
missed latency target prints MISSED, any non-2xx response is reported loudly, the database is
checked afterwards (one order and one capture per successful complete, no session left
claimed), and the exit code is 0 whenever the run completes. CPU figures read /proc (Linux: the
postgres figure sums every postgres process, other users' too); transactions per complete come
from pg_stat_database.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path

import asyncpg
import httpx
import uvloop
from checkout_breakdown import account, print_accounting, print_profile
from common import (
    Server,
    bench_env,
    cpu_snapshot,
    masked,
    migrate_and_create_app,
    pct,
    plain_dsn,
    print_cpu,
    print_failures,
    process_cpu,
    recreate_database,
    seed,
    single_connection_clients,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: localstripe's launcher
from tests.support.localstripe import PUBLISHABLE_KEY as STRIPE_PUBLISHABLE_KEY  # noqa: E402
from tests.support.localstripe import LocalStripe, start_localstripe  # noqa: E402

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/kassa_checkout_bench"
TARGET_P99_MS = 150.0
PREPARERS = 32  # concurrent session preparers (untimed)
DISTRIBUTED_POOL = "10"  # KASSA_DB_POOL_SIZE of each distributed process
ADDRESS = {"firstName": "Bench", "lastName": "Buyer", "addressLine1": "Unter den Linden 1", "city": "Berlin",
           "postalCode": "10117", "countryCode": "DE"}
CARD = {"type": "card", "card": {"number": "4242424242424242", "expMonth": 12, "expYear": 2030, "cvc": "123"}}
PG_COUNTERS = ("xact_commit", "xact_rollback", "tup_returned", "tup_fetched", "tup_inserted", "tup_updated",
               "tup_deleted")


# ---------------------------------------------------------------- load driver (separate process)


@dataclass(frozen=True)
class Phase:
    kind: str  # "calibrate" | "closed" | "open"
    base_url: str  # the checkout service: sessions and completes
    cart_url: str  # the cart service: carts (the same base when embedded)
    key: str
    db_url: str
    variants: list[str]
    method_id: str
    server_pids: dict[str, int]  # the server processes whose CPU counts (py-spy samples the first)
    clients: int
    duration: float  # the measured window (calibrate: the most it runs)
    warmup: float  # before the measured window (not counted)
    prepare: int  # sessions to prepare before the phase
    rate: float = 0.0  # completes/s of the open loop
    idempotency_keys: bool = False
    profile: str = ""  # a file: py-spy samples the server over the measured window into it (raw stacks)
    stripe_url: str = ""  # localstripe, when the application pays with Stripe
    stripe_pid: int = 0


def drive(phase: Phase) -> dict:
    """Entry point of the driver process: prepare sessions, run one phase, return what was measured."""
    return uvloop.run(_drive(phase))


async def _pg_counters(db: asyncpg.Connection) -> dict[str, int]:
    row = await db.fetchrow(f"SELECT {', '.join(PG_COUNTERS)} FROM pg_stat_database WHERE datname = current_database()")
    return dict(row)


async def _drive(p: Phase) -> dict:
    # One single-connection client per connection: httpcore's pool costs O(connections) per request.
    clients = single_connection_clients(p.base_url, p.key, max(p.clients, PREPARERS), timeout=60)
    carts = clients if p.cart_url == p.base_url else single_connection_clients(p.cart_url, p.key, PREPARERS, 60)
    db = await asyncpg.connect(plain_dsn(p.db_url))
    try:
        prep_started = time.perf_counter()
        sessions, prep_errors = await _prepare(p, list(zip(carts[:PREPARERS], clients[:PREPARERS], strict=True)))
        tokens = await _card_tokens(p, sessions) if p.stripe_url else {}
        prep_seconds = time.perf_counter() - prep_started
        drained = await _outbox_drained(db)
        result = await _run(p, clients[:p.clients], sessions, db, tokens)
    finally:
        await asyncio.gather(*(c.aclose() for c in {*clients, *carts}))
        await db.close()
    result.update(prepared=len(sessions), prep_seconds=prep_seconds, prep_errors=prep_errors, drained=drained)
    return result


async def _prepare(p: Phase, clients: list[tuple[httpx.AsyncClient, httpx.AsyncClient]]) -> tuple[list[str], list[str]]:
    """p.prepare sessions, each on a cart of its own (2 or 3 lines, shipping address and method);
    `clients`: pairs of (cart service, checkout service) clients."""
    sessions: list[str] = []
    errors: list[str] = []
    todo = iter(range(p.prepare))

    async def preparer(cart_client: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
        for i in todo:
            lines = [{"variantId": v, "quantity": 1 + (i + j) % 2} for j, v in enumerate(p.variants[:2 + i % 2])]
            try:
                r = await cart_client.post("/api/v1/carts", json={"currency": "EUR", "shippingAddress": ADDRESS,
                                                                  "lineItems": lines})
                r.raise_for_status()
                cart_id = r.json()["id"]
                r = await cart_client.put(f"/api/v1/carts/{cart_id}/shipping-method",
                                     json={"shippingMethodId": p.method_id})
                r.raise_for_status()
                r = await client.post("/api/v1/checkout/sessions", json={"cartId": cart_id})
                r.raise_for_status()
                sessions.append(r.json()["id"])
            except httpx.HTTPStatusError as exc:
                errors.append(f"{exc.request.method} {exc.request.url.path} -> {exc.response.status_code} "
                              f"{exc.response.text[:200]}")
            except httpx.HTTPError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

    await asyncio.gather(*(preparer(*pair) for pair in clients))
    return sessions, errors


async def _card_tokens(p: Phase, sessions: list[str]) -> dict[str, str]:
    """A card token per session, made as Stripe.js makes it in the shopper's browser (untimed)."""
    tokens: dict[str, str] = {}
    todo = iter(sessions)
    async with httpx.AsyncClient(base_url=p.stripe_url, timeout=60) as http:
        async def maker() -> None:
            for session_id in todo:
                r = await http.post("/v1/tokens", data={"card[number]": "4242424242424242", "card[exp_month]": "12",
                                                        "card[exp_year]": "30", "card[cvc]": "123",
                                                        "key": STRIPE_PUBLISHABLE_KEY})
                r.raise_for_status()
                tokens[session_id] = r.json()["id"]

        await asyncio.gather(*(maker() for _ in range(8)))
    return tokens


async def _outbox_drained(db: asyncpg.Connection, limit: float = 120.0) -> bool:
    """Wait until the server's webhook relay has published every outbox row (it runs in the server)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if not await db.fetchval("SELECT EXISTS (SELECT 1 FROM outbox_events WHERE published_at IS NULL)"):
            await asyncio.sleep(0.5)  # the relay's last transaction settles
            return True
        await asyncio.sleep(0.2)
    return False


async def _run(p: Phase, clients: list[httpx.AsyncClient], sessions: list[str], db: asyncpg.Connection,
               tokens: dict[str, str]) -> dict:
    latencies: list[float] = []  # ms; successes inside the measured window
    slowest: list[tuple[float, float, float]] = []  # (ms, s into the window, monotonic second of the minute)
    send_delays: list[float] = []  # ms; open loop: scheduled -> request handed to httpx
    errors: Counter[str] = Counter()
    examples: list[str] = []
    outcome = {"ok": 0, "ok_in_window": 0, "launched": 0, "ran_out": False, "last_ok": 0.0}
    queue = list(reversed(sessions))
    idle: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
    for client in clients:
        idle.put_nowait(client)
    t0 = time.perf_counter()
    m0, m1 = t0 + p.warmup, t0 + p.warmup + p.duration  # the measured window
    marks: dict[str, dict] = {}

    async def complete(client: httpx.AsyncClient, session_id: str, started: float) -> None:
        """One complete; its latency counts from `started` (the scheduled time in the open loop)."""
        headers = {"Idempotency-Key": f"complete-{session_id}"} if p.idempotency_keys else None
        try:
            method = {"type": "card", "token": tokens[session_id]} if tokens else CARD
            r = await client.post(f"/api/v1/checkout-sessions/{session_id}/complete", headers=headers,
                                  json={"shippingAddress": ADDRESS, "paymentMethod": method})
        except httpx.HTTPError as exc:
            errors[type(exc).__name__] += 1
            return
        end = time.perf_counter()
        if r.status_code != 200 or r.json().get("status") != "complete":
            errors[f"HTTP {r.status_code}"] += 1
            if len(examples) < 5:
                examples.append(f"POST {r.request.url.path} -> {r.status_code} {r.text[:300]}")
            return
        outcome["ok"] += 1
        outcome["last_ok"] = end
        if m0 <= started <= m1 and end <= m1 + 30:
            latencies.append((end - started) * 1000)
            slowest.append((latencies[-1], started - m0, started % 60))
            if len(slowest) > 50:
                slowest.sort(reverse=True)
                del slowest[5:]
        if m0 <= end <= m1:
            outcome["ok_in_window"] += 1

    async def buyer() -> None:
        client = await idle.get()
        while time.perf_counter() < m1:
            if not queue:
                outcome["ran_out"] = True
                return
            await complete(client, queue.pop(), time.perf_counter())

    async def arrival(due: float) -> None:
        client = await idle.get()
        try:
            if not queue:
                outcome["ran_out"] = True
                errors["no prepared session left"] += 1
                return
            if m0 <= due <= m1:
                send_delays.append((time.perf_counter() - due) * 1000)
            await complete(client, queue.pop(), due)
        finally:
            idle.put_nowait(client)

    async def scheduler() -> None:
        async with asyncio.TaskGroup() as in_flight:
            i = 0
            while (due := t0 + i / p.rate) < m1:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                in_flight.create_task(arrival(due))
                outcome["launched"] += m0 <= due
                i += 1

    spy: list[asyncio.subprocess.Process] = []

    async def mark(name: str, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        cpu = cpu_snapshot(p.server_pids)
        if p.stripe_pid and cpu:  # the payment provider's stand-in, apart from Kassa's own CPU
            cpu["localstripe"] = process_cpu(p.stripe_pid)
        marks[name] = {"cpu": cpu, "pg": await _pg_counters(db), "at": time.perf_counter()}
        if name == "start" and p.profile:
            spy.append(await asyncio.create_subprocess_exec(
                shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(next(iter(p.server_pids.values()))), "--rate", "200",
                "--duration", str(int(p.duration)), "--format", "raw", "--native", "--output", p.profile,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL))

    markers = [asyncio.create_task(mark("start", m0)), asyncio.create_task(mark("end", m1))]
    if p.kind == "open":
        await scheduler()
    else:
        await asyncio.gather(*(buyer() for _ in range(p.clients)))
    if p.kind == "calibrate":  # it stops early when the prepared sessions run out
        for task in markers:
            task.cancel()
        elapsed = max(outcome["last_ok"] - t0, 1e-6)
        return {"kind": p.kind, "rate": outcome["ok"] / elapsed, "ok": outcome["ok"], "elapsed": elapsed,
                "latencies": latencies, "errors": dict(errors), "examples": examples, "duration": p.duration}
    await asyncio.gather(*markers)
    for process in spy:
        await process.wait()
    cpu = {k: marks["end"]["cpu"][k] - marks["start"]["cpu"][k] for k in marks["start"]["cpu"]}
    pg = {k: marks["end"]["pg"][k] - marks["start"]["pg"][k] for k in PG_COUNTERS}
    return {"kind": p.kind, "latencies": latencies, "send_delays": send_delays, "errors": dict(errors),
            "slowest": sorted(slowest, reverse=True)[:5],
            "examples": examples, "duration": p.duration, "cpu": cpu, "pg": pg, **outcome}


# ---------------------------------------------------------------- report


def print_phase(title: str, r: dict) -> None:
    lat, secs = r["latencies"], r["duration"]
    print(f"\n{title}")
    print(f"  prepared {r['prepared']} sessions in {r['prep_seconds']:.1f} s (untimed)"
          + ("" if r["drained"] else "; THE OUTBOX DID NOT DRAIN before the phase"))
    print(f"  {'completes/s (2xx, in the window)':<40}{r['ok_in_window'] / secs:>10.1f}")
    if r["kind"] == "open":
        print(f"  {'completes/s (scheduled)':<40}{r['launched'] / secs:>10.1f}")
    print(f"  {'latency ms':<14}{'p50':>9}{'p90':>9}{'p99':>9}{'p99.9':>9}{'max':>9}{'n':>8}")
    print(f"  {'  complete':<14}" + "".join(f"{pct(lat, q):>9.1f}" for q in (50, 90, 99, 99.9))
          + f"{max(lat, default=float('nan')):>9.1f}{len(lat):>8}")
    if r["kind"] == "open":
        print(f"  {'  send delay':<14}" + "".join(f"{pct(r['send_delays'], q):>9.1f}" for q in (50, 90, 99, 99.9))
              + f"{max(r['send_delays'], default=float('nan')):>9.1f}  (driver: scheduled -> sent)")
    if r["kind"] == "open" and r["slowest"]:
        # (:ss) is CLOCK_MONOTONIC mod 60: the server's in-process cron ticker runs its jobs at :00 of that clock.
        print("  slowest: " + ", ".join(f"{ms:.0f} ms at {at:.1f} s (:{sec:04.1f})" for ms, at, sec in r["slowest"])
              + "   (:ss = monotonic clock mod 60; the server's cron jobs start at :00)")
    done = max(r["ok_in_window"], 1)
    if cpu := r["cpu"]:
        print_cpu(cpu, secs)
        each = ", ".join(f"{k[7:]} {1000 * v / done:.1f}" for k, v in cpu.items() if k.startswith("server "))
        print(f"  CPU ms per complete: server {1000 * cpu['server'] / done:.1f}{f' ({each})' if each else ''}, "
              f"postgres {1000 * cpu['postgres'] / done:.1f}"
              + (f", localstripe {1000 * cpu['localstripe'] / done:.1f} (Stripe's stand-in, not Kassa)"
                 if "localstripe" in cpu else ""))
    if pg := r["pg"]:
        print("  PostgreSQL per complete (whole database, relay included): "
              + ", ".join(f"{k.replace('xact_', 'tx ').replace('tup_', '')} {pg[k] / done:.1f}" for k in PG_COUNTERS))
    if r["ran_out"]:
        print("  !!! THE PREPARED SESSIONS RAN OUT BEFORE THE END: THE FIGURES ABOVE ARE NOT VALID !!!")
    bad = sum(r["errors"].values()) + len(r["prep_errors"])
    if bad:
        print_failures(bad, r["errors"], r["examples"], [f"    preparing: {e}" for e in r["prep_errors"][:5]])


async def check_database(url: str, completes: int, provider: str = "test") -> list[str]:
    """What the completes left behind, against what the driver saw succeed."""
    db = await asyncpg.connect(plain_dsn(url))
    try:
        q = {
            "orders": "SELECT count(*) FROM orders",
            "complete sessions": "SELECT count(*) FROM checkout_sessions WHERE status = 'complete'",
            "captured payments": "SELECT count(*) FROM payments WHERE status = 'captured'",
            "provider charges": "SELECT coalesce(sum(charges), 0) FROM test_payment_intents" if provider == "test"
            else "SELECT count(*) FROM payments WHERE status = 'captured' AND connector = 'stripe'",
            "converted carts": "SELECT count(*) FROM carts WHERE status = 'converted'",
        }
        found = {name: await db.fetchval(sql) for name, sql in q.items()}
        claimed = await db.fetchval("SELECT count(*) FROM checkout_sessions WHERE claim_token IS NOT NULL")
        pending = await db.fetchval("SELECT count(*) FROM checkout_sessions WHERE cart_pending IS NOT NULL")
        # Where PostgreSQL read rows over the whole run (preparation included): a query reading far
        # more rows than it returns shows up here.
        scans = await db.fetch("SELECT relname, seq_scan, seq_tup_read, idx_scan, idx_tup_fetch FROM pg_stat_user_tables "
                               "ORDER BY seq_tup_read + coalesce(idx_tup_fetch, 0) DESC LIMIT 6")
    finally:
        await db.close()
    print("\nRows read by table over the run (pg_stat_user_tables): " + "; ".join(
        f"{r['relname']} {r['seq_scan']} seq scans reading {r['seq_tup_read']}, {r['idx_scan']} index scans "
        f"fetching {r['idx_tup_fetch']}" for r in scans))
    problems = [f"{name}: {n} for {completes} successful completes" for name, n in found.items() if n != completes]
    problems += [f"{claimed} sessions still claimed"] if claimed else []
    problems += [f"{pending} sessions still owe their cart a call"] if pending else []
    print(f"\nDatabase after the run: {', '.join(f'{n} {k}' for k, n in found.items())}; "
          f"{claimed} sessions claimed, {pending} owing a cart call")
    return problems


@dataclass
class Deployment:
    """The server processes of one run mode, and where the driver reaches them."""

    mode: str  # "embedded" | "distributed"
    servers: dict[str, Server]
    base_url: str  # the checkout service
    cart_url: str

    @property
    def pids(self) -> dict[str, int]:
        return {name: server.pid for name, server in self.servers.items()}

    def stop(self) -> None:
        for server in reversed(self.servers.values()):
            server.stop()


def start(mode: str, env: dict[str, str], tmp: Path) -> Deployment:
    """embedded: one `kassa serve` (cart, checkout and webhooks behind the path router; checkout calls
    the cart service in-process). distributed: `kassa serve cart`, `kassa serve checkout` (KASSA_CART_URL
    pointing at the first: its calls go over loopback HTTP) and `kassa serve webhooks` (the relay)."""
    if mode == "embedded":
        server = Server(env, tmp / "server.log").start()
        return Deployment(mode, {"server": server}, server.base, server.base)
    # Three processes of two pools each: 10 connections per pool keep them inside PostgreSQL's
    # default 100 connections beside whatever else uses the server (2 cores use fewer anyway).
    env = {**env, "KASSA_DB_POOL_SIZE": DISTRIBUTED_POOL}
    cart = Server(env, tmp / "cart.log", "cart").start()
    checkout = Server({**env, "KASSA_CART_URL": cart.base}, tmp / "checkout.log", "checkout").start()
    webhooks = Server(env, tmp / "webhooks.log", "webhooks").start()
    # checkout first: py-spy samples the first process
    return Deployment(mode, {"checkout": checkout, "cart": cart, "webhooks": webhooks}, checkout.base, cart.base)


def run_mode(mode: str, args: argparse.Namespace, url: str, key: str, env: dict[str, str], tmp: Path) -> dict | None:
    """Calibrate, closed loop, open loop at half the closed loop's rate (and, embedded, a profiled closed
    loop) against one deployment; prints each phase and returns the figures of the summary."""
    duration = 5.0 if args.quick else args.duration
    warmup = 1.0 if args.quick else 3.0
    stripe = start_localstripe() if args.provider == "stripe" else None
    if stripe is not None:
        env = {**env, "KASSA_STRIPE_API_BASE": stripe.url}
    deployment = start(mode, env, tmp)
    try:
        variants, method_id = seed(deployment.cart_url, key)
        if stripe is not None:
            connect_stripe(deployment.base_url, key, stripe)
        load = os.getloadavg()
        print(f"\n======== {mode}: " + ", ".join(f"{n} pid {pid}" for n, pid in deployment.pids.items())
              + f"; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start")
        phase = Phase("calibrate", deployment.base_url, deployment.cart_url, key, url, variants, method_id,
                      deployment.pids, args.clients, duration=3.0 if args.quick else 6.0, warmup=0.0,
                      prepare=args.clients * (4 if args.quick else 8), idempotency_keys=args.idempotency_keys,
                      stripe_url=stripe.url if stripe else "", stripe_pid=stripe.process.pid if stripe else 0)
        with get_context("spawn").Pool(1) as driver:  # leaving the block terminates the driver process
            print(f"\nCalibrating ({args.clients} buyers, {phase.prepare} sessions) ...", flush=True)
            calibration = driver.apply(drive, (phase,))
            if calibration["errors"] or calibration["prep_errors"] or not calibration["ok"]:
                print_phase("Calibration FAILED", {**calibration, "ok_in_window": 0, "cpu": {}, "pg": {},
                                                   "ran_out": False})
                return None
            print(f"  {calibration['ok']} completes in {calibration['elapsed']:.1f} s: {calibration['rate']:.1f}/s")

            needed = math.ceil(calibration["rate"] * 2.5 * (warmup + duration)) + 2 * args.clients
            closed_phase = replace(phase, kind="closed", duration=duration, warmup=warmup, prepare=needed)
            print(f"\nRunning closed loop ({args.clients} buyers; preparing {needed} sessions first) ...", flush=True)
            closed = driver.apply(drive, (closed_phase,))
            print_phase(f"Closed loop: {args.clients} buyers, {duration:.0f} s", closed)
            max_rate = closed["ok_in_window"] / duration
            rate = args.rate or max_rate / 2
            if rate <= 0:
                print("no complete succeeded in the closed loop; cannot run the open loop")
                return None

            needed = math.ceil(rate * (warmup + duration)) + args.clients
            open_phase = replace(closed_phase, kind="open", rate=rate, prepare=needed)
            print(f"\nRunning open loop at {rate:.1f} completes/s (preparing {needed} sessions first) ...", flush=True)
            opened = driver.apply(drive, (open_phase,))
            share = "as asked" if args.rate else f"half of {max_rate:.1f}"
            print_phase(f"Open loop: {rate:.1f} completes/s ({share}), {duration:.0f} s", opened)

            profiled: list[tuple[str, str, dict]] = []
            if mode == "embedded" and not args.no_profile and stripe is None:
                # Sampled apart from the measured phases: py-spy pauses the server for each sample.
                seconds = 5.0 if args.quick else 15.0
                for title, base, load_rate in (("under the closed loop", closed_phase, max_rate),
                                               ("at half load (open loop)", open_phase, rate)):
                    needed = math.ceil(load_rate * 1.6 * (warmup + seconds)) + 2 * args.clients
                    path = str(tmp / f"profile-{base.kind}.txt")
                    print(f"\nProfiling the server {title} ({seconds:.0f} s, py-spy --native at 200 Hz; preparing "
                          f"{needed} sessions first) ...", flush=True)
                    result = driver.apply(drive, (replace(base, duration=seconds, prepare=needed, profile=path),))
                    print_phase(f"Profiled {title} (py-spy attached), {seconds:.0f} s", result)
                    profiled.append((title, path, result))
    finally:
        deployment.stop()
        if stripe is not None:
            stripe.stop()
    for title, path, result in profiled:
        print_profile(path, title, 1000 * result["cpu"]["server"] / max(result["ok_in_window"], 1))
    phases = (calibration, closed, opened, *(r for _, _, r in profiled))
    completes = sum(r["ok"] for r in phases)
    problems = asyncio.run(check_database(url, completes, args.provider))
    n_errors = sum(sum(r["errors"].values()) + len(r["prep_errors"]) for r in phases)
    per = lambda r: {k: 1000 * v / max(r["ok_in_window"], 1) for k, v in r["cpu"].items()  # noqa: E731
                     if k.startswith("server")}
    return {"max_rate": max_rate, "cpu_full": per(closed), "cpu_half": per(opened),
            "p50": pct(opened["latencies"], 50), "p99": pct(opened["latencies"], 99),
            "max": max(opened["latencies"], default=float("nan")), "errors": n_errors, "problems": problems,
            "invalid": bool(n_errors or closed["ran_out"] or opened["ran_out"] or problems)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per measured phase (default 30)")
    parser.add_argument("--clients", type=int, default=64, help="closed-loop buyers and connections (default 64)")
    parser.add_argument("--quick", action="store_true", help="5 s phases, to check that everything works")
    parser.add_argument("--mode", choices=("embedded", "distributed", "both"), default="both",
                        help="which deployment to measure (default both, embedded first)")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy phase (embedded)")
    parser.add_argument("--idempotency-keys", action="store_true",
                        help="send an Idempotency-Key with every complete, as a careful storefront would")
    parser.add_argument("--keep-database", action="store_true", help="leave the database in place for inspection")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="the open loop's completes/s (default: half the closed loop's); e.g. the Stripe "
                             "run's rate, to compare both providers' CPU per complete at one load")
    parser.add_argument("--provider", choices=("test", "stripe"), default="test",
                        help="the payment provider: the built-in test one, or Stripe played by localstripe "
                             "(embedded only)")
    args = parser.parse_args()
    if args.provider == "stripe":
        args.mode = "embedded"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops the servers
    url = os.environ.get("KASSA_BENCH_DATABASE_URL", DEFAULT_DB)
    modes = ("embedded", "distributed") if args.mode == "both" else (args.mode,)
    load = os.getloadavg()
    print("Kassa checkout completion benchmark")
    print("  embedded     1 process: `kassa serve` (cart + checkout + webhooks behind the path router, uvicorn +\n"
          "               uvloop, no Redis: jobs in-process); checkout calls the cart service in that process")
    print("  distributed  3 processes: `kassa serve cart`, `kassa serve checkout` (KASSA_CART_URL: loopback HTTP),\n"
          "               `kassa serve webhooks`; no Redis: each runs its jobs in-process; "
          f"KASSA_DB_POOL_SIZE={DISTRIBUTED_POOL} each")
    print(f"  database     {masked(url)}, recreated for each mode")
    print(f"  driver       separate process, httpx HTTP/1.1 keep-alive, one connection per buyer; "
          f"{1 if args.quick else 3} s warm-up before each {5 if args.quick else args.duration:.0f} s phase")
    paying = "Stripe (localstripe) with a card token 4242…" if args.provider == "stripe" else "test card 4242…"
    print(f"  complete     POST /api/v1/checkout-sessions/{{id}}/complete ({paying}) on a session prepared "
          f"beforehand{' with an Idempotency-Key' if args.idempotency_keys else ''}")
    print(f"  machine      {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start")

    results: dict[str, dict] = {}
    accounting = None
    for mode in modes:
        asyncio.run(recreate_database(url))
        tmp = Path(tempfile.mkdtemp(prefix=f"kassa-bench-{mode}-"))
        env = bench_env(url, tmp)
        _, key = migrate_and_create_app(env)
        try:
            result = run_mode(mode, args, url, key, env, tmp)
            if result is None:
                return 1
            results[mode] = result
            if mode == "embedded" and args.provider == "test":
                variants, method_id = seed_ids(url)
                accounting = uvloop.run(account(url, str(tmp), key, variants, method_id, 20 if args.quick else 100,
                                                ADDRESS, CARD))
        finally:
            if not args.keep_database:
                asyncio.run(recreate_database(url, create=False))
    if accounting is not None:
        print_accounting(accounting, results["embedded"]["cpu_full"]["server"])
    print_summary(results, args.clients)
    return 0


def connect_stripe(base_url: str, key: str, stripe: LocalStripe) -> None:
    """The application's payment settings: Stripe, with localstripe's keys (checked once on save)."""
    r = httpx.put(f"{base_url}/api/v1/payment-settings", headers={"Authorization": f"Bearer {key}"}, timeout=30,
                  json={"provider": "stripe", "secretKey": stripe.api_key, "publishableKey": stripe.publishable_key})
    r.raise_for_status()


def seed_ids(url: str) -> tuple[list[str], str]:
    """The variants and shipping method that `seed` made (the accounting prepares its own sessions)."""
    async def read() -> tuple[list[str], str]:
        db = await asyncpg.connect(plain_dsn(url))
        try:
            variants = [r["id"] for r in await db.fetch("SELECT id FROM variants ORDER BY sku")]
            return variants, await db.fetchval("SELECT id FROM shipping_methods LIMIT 1")
        finally:
            await db.close()

    return asyncio.run(read())


def print_summary(results: dict[str, dict], clients: int) -> None:
    modes = list(results)
    print("\nSummary" + "".join(f"{m:>14}" for m in modes))
    rows = [
        (f"max completes/s, {clients} buyers (closed loop)", lambda r: f"{r['max_rate']:.1f}"),
        ("server CPU ms per complete, full load", lambda r: f"{r['cpu_full']['server']:.2f}"),
        ("server CPU ms per complete, half load", lambda r: f"{r['cpu_half']['server']:.2f}"),
        ("complete p50 at half load (ms)", lambda r: f"{r['p50']:.1f}"),
        (f"complete p99 at half load (ms), target < {TARGET_P99_MS:.0f}",
         lambda r: f"{r['p99']:.1f} {'met' if r['p99'] < TARGET_P99_MS else 'MISSED'}"),
        ("complete max at half load (ms)", lambda r: f"{r['max']:.1f}"),
        ("errors (non-2xx or transport)", lambda r: f"{r['errors']}"),
    ]
    for label, value in rows:
        print(f"  {label:<52}" + "".join(f"{value(results[m]):>14}" for m in modes))
    for mode in modes:
        each = {k[7:]: v for k, v in results[mode]["cpu_full"].items() if k.startswith("server ")}
        if each:
            print(f"  {mode}: CPU ms per complete by process at full load: "
                  + ", ".join(f"{k} {v:.2f}" for k, v in each.items()))
        for problem in results[mode]["problems"]:
            print(f"  !!! {mode}: {problem}")
    invalid = any(r["invalid"] for r in results.values())
    print("  !!! RUN HAD ERRORS: FIGURES NOT VALID !!!" if invalid else "  run valid: no errors, database consistent")


if __name__ == "__main__":
    raise SystemExit(main())
