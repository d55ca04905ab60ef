"""Cost per journey across load: the storefront journey with checkout at 10-100% of saturation.

    ./dev bench cost_curve [--duration 20] [--clients 8] [--points 10,25,50,100] [--quick]
                           [--mode embedded|distributed] [--profile] [--rounds 1] [--rate R]

One run: drop and recreate the database at KASSA_BENCH_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/kassa_bench_cost), `kassa migrate`, an application and a
secret key from the CLI, then the server: embedded, ONE `kassa serve` process (cart, checkout and
webhooks, jobs in-process, no Redis); distributed, `kassa serve cart`, `kassa serve checkout`
(calling the cart over loopback HTTP) and `kassa serve webhooks` (the relay and deliveries), each
running its jobs in-process. A product (3 EUR variants), a shipping method, a DE tax rate, and a
webhook endpoint subscribed to every event (100 requests at once at most, the highest allowed: with the
default 10 one endpoint taking every event cannot keep up with a saturated server), answered by a minimal receiver in the driver process
(200 at once, no verification: its CPU is the driver's, not the server's).

The journey: create cart -> 3 lines -> address (PATCH) -> shipping method (PUT) -> checkout
session -> complete (test card). Phases, each from a separate driver process:

1. saturation: a closed loop of --clients clients (one keep-alive connection each) running
   journeys back to back: the saturated rate and its CPU per journey;
2. open loop at each of --points percent of that rate (or of --rate): journeys start on a fixed
   schedule, each on a connection of its own; a step's latency counts from when it was sent.

Printed per phase: journeys/s; server CPU and PostgreSQL CPU per journey (utime + stime from
/proc over the measured window, divided by the journeys completed in it; the PostgreSQL figure
sums the backends connected to the bench database, not PostgreSQL's own background processes); p50/p99 per step; and event to
delivery: from an event's `createdAt` (written by the server at the change) to its first arrival
at the receiver, for every event created inside the window (p50, p99, max; every such event must
arrive). The last line compares CPU per journey at each point with the saturated figure (the
issue's target: within 1.25x at 25% and 50%) and event-to-delivery p99 with 1 s.

--profile samples the server (embedded: the one process; distributed: the webhooks process) with
py-spy during each phase and prints where its CPU went, by background task (relay, waker,
delivery, key watch, crons) against the requests. The machine may be shared: --rounds N repeats the
open-loop points N times, so that a noisy minute shows as a spread. --baseline DIR measures another
checkout of Kassa (its own .venv, e.g. the code before a change: `git worktree add DIR main`) beside
this one in the same run: each deployment gets its own database, servers and receiver, the open-loop
points run at one schedule for both (the lower of the two saturated rates), and each point runs on
one deployment right after the other, the order swapped every round.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path

import asyncpg
import httpx
import msgspec
import uvloop
from common import (
    LeanClient,
    Recorder,
    RequestFailed,
    Server,
    _cpu_ticks,
    bench_env,
    cpu_snapshot,
    free_port,
    lean_clients,
    masked,
    pct,
    plain_dsn,
    print_failures,
    recreate_database,
    seed,
)

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/kassa_bench_cost"
STEPS = ("create", "line", "address", "shipping", "session", "complete")
ADDRESS = {"firstName": "Bench", "lastName": "Buyer", "addressLine1": "Unter den Linden 1", "city": "Berlin",
           "postalCode": "10117", "countryCode": "DE"}
CARD = {"type": "card", "card": {"number": "4242424242424242", "expMonth": 12, "expYear": 2030, "cvc": "123"}}
TARGET_RATIO = 1.25
TARGET_DELIVERY_P99_MS = 1000.0
DISTRIBUTED_POOL = "10"
IDLE_CLOSE_SECONDS = 4.0


# ---------------------------------------------------------------- the receiver (driver process)


class _Envelope(msgspec.Struct):
    id: str
    createdAt: str  # noqa: N815 - the wire name


class Receipts:
    """Event id -> (created, seconds from created to the first arrival), for the receiver."""

    def __init__(self) -> None:
        self.first: dict[str, tuple[float, float]] = {}
        self.requests = 0
        self.decoder = msgspec.json.Decoder(_Envelope)

    def protocol(self) -> asyncio.Protocol:
        receipts = self

        class Http(asyncio.Protocol):
            def __init__(self) -> None:
                self.buffer = bytearray()

            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport = transport

            def data_received(self, data: bytes) -> None:
                self.buffer += data
                while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
                    match = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", bytes(self.buffer[:end + 2]))
                    length = int(match[1]) if match else 0
                    if len(self.buffer) < end + 4 + length:
                        return
                    body = bytes(self.buffer[end + 4:end + 4 + length])
                    del self.buffer[:end + 4 + length]
                    receipts.arrived(body)
                    self.transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")  # type: ignore[attr-defined]

        return Http()

    def arrived(self, body: bytes) -> None:
        now = time.time()
        self.requests += 1
        envelope = self.decoder.decode(body)
        if envelope.id not in self.first:
            created = datetime.fromisoformat(envelope.createdAt.replace("Z", "+00:00")).timestamp()
            self.first[envelope.id] = (created, now - created)


# ---------------------------------------------------------------- load driver (separate process)


@dataclass(frozen=True)
class Phase:
    kind: str  # "closed" | "open"
    cart_url: str
    checkout_url: str
    receiver_port: int
    key: str
    variants: list[str]
    method_id: str
    server_pids: dict[str, int]
    clients: int
    duration: float
    warmup: float
    rate: float = 0.0
    profile: str = ""  # a file: py-spy samples `profile_pid` over the measured window into it
    profile_pid: int = 0
    db_url: str = ""


BACKLOG = ("SELECT (SELECT count(*) FROM outbox_events WHERE published_at IS NULL), "
           "(SELECT count(*) FROM webhook_deliveries WHERE status = 'sending' "
           "OR (status = 'pending' AND next_attempt_at <= now() + interval '2 seconds')), "
           "(SELECT count(*) FROM webhook_deliveries WHERE status = 'pending' AND attempt_count > 0)")


async def backlog(db: asyncpg.Connection) -> tuple[int, int, int]:
    """(outbox rows not relayed, deliveries due or in flight). A delivery whose attempt failed and waits
    for its retry (minutes away) is not this phase's work: the failures are counted apart."""
    return tuple(await db.fetchrow(BACKLOG))  # type: ignore[return-value]


