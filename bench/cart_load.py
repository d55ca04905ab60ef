"""Load benchmark for the cart service on PostgreSQL: prints figures, it is not a test.

    uv run python bench/cart_load.py [--duration 30] [--clients 64] [--quick]

One run: drop and recreate the database at KASSA_BENCH_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/kassa_bench), `kassa migrate`, an application and secret
key from the CLI, then a product (3 EUR variants), a shipping method and a DE tax rate through
the API of ONE cart server process (`python -m kassa.cli serve cart`, killed at the end). Then:

1. pgbench -N -c 8 -j 2 -T 10 on database kassa_pgbench, same PostgreSQL, cart server idle;
2. closed loop from a separate driver process: --clients clients (HTTP/1.1 keep-alive, one
   connection each, common.LeanClient)
   each looping create cart -> add 3 lines -> select shipping -> get, for --duration seconds;
3. open loop: flows started on a fixed schedule at half the closed loop's flow rate.

With --shopper-token instead: the server CPU of a cart write (PATCH /api/v1/carts/{id}) with a
shopper token (X-Shopper-Token: an RS256 JWT whose JWKS a loopback server in this process
serves) against the same write without one, closed loop, one phase each; target: the token costs
<= 0.3 ms more server CPU per write (the JWKS and the verified token cached, as in steady state).

Targets: cart mutations/s >= 35% of pgbench TPS; add_line p99 < 25 ms at half load. A missed
target prints MISSED, any non-2xx response is reported loudly, and the exit code is 0 whenever
the run completes. The CPU figures read /proc (Linux).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from urllib.parse import urlsplit

import uvloop
from common import (
    LeanClient,
    Recorder,
    RequestFailed,
    Server,
    bench_env,
    cpu_snapshot,
    lean_clients,
    masked,
    migrate_and_create_app,
    pct,
    print_cpu,
    print_failures,
    recreate_database,
    seed,
)

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/kassa_bench"
PGBENCH_DB = "kassa_pgbench"
PGBENCH_ARGS = ["-N", "-c", "8", "-j", "2", "-T", "10"]
OPS = ("create", "add_line", "select_shipping", "get")
MUTATIONS = ("create", "add_line", "select_shipping")
TARGET_PCT_OF_PGBENCH = 35.0
TARGET_ADD_LINE_P99_MS = 25.0
ADDRESS = {"addressLine1": "Unter den Linden 1", "city": "Berlin", "countryCode": "DE"}


# ---------------------------------------------------------------- reference: pgbench


def run_pgbench(url: str) -> float:
    parts = urlsplit(url)
    conn = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432), "-U", parts.username or "postgres"]
    env = {**os.environ, **({"PGPASSWORD": parts.password} if parts.password else {})}
    subprocess.run(["pgbench", "-i", "-q", *conn, PGBENCH_DB], env=env, check=True, capture_output=True)
    out = subprocess.run(["pgbench", *PGBENCH_ARGS, *conn, PGBENCH_DB], env=env, check=True,
                         capture_output=True, text=True).stdout
    match = re.search(r"^tps = ([0-9.]+)", out, re.MULTILINE)
    if not match:
        raise SystemExit(f"no `tps = ...` line in pgbench output:\n{out}")
    return float(match.group(1))


# ---------------------------------------------------------------- load driver (separate process)


@dataclass(frozen=True)
class Phase:
    base_url: str
    key: str
    variants: list[str]
    method_id: str
    server_pid: int
    clients: int
    duration: float
    warmup: float
    rate: float | None = None  # flows/s for the open loop; None = closed loop


def drive(phase: Phase) -> dict:
    """Entry point of the driver process: run one phase, return latencies, counts, errors and CPU."""
    return uvloop.run(_drive(phase))


async def _drive(p: Phase) -> dict:
    start_delays: list[float] = []
    flows = launched = 0
    t0 = time.perf_counter()
    m0, m1 = t0 + p.warmup, t0 + p.warmup + p.duration  # the measured window
    recorder = Recorder(OPS, m0, m1)
    call = recorder.call
    marks: dict[str, dict[str, float]] = {}
    # One connection per client, leased per flow; a lean client so that the driver's CPU goes to load.
    clients = lean_clients(p.base_url, p.key, p.clients, timeout=30)
    idle: asyncio.Queue[LeanClient] = asyncio.Queue()
    for client in clients:
        idle.put_nowait(client)

    async def flow(due: float) -> None:
        """One cart's life; `due` is when it should start (its lateness is recorded as `start_delays`)."""
        nonlocal flows
        client = await idle.get()
        if m0 <= due <= m1:
            start_delays.append((time.perf_counter() - due) * 1000)
        try:
            new_cart = {"currency": "EUR", "shippingAddress": ADDRESS}
            cart = "/api/v1/carts/" + (await call(client, "create", "POST", "/api/v1/carts", new_cart))["id"]
            for variant in p.variants:
                await call(client, "add_line", "POST", f"{cart}/line-items", {"variantId": variant, "quantity": 1})
            await call(client, "select_shipping", "PUT", f"{cart}/shipping-method", {"shippingMethodId": p.method_id})
            await call(client, "get", "GET", cart)
        except RequestFailed:
            return
        finally:
            idle.put_nowait(client)
        if m0 <= time.perf_counter() <= m1:
            flows += 1

    async def mark(name: str, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        marks[name] = cpu_snapshot(p.server_pid)

    async def closed_client() -> None:
        while time.perf_counter() < m1:
            await flow(time.perf_counter())

    async def open_scheduler(rate: float) -> None:
        """Start a flow every 1/rate s whatever the completions; then wait for the ones in flight."""
        nonlocal launched
        async with asyncio.TaskGroup() as flows_in_flight:
            i = 0
            while (due := t0 + i / rate) < m1:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                flows_in_flight.create_task(flow(due))
                launched += m0 <= due
                i += 1

    markers = [asyncio.create_task(mark("start", m0)), asyncio.create_task(mark("end", m1))]
    try:
        if p.rate is None:
            await asyncio.gather(*(closed_client() for _ in range(p.clients)))
        else:
            await open_scheduler(p.rate)
        await asyncio.gather(*markers)
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))
    cpu = {k: marks["end"][k] - marks["start"][k] for k in marks["start"]} if marks["start"] else {}
    return {"latencies": recorder.latencies, "start_delays": start_delays, "errors": dict(recorder.errors),
            "examples": recorder.examples,
            "flows": flows, "launched": launched, "duration": p.duration, "cpu": cpu}


# ---------------------------------------------------------------- shopper tokens: the cost of a token per write

TARGET_TOKEN_CPU_MS = 0.3


@dataclass(frozen=True)
class UpdatePhase:
    base_url: str
    key: str
    carts: list[str]
    server_pid: int
    duration: float
    warmup: float
    token: str | None


def drive_updates(phase: UpdatePhase) -> dict:
    """Driver process: each client PATCHes its own cart in a closed loop; server CPU over the window."""
    return uvloop.run(_drive_updates(phase))


async def _drive_updates(p: UpdatePhase) -> dict:
    t0 = time.perf_counter()
    m0, m1 = t0 + p.warmup, t0 + p.warmup + p.duration
    recorder = Recorder(("update",), m0, m1)
    headers = {"Authorization": f"Bearer {p.key}", **({"X-Shopper-Token": p.token} if p.token else {})}
    clients = [LeanClient(p.base_url, headers, timeout=30) for _ in p.carts]
    marks: dict[str, dict[str, float]] = {}

    async def mark(name: str, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        marks[name] = cpu_snapshot(p.server_pid)

    async def loop(client: LeanClient, cart_id: str) -> None:
        n = 0
        while time.perf_counter() < m1:
            n += 1
            try:
                await recorder.call(client, "update", "PATCH", f"/api/v1/carts/{cart_id}", {"metadata": {"n": str(n)}})
            except RequestFailed:
                pass

    markers = [asyncio.create_task(mark("start", m0)), asyncio.create_task(mark("end", m1))]
    try:
        await asyncio.gather(*(loop(c, cart) for c, cart in zip(clients, p.carts, strict=True)))
        await asyncio.gather(*markers)
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))
    cpu = {k: marks["end"][k] - marks["start"][k] for k in marks["start"]} if marks["start"] else {}
    return {"latencies": recorder.latencies, "errors": dict(recorder.errors), "examples": recorder.examples,
            "cpu": cpu, "duration": p.duration}