async def backend_ticks(db: asyncpg.Connection) -> dict[int, int]:
    """CPU ticks used so far by each PostgreSQL backend connected to this database (but this one)."""
    ticks = {}
    for pid in await db.fetch("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                              "AND pid <> pg_backend_pid()"):
        with contextlib.suppress(OSError, ValueError):
            ticks[pid[0]] = _cpu_ticks(str(pid[0]))[1]
    return ticks


async def drained(db: asyncpg.Connection, limit: float = 180.0) -> float:
    """Wait until the server has relayed and delivered everything; returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < limit and any((await backlog(db))[:2]):
        await asyncio.sleep(0.5)
    return time.monotonic() - started


def drive(phase: Phase) -> dict:
    return uvloop.run(_drive(phase))


async def _drive(p: Phase) -> dict:
    receipts = Receipts()
    loop = asyncio.get_running_loop()
    receiver = await loop.create_server(receipts.protocol, "127.0.0.1", p.receiver_port)
    db = await asyncpg.connect(plain_dsn(p.db_url))
    waited = await drained(db)  # what the previous phase left is not this phase's work
    t0 = time.perf_counter()
    m0, m1 = t0 + p.warmup, t0 + p.warmup + p.duration
    w0, w1 = time.time() + p.warmup, time.time() + p.warmup + p.duration  # the window in wall-clock time
    recorder = Recorder(STEPS, m0, m1)
    call = recorder.call
    done = {"in_window": 0, "launched": 0, "late_starts": 0}
    marks: dict[str, dict[str, float]] = {}
    backlogs: dict[str, tuple[int, int, int]] = {}
    backends: dict[str, dict[int, int]] = {}
    spy: list[asyncio.subprocess.Process] = []

    async def journey(carts: LeanClient, checkout: LeanClient) -> None:
        with contextlib.suppress(RequestFailed):
            cart_id = (await call(carts, "create", "POST", "/api/v1/carts", {"currency": "EUR"}))["id"]
            cart = f"/api/v1/carts/{cart_id}"
            for i, variant in enumerate(p.variants[:3]):
                await call(carts, "line", "POST", f"{cart}/line-items", {"variantId": variant, "quantity": 1 + i % 2})
            await call(carts, "address", "PATCH", cart, {"shippingAddress": ADDRESS})
            await call(carts, "shipping", "PUT", f"{cart}/shipping-method", {"shippingMethodId": p.method_id})
            session = (await call(checkout, "session", "POST", "/api/v1/checkout/sessions", {"cartId": cart_id}))["id"]
            await call(checkout, "complete", "POST", f"/api/v1/checkout-sessions/{session}/complete",
                       {"shippingAddress": ADDRESS, "paymentMethod": CARD})
            if m0 <= time.perf_counter() <= m1:
                done["in_window"] += 1

    def pair() -> tuple[LeanClient, LeanClient]:
        carts = lean_clients(p.cart_url, p.key, 1, timeout=60)[0]
        return carts, carts if p.checkout_url == p.cart_url else lean_clients(p.checkout_url, p.key, 1, 60)[0]

    idle: list[tuple[LeanClient, LeanClient]] = [pair() for _ in range(p.clients)]
    opened = list(idle)

    async def closed_client(carts: LeanClient, checkout: LeanClient) -> None:
        while time.perf_counter() < m1:
            await journey(carts, checkout)

    last_used: dict[int, float] = {}

    async def arrival() -> None:
        clients = idle.pop() if idle else None
        if clients is not None and time.perf_counter() - last_used.get(id(clients), m0) > IDLE_CLOSE_SECONDS:
            # The server closes a keep-alive connection idle for 5 s (uvicorn): a browser opens a new one.
            await asyncio.gather(*(c.aclose() for c in set(clients)))
        if clients is None:
            clients = pair()
            opened.append(clients)
        try:
            await journey(*clients)
        finally:
            last_used[id(clients)] = time.perf_counter()
            idle.append(clients)

    async def scheduler() -> None:
        async with asyncio.TaskGroup() as tasks:
            i = 0
            while (due := t0 + i / p.rate) < m1:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                if time.perf_counter() - due > 0.05:
                    done["late_starts"] += 1
                tasks.create_task(arrival())
                done["launched"] += m0 <= due
                i += 1

    async def mark(name: str, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        marks[name] = cpu_snapshot(p.server_pids)
        backends[name] = await backend_ticks(db)
        backlogs[name] = await backlog(db)
        if name == "start" and p.profile:
            spy.append(await asyncio.create_subprocess_exec(
                shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"), "record", "--pid",
                str(p.profile_pid), "--rate", "200", "--duration", str(int(p.duration)), "--format", "raw",
                "--native", "--output", p.profile, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL))

    markers = [asyncio.create_task(mark("start", m0)), asyncio.create_task(mark("end", m1))]
    try:
        if p.kind == "open":
            await scheduler()
        else:
            await asyncio.gather(*(closed_client(*c) for c in idle))
        await asyncio.gather(*markers)
        for s in spy:
            await s.wait()
        # Every event created inside the window must arrive: wait until nothing is left to relay or deliver.
        drain = await drained(db)
        await asyncio.sleep(0.5)
    finally:
        await db.close()
        receiver.close()
        await asyncio.gather(*(c.aclose() for pair_ in opened for c in set(pair_)))
    cpu = {k: marks["end"][k] - marks["start"][k] for k in marks.get("start", {})}
    # PostgreSQL's share: the backends serving this database (the servers' pools), over the window; the
    # machine's other postgres processes serve other users too.
    cpu["postgres"] = sum(t - backends["start"].get(pid, 0) for pid, t in backends["end"].items()) \
        / os.sysconf("SC_CLK_TCK")
    deliveries = [lat * 1000 for created, lat in receipts.first.values() if w0 <= created <= w1]
    return {"latencies": recorder.latencies, "errors": dict(recorder.errors), "examples": recorder.examples,
            "journeys": done["in_window"], "launched": done["launched"], "late_starts": done["late_starts"],
            "duration": p.duration, "cpu": cpu, "deliveries": deliveries, "requests": receipts.requests,
            "connections": len(opened), "backlogs": backlogs, "waited": waited, "drain": drain}


# ---------------------------------------------------------------- the profile


_IDLE = re.compile(r"epoll_p?wait \([^;]*$")
# The outermost frame of a sample that names one of these is the task it belongs to.
TASKS: list[tuple[str, str]] = [
    ("outbox waker", r"OutboxWaker|kassa_webhooks/waker\.py"),
    ("relay", r"relay_outbox|kassa_webhooks/relay\.py|relay_sweep"),
    ("delivery", r"deliver_webhooks|deliver_sweep|Deliverer\.|kassa_webhooks/delivery\.py"),
    ("API key watch", r"KeyWatch|key_watch\.py"),
    ("other jobs and crons", r"kassa_platform/jobs\.py|kassa_\w+/jobs\.py|notifications\.py"),
    ("requests (HTTP server, apps)", r"uvicorn|httptools|litestar|kassa/gateway\.py"),
]


def profile_tasks(path: str) -> tuple[int, Counter[str]]:
    found: Counter[str] = Counter()
    total = 0
    text = Path(path).read_text() if Path(path).exists() else ""
    for line in text.splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit() or _IDLE.search(stack):
            continue
        total += int(n)
        frames = stack.split(";")
        for frame in frames:  # outermost first
            name = next((name for name, pattern in TASKS if re.search(pattern, frame)), None)
            if name:
                found[name] += int(n)
                break
        else:
            found["event loop and the rest"] += int(n)
    return total, found


def print_profile(path: str, title: str, ms_per_journey: float) -> None:
    total, found = profile_tasks(path)
    if not total:
        print(f"  (no py-spy samples {title})")
        return
    print(f"  where the profiled process's CPU went {title} ({total} samples):")
    for name, n in found.most_common():
        print(f"    {name:<34}{100 * n / total:>6.1f}%{ms_per_journey * n / total:>9.2f} ms/journey")


# ---------------------------------------------------------------- running it


class ServerOf(Server):
    """`kassa serve` run by another checkout's interpreter (its virtual environment: its code)."""

    def __init__(self, python: str, *args: object, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.python = python

    def spawn(self) -> None:
        cmd = [self.python, "-m", "kassa.cli", "serve", *self.service, "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)


def cli(python: str, env: dict[str, str], *args: str) -> str:
    done = subprocess.run([python, "-m", "kassa.cli", *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"kassa {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


@dataclass
class Deployment:
    """One checkout's code, served: its database, servers, key, seed and webhook endpoint."""

    name: str
    url: str
    servers: dict[str, Server]
    cart_url: str
    checkout_url: str
    key: str = ""
    variants: tuple[str, ...] = ()
    method_id: str = ""
    receiver_port: int = 0

    @property
    def pids(self) -> dict[str, int]:
        return {name: s.pid for name, s in self.servers.items()}

    def stop(self) -> None:
        for s in reversed(self.servers.values()):
            s.stop()


def deploy(name: str, python: str, mode: str, url: str, tmp: Path, extra: dict[str, str], pool: str) -> Deployment:
    asyncio.run(recreate_database(url))
    env = {**bench_env(url, tmp), "KASSA_WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "all", **extra}
    cli(python, env, "migrate")
    app_id = cli(python, env, "apps", "create", "bench", "--env", "test")
    key = cli(python, env, "keys", "create", app_id, "--scopes", "*")
    if mode == "embedded":
        server = ServerOf(python, env, tmp / "server.log").start()
        d = Deployment(name, url, {"server": server}, server.base, server.base)
    else:
        env = {**env, "KASSA_DB_POOL_SIZE": pool}
        cart = ServerOf(python, env, tmp / "cart.log", "cart").start()
        checkout = ServerOf(python, {**env, "KASSA_CART_URL": cart.base}, tmp / "checkout.log", "checkout").start()
        webhooks = ServerOf(python, env, tmp / "webhooks.log", "webhooks").start()
        d = Deployment(name, url, {"cart": cart, "checkout": checkout, "webhooks": webhooks}, cart.base,
                       checkout.base)
    d.key = key
    variants, d.method_id = seed(d.cart_url, key)
    d.variants = tuple(variants)
    d.receiver_port = free_port()
    webhooks_url = d.servers["webhooks"].base if "webhooks" in d.servers else d.checkout_url
    r = httpx.post(f"{webhooks_url}/api/v1/webhook-endpoints", timeout=10, headers={"Authorization": f"Bearer {key}"},
                   json={"url": f"http://127.0.0.1:{d.receiver_port}/hooks", "enabledEvents": ["*"],
                         "maxConcurrency": 100})
    if not r.is_success:
        raise SystemExit(f"creating the webhook endpoint: {r.status_code} {r.text}")
    return d


def summarize(label: str, r: dict) -> dict:
    secs, n = r["duration"], max(r["journeys"], 1)
    cpu = r["cpu"]
    servers = {k[7:]: 1000 * v / n for k, v in cpu.items() if k.startswith("server ")}
    out = {"label": label, "rate": r["journeys"] / secs, "server": 1000 * cpu.get("server", 0) / n,
           "postgres": 1000 * cpu.get("postgres", 0) / n, "servers": servers,
           "server_core": 100 * cpu.get("server", 0) / secs, "busy": 100 * cpu.get("busy", 0) / max(cpu.get("total", 1), 1e-9),
           "steps": {s: (pct(r["latencies"][s], 50), pct(r["latencies"][s], 99)) for s in STEPS},
           "delivery": (pct(r["deliveries"], 50), pct(r["deliveries"], 99), max(r["deliveries"], default=float("nan")),
                        len(r["deliveries"])),
           "errors": sum(r["errors"].values()), "late": r["late_starts"]}
    others = cpu.get("busy", 0) - cpu.get("server", 0) - cpu.get("postgres", 0) - cpu.get("driver", 0)
    print(f"\n{label}: {out['rate']:.1f} journeys/s ({r['journeys']} in {secs:.0f} s); % of one core: server "
          f"{out['server_core']:.0f}%, its postgres backends {100 * cpu.get('postgres', 0) / secs:.0f}%, driver "
          f"{100 * cpu.get('driver', 0) / secs:.0f}%, anything else {100 * others / secs:.0f}% "
          f"(machine {out['busy']:.0f}% busy)")
    print(f"  CPU per journey: server {out['server']:.2f} ms"
          + (f" ({', '.join(f'{k} {v:.2f}' for k, v in servers.items())})" if len(servers) > 1 else "")
          + f", PostgreSQL {out['postgres']:.2f} ms")
    print("  step        p50 ms   p99 ms\n" + "\n".join(
        f"  {s:<10}{a:>8.1f}{b:>9.1f}" for s, (a, b) in out["steps"].items()))
    d = out["delivery"]
    print(f"  event to delivery: p50 {d[0]:.0f} ms, p99 {d[1]:.0f} ms, max {d[2]:.0f} ms over {d[3]} events"
          f" ({r['requests']} requests received)")
    b0, b1 = r["backlogs"]["start"], r["backlogs"]["end"]
    print(f"  backlog (outbox rows not relayed, deliveries open) {b0[0]}/{b0[1]} at the window's start, {b1[0]}/{b1[1]} "
          f"at its end; drained {r['drain']:.1f} s after the phase (waited {r['waited']:.1f} s for the previous one); "
          f"{b1[2]} deliveries waiting for a retry after a failed attempt")
    out["backlog_end"] = b1
    if r["late_starts"]:
        print(f"  {r['late_starts']} journeys started over 50 ms late (the driver fell behind)")
    if r["errors"]:
        print_failures(out["errors"], r["errors"], r["examples"])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per measured phase (default 20)")
    parser.add_argument("--clients", type=int, default=8, help="closed-loop clients at saturation (default 8)")
    parser.add_argument("--points", default="10,25,50,100", help="open-loop loads, percent of saturation")
    parser.add_argument("--rate", type=float, default=0.0, help="the 100%% rate (default: measured)")
    parser.add_argument("--quick", action="store_true", help="5 s phases, to check that everything works")
    parser.add_argument("--mode", choices=("embedded", "distributed"), default="embedded")
    parser.add_argument("--profile", action="store_true", help="py-spy on the server during the open-loop points")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the open-loop points (default 1)")
    parser.add_argument("--baseline", default="", help="another checkout (with its .venv) to measure beside this one, "
                                                        "phase by phase, e.g. the code before a change")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for this checkout's servers (not the baseline's), e.g. "
                             "KASSA_OUTBOX_GATHER_SECONDS=0.5; repeatable")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    duration, warmup = (5.0, 2.0) if args.quick else (args.duration, 3.0)
    points = [float(x) for x in args.points.split(",")]
    url = os.environ.get("KASSA_BENCH_DATABASE_URL", DEFAULT_DB)
    tmp = Path(tempfile.mkdtemp(prefix="kassa-bench-cost-"))
    extra = dict(item.split("=", 1) for item in args.set)
    sides = [("this checkout", sys.executable, url, extra)]
    if args.baseline:
        python = str(Path(args.baseline).resolve() / ".venv" / "bin" / "python")
        sides.insert(0, ("baseline", python, url + "_baseline", {}))
    deployments: list[Deployment] = []
    rows: dict[str, list[dict]] = {}
    saturated: dict[str, float] = {}
    try:
        for name, python, db, env in sides:
            (tmp / name.replace(" ", "-")).mkdir()
            # Two distributed deployments of 3 processes and 2 pools each must stay inside PostgreSQL's
            # 100 connections beside other users: with 10 per pool they did not, and requests failed.
            pool = DISTRIBUTED_POOL if len(sides) == 1 else "4"
            deployments.append(deploy(name, python, args.mode, db, tmp / name.replace(" ", "-"), env, pool))
        load = os.getloadavg()
        print("Kassa cost curve: CPU per storefront journey with checkout, by load")
        for d in deployments:
            print(f"  {d.name:<14}{args.mode}: " + ", ".join(f"{n} pid {pid}" for n, pid in d.pids.items())
                  + f"; database {masked(d.url)}" + (f"; {', '.join(args.set)}" if d.name == "this checkout"
                                                     and args.set else ""))
        print("  journey       create -> 3 lines -> address -> shipping -> session -> complete; a webhook endpoint "
              "takes every event")
        print(f"  phases        {warmup:.0f} s warm-up + {duration:.0f} s measured; machine {os.cpu_count()} cores, load "
              f"average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")

        def phase(d: Deployment, **kw: object) -> Phase:
            return replace(Phase("closed", d.cart_url, d.checkout_url, d.receiver_port, d.key, list(d.variants),
                                 d.method_id, d.pids, args.clients, duration, warmup, db_url=d.url), **kw)

        with get_context("spawn").Pool(1) as driver:
            for d in deployments:
                path = str(tmp / f"profile-{d.name.replace(' ', '-')}-saturated.txt") if args.profile else ""
                profiled = d.pids["server" if args.mode == "embedded" else "webhooks"]
                row = summarize(f"[{d.name}] saturated: closed loop, {args.clients} clients",
                                driver.apply(drive, (phase(d, profile=path, profile_pid=profiled),)))
                row["share"] = 0.0
                if path:
                    print_profile(path, "saturated", row["server"] if args.mode == "embedded"
                                  else row["servers"].get("webhooks", 0.0))
                rows.setdefault(d.name, []).append(row)
                saturated[d.name] = row["server"]
            full = args.rate or min(r[0]["rate"] for r in rows.values())  # one schedule for both sides
            for round_ in range(args.rounds):
                for share in points:
                    order = deployments if round_ % 2 == 0 else deployments[::-1]
                    for d in order:
                        rate = full * share / 100
                        path = str(tmp / f"profile-{d.name.replace(' ', '-')}-{share:g}-{round_}.txt") if args.profile \
                            else ""
                        profiled = d.pids["server" if args.mode == "embedded" else "webhooks"]
                        p = phase(d, kind="open", rate=rate, clients=max(2, math.ceil(rate * 0.5)), profile=path,
                                  profile_pid=profiled)
                        suffix = f", round {round_ + 1}" if args.rounds > 1 else ""
                        row = summarize(f"[{d.name}] open loop at {share:g}% ({rate:.1f} journeys/s){suffix}",
                                        driver.apply(drive, (p,)))
                        row["share"] = share
                        rows[d.name].append(row)
                        if path:
                            print_profile(path, f"at {share:g}%", row["server"] if args.mode == "embedded"
                                          else row["servers"].get("webhooks", 0.0))
    finally:
        for d in deployments:
            d.stop()
            asyncio.run(recreate_database(d.url, create=False))
    for name, side in rows.items():
        print_table(name, side, saturated[name], points)
    return 0


def print_table(name: str, rows: list[dict], saturated: float, points: list[float]) -> None:
    print(f"\nSummary, {name} (CPU in ms per journey; latencies in ms; x sat: server CPU per journey over the "
          f"saturated figure)")
    print(f"  {'load':<12}{'j/s':>7}{'server':>8}{'x sat':>7}{'postgres':>9}{'create p50/p99':>16}"
          f"{'complete p50/p99':>18}{'event->delivery p50/p99/max':>29}")
    for share in [0.0, *points]:
        for r in (r for r in rows if r["share"] == share):
            ratio = r["server"] / saturated if saturated else float("nan")
            d = r["delivery"]
            flag = ""
            if share in (25.0, 50.0):
                flag += "" if ratio <= TARGET_RATIO else " CPU MISSED"
            flag += "" if d[1] < TARGET_DELIVERY_P99_MS else " DELIVERY MISSED"
            flag += f" {r['errors']} ERRORS" if r["errors"] else ""
            c, k = r["steps"]["create"], r["steps"]["complete"]
            label = "saturated" if share == 0 else f"{share:g}%"
            print(f"  {label:<12}{r['rate']:>7.1f}{r['server']:>8.2f}{ratio:>7.2f}{r['postgres']:>9.2f}"
                  f"{c[0]:>8.1f}/{c[1]:<7.1f}{k[0]:>9.1f}/{k[1]:<8.1f}{d[0]:>11.0f}/{d[1]:.0f}/{d[2]:<8.0f}{flag}")


if __name__ == "__main__":
    raise SystemExit(main())