class _Jwks:
    """An identity provider's JWKS (one RSA key) on a loopback port of this process, and a token it signs."""

    def __init__(self) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        import jwt
        from cryptography.hazmat.primitives.asymmetric import rsa
        from jwt.algorithms import RSAAlgorithm

        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        body = json.dumps({"keys": [{**RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True), "kid": "bench",
                                     "use": "sig", "alg": "RS256"}]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        now = int(time.time())
        self.token = jwt.encode({"iss": "https://id.bench/", "aud": "bench-shop", "sub": "bench-shopper",
                                 "email": "bench@example.com", "email_verified": True, "iat": now,
                                 "exp": now + 3600}, self.key, algorithm="RS256", headers={"kid": "bench"})


def run_shopper_token(base_url: str, key: str, variants: list[str], server_pid: int, clients: int,
                      duration: float, warmup: float) -> None:
    import httpx

    jwks = _Jwks()
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as http:
        r = http.put("/api/v1/shopper-auth", json={"jwksUrl": jwks.url, "issuer": "https://id.bench/",
                                                   "audience": "bench-shop"})
        if not r.is_success:
            raise SystemExit(f"PUT /api/v1/shopper-auth -> {r.status_code}: {r.text}")

        def carts() -> list[str]:
            made = []
            for _ in range(clients):
                answer = http.post("/api/v1/carts", json={"currency": "EUR", "shippingAddress": ADDRESS,
                                                         "lineItems": [{"variantId": v} for v in variants]})
                if not answer.is_success:
                    raise SystemExit(f"POST /api/v1/carts -> {answer.status_code}: {answer.text}")
                made.append(answer.json()["id"])
            return made

        plain_carts, token_carts = carts(), carts()
    print("Kassa cart write with and without a shopper token")
    print(f"  server   1 process (`kassa serve cart`) at {base_url}; JWKS on {jwks.url}")
    print(f"  driver   separate process, {clients} connections, each PATCHing its own cart "
          f"(metadata), {warmup:.0f} s warm-up, {duration:.0f} s per phase")
    results = {}
    with get_context("spawn").Pool(1) as driver:
        for name, cart_ids, token in (("without token", plain_carts, None), ("with token", token_carts, jwks.token)):
            print(f"\nRunning {name} ...", flush=True)
            results[name] = driver.apply(drive_updates, (UpdatePhase(base_url, key, cart_ids, server_pid, duration,
                                                                     warmup, token),))
    jwks.httpd.shutdown()
    print(f"\n  {'phase':<16}{'writes':>9}{'per s':>10}{'p50 ms':>10}{'p99 ms':>10}{'server CPU ms/write':>22}")
    per_write = {}
    for name, r in results.items():
        lat = r["latencies"]["update"]
        per_write[name] = 1000 * r["cpu"].get("server", float("nan")) / len(lat) if lat else float("nan")
        print(f"  {name:<16}{len(lat):>9}{len(lat) / duration:>10.1f}{pct(lat, 50):>10.2f}{pct(lat, 99):>10.2f}"
              f"{per_write[name]:>22.3f}")
        if r["errors"]:
            print_failures(sum(r["errors"].values()), r["errors"], r["examples"])
    extra = per_write["with token"] - per_write["without token"]
    print("\nSummary")
    print(f"  {'extra server CPU per write with a token (ms)':<48}{extra:>8.3f}   target <= {TARGET_TOKEN_CPU_MS} ms"
          f"   {'met' if extra <= TARGET_TOKEN_CPU_MS else 'MISSED'}")
    n_errors = sum(sum(r["errors"].values()) for r in results.values())
    print(f"  {'errors (non-2xx or transport)':<48}{n_errors:>8}   "
          f"{'none' if not n_errors else '!!! RUN HAD ERRORS: FIGURES NOT VALID !!!'}")


# ---------------------------------------------------------------- report


def print_phase(title: str, r: dict) -> None:
    lat, secs = r["latencies"], r["duration"]
    print(f"\n{title}")
    print(f"  {'operation':<18}{'count':>9}{'per s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for op in OPS:
        n = len(lat[op])
        print(f"  {op:<18}{n:>9}{n / secs:>10.1f}{pct(lat[op], 50):>10.2f}{pct(lat[op], 99):>10.2f}")
    total = sum(len(v) for v in lat.values())
    mutations = sum(len(lat[op]) for op in MUTATIONS)
    print(f"  {'total requests/s':<37}{total / secs:>10.1f}")
    print(f"  {'cart mutations/s':<37}{mutations / secs:>10.1f}")
    print(f"  {'flows/s (completed)':<37}{r['flows'] / secs:>10.1f}")
    if cpu := r["cpu"]:
        print_cpu(cpu, secs)
    if r["errors"]:
        print_failures(sum(r["errors"].values()), r["errors"], r["examples"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per load phase (default 30)")
    parser.add_argument("--clients", type=int, default=64, help="closed-loop clients and connections (default 64)")
    parser.add_argument("--quick", action="store_true", help="5 s phases, to check that everything works")
    parser.add_argument("--campaigns", type=int, default=0, help="active automatic campaigns to seed (default 0)")
    parser.add_argument("--shopper-token", action="store_true",
                        help="instead: server CPU of a cart write with a shopper token against one without")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops the server
    duration = 5.0 if args.quick else args.duration
    warmup = 1.0 if args.quick else 3.0
    url = os.environ.get("KASSA_BENCH_DATABASE_URL", DEFAULT_DB)

    # The shopper-token run needs no pgbench: it leaves that database alone.
    asyncio.run(recreate_database(url, *(() if args.shopper_token else (PGBENCH_DB,))))
    tmp = Path(tempfile.mkdtemp(prefix="kassa-bench-"))
    env = bench_env(url, tmp)
    if args.shopper_token:
        env["KASSA_SHOPPER_AUTH_ALLOW_PRIVATE_NETWORKS"] = "1"  # the JWKS is served on loopback by this process
    _, key = migrate_and_create_app(env)

    server = Server(env, tmp / "server.log", "cart", ready="/healthz", timeout=30,
                    failure="cart server did not become healthy (exit code {code})").start()
    base_url = server.base
    try:
        variants, method_id = seed(base_url, key, args.campaigns)
        if args.shopper_token:
            run_shopper_token(base_url, key, variants, server.pid, min(args.clients, 16), duration, warmup)
            return 0
        print("Kassa cart service load benchmark")
        print(f"  server   1 process (`kassa serve cart`, uvicorn + uvloop) at {base_url}")
        print(f"           its log: {tmp / 'server.log'}")
        print(f"  database {masked(url)}")
        print(f"  driver   separate process, lean HTTP/1.1 keep-alive client (asyncio streams), {args.clients} connections (1 client each); "
              f"{warmup:.0f} s warm-up before each {duration:.0f} s phase")
        print(f"  flow     create cart -> add_line x{len(variants)} -> select_shipping -> get")

        print(f"\nReference: pgbench {' '.join(PGBENCH_ARGS)} on {PGBENCH_DB} (cart server idle) ...", flush=True)
        tps = run_pgbench(url)
        print(f"  tps = {tps:.1f}")

        phase = Phase(base_url, key, variants, method_id, server.pid, args.clients, duration, warmup)
        with get_context("spawn").Pool(1) as driver:  # leaving the block terminates the driver process
            print(f"\nRunning closed loop ({args.clients} clients) ...", flush=True)
            closed = driver.apply(drive, (phase,))
            print_phase(f"Closed loop: {args.clients} clients, {duration:.0f} s", closed)
            max_flows = closed["flows"] / duration
            rate = max_flows / 2
            if rate <= 0:
                raise SystemExit("no flow completed in the closed loop; cannot run the open loop")
            print(f"\nRunning open loop at {rate:.1f} flows/s ...", flush=True)
            opened = driver.apply(drive, (Phase(**{**phase.__dict__, "rate": rate}),))
        print_phase(f"Open loop: {rate:.1f} flows/s target (half of {max_flows:.1f}), {duration:.0f} s", opened)
        print(f"  {'achieved flows/s (launched)':<37}{opened['launched'] / duration:>10.1f}")
        print(f"  {'achieved flows/s (completed)':<37}{opened['flows'] / duration:>10.1f}")
        print(f"  {'flow start delay p99 ms':<37}{pct(opened['start_delays'], 99):>10.2f}")

        mutations = sum(len(closed["latencies"][op]) for op in MUTATIONS) / duration
        share = 100 * mutations / tps
        add_p99 = pct(opened["latencies"]["add_line"], 99)
        n_errors = sum(closed["errors"].values()) + sum(opened["errors"].values())
        print("\nSummary")
        print(f"  {'pgbench TPS (reference)':<44}{tps:>10.1f}")
        print(f"  {'cart mutations/s (closed loop)':<44}{mutations:>10.1f}")
        print(f"  {'cart mutations/s as % of pgbench TPS':<44}{share:>9.1f}%   target >= {TARGET_PCT_OF_PGBENCH:.0f}%"
              f"   {'met' if share >= TARGET_PCT_OF_PGBENCH else 'MISSED'}")
        print(f"  {'add_line p99 at half load (ms)':<44}{add_p99:>10.2f}   target < {TARGET_ADD_LINE_P99_MS:.0f} ms"
              f"  {'met' if add_p99 < TARGET_ADD_LINE_P99_MS else 'MISSED'}")
        print(f"  {'errors (non-2xx or transport)':<44}{n_errors:>10}   "
              f"{'none' if not n_errors else '!!! RUN HAD ERRORS: FIGURES NOT VALID !!!'}")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
