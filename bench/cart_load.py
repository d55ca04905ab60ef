"""Load benchmark for the cart service on PostgreSQL: prints figures, it is not a test.

    uv run python bench/cart_load.py [--duration 30] [--clients 64] [--quick]

What it does, in one run:

1. Drops and recreates the database at KASSA_BENCH_DATABASE_URL (default
   postgresql://postgres@127.0.0.1:5432/kassa_bench), runs `kassa migrate`, creates an
   application and a secret key with the CLI, then a product (3 EUR variants), a shipping
   method and a DE tax rate through the HTTP API.
2. Starts ONE cart server process (`python -m kassa.cli serve cart`) and kills it at the end.
3. Runs `pgbench -N -c 8 -j 2 -T 10` on a separate database (kassa_pgbench) on the same
   PostgreSQL server, while the cart server is idle, as the reference.
4. Closed loop from a separate driver process: N clients (httpx, HTTP/1.1 keep-alive), each
   looping create cart -> add 3 lines -> select shipping -> get, for --duration seconds.
5. Open loop at half the measured flow rate: flows start on a fixed schedule whatever the
   completions, for the same duration.

Targets: cart mutations/s >= 35% of pgbench TPS; add_line p99 < 25 ms at half load. A missed
target prints MISSED; the exit code is 0 whenever the run completes. Any non-2xx response is
counted as an error and reported loudly. Linux only for the CPU figures (/proc).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import httpx

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/kassa_bench"
PGBENCH_DB = "kassa_pgbench"
PGBENCH_ARGS = ["-N", "-c", "8", "-j", "2", "-T", "10"]
OPS = ("create", "add_line", "select_shipping", "get")
MUTATIONS = ("create", "add_line", "select_shipping")
TARGET_PCT_OF_PGBENCH = 35.0
TARGET_ADD_LINE_P99_MS = 25.0
ADDRESS = {"addressLine1": "Unter den Linden 1", "city": "Berlin", "countryCode": "DE"}


# ---------------------------------------------------------------- setup


async def recreate_databases(url: str) -> None:
    parts = urlsplit(url)
    admin = await asyncpg.connect(parts._replace(path="/postgres").geturl())
    try:
        for name in (parts.path.lstrip("/"), PGBENCH_DB):
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


def kassa_cli(env: dict[str, str], *args: str) -> str:
    """Run `kassa ...` and return the last line it printed."""
    done = subprocess.run([sys.executable, "-m", "kassa.cli", *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"kassa {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "kassa.cli", "serve", "cart", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:  # the server's stdout/stderr (access log at INFO) go to a file
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"cart server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop_server(proc)
    raise SystemExit(f"cart server not healthy after 30 s:\n{log.read_text()[-3000:]}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def seed(base_url: str, key: str) -> tuple[list[str], str]:
    """A product with 3 EUR variants, a shipping method and a DE tax rate; returns (variant ids, method id)."""
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as http:
        def post(path: str, body: dict) -> dict:
            r = http.post(path, json=body)
            if not r.is_success:
                raise SystemExit(f"POST {path} -> {r.status_code}: {r.text}")
            return r.json()

        product = post("/api/v1/products", {"name": "Bench shirt", "variants": [
            {"sku": f"BENCH-{size}", "prices": {"EUR": 1999}} for size in ("S", "M", "L")]})
        method = post("/api/v1/shipping-methods", {"name": "Standard", "prices": {"EUR": 495}})
        post("/api/v1/tax-rates", {"countryCode": "DE", "rate": "19", "name": "DE VAT"})
    return [v["id"] for v in product["variants"]], method["id"]


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


# ---------------------------------------------------------------- CPU accounting (/proc)


def cpu_snapshot(server_pid: int) -> dict[str, float]:
    """CPU seconds so far: the server process, all postgres processes, the machine (busy and total)."""
    tick = os.sysconf("SC_CLK_TCK")

    def ticks(pid: str) -> tuple[str, int]:
        raw = Path(f"/proc/{pid}/stat").read_text()
        name, fields = raw[raw.index("(") + 1:raw.rindex(")")], raw[raw.rindex(")") + 2:].split()
        return name, int(fields[11]) + int(fields[12])  # utime + stime

    try:
        postgres = 0
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                name, t = ticks(pid)
            except (OSError, ValueError):
                continue
            postgres += t if name == "postgres" else 0
        cpu = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return {"server": ticks(str(server_pid))[1] / tick, "postgres": postgres / tick,
                "busy": (sum(cpu) - cpu[3] - cpu[4]) / tick, "total": sum(cpu) / tick, "driver": time.process_time()}
    except OSError:
        return {}


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


class FlowFailed(Exception):
    pass


def drive(phase: Phase) -> dict:
    """Entry point of the driver process: run one phase, return latencies, counts, errors and CPU."""
    import uvloop

    return uvloop.run(_drive(phase))


async def _drive(p: Phase) -> dict:
    latencies: dict[str, list[float]] = {op: [] for op in OPS}
    lease_waits: list[float] = []
    errors: Counter[str] = Counter()
    examples: list[str] = []
    flows = launched = 0
    t0 = time.perf_counter()
    m0, m1 = t0 + p.warmup, t0 + p.warmup + p.duration  # the measured window
    marks: dict[str, dict[str, float]] = {}
    # One single-connection AsyncClient per connection, leased per flow. httpcore's pool scans all
    # of its connections on every request (O(n^2) with n busy connections), which at 64 connections
    # in one pool makes the driver, not the server, the bottleneck.
    tls = ssl.create_default_context()  # unused on http://, but built once instead of per client
    one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [httpx.AsyncClient(base_url=p.base_url, headers={"Authorization": f"Bearer {p.key}"}, limits=one,
                                 timeout=30, http1=True, http2=False, verify=tls) for _ in range(p.clients)]
    idle: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
    for client in clients:
        idle.put_nowait(client)

    async def call(client: httpx.AsyncClient, op: str, method: str, url: str, body: dict | None = None) -> dict:
        start = time.perf_counter()
        try:
            r = await client.request(method, url, json=body)
        except httpx.HTTPError as exc:
            errors[f"{op}: {type(exc).__name__}"] += 1
            raise FlowFailed from exc
        end = time.perf_counter()
        if m0 <= end <= m1:
            latencies[op].append((end - start) * 1000)
        if not r.is_success:
            errors[f"{op}: HTTP {r.status_code}"] += 1
            if len(examples) < 5:
                examples.append(f"{method} {url} -> {r.status_code} {r.text[:300]}")
            raise FlowFailed
        return r.json()

    async def flow() -> None:
        nonlocal flows
        due = time.perf_counter()
        client = await idle.get()
        if m0 <= due <= m1:
            lease_waits.append((time.perf_counter() - due) * 1000)
        try:
            body = {"currency": "EUR", "shippingAddress": ADDRESS}
            cart = (await call(client, "create", "POST", "/api/v1/carts", body))["id"]
            for variant in p.variants:
                body = {"variantId": variant, "quantity": 1}
                await call(client, "add_line", "POST", f"/api/v1/carts/{cart}/line-items", body)
            body = {"shippingMethodId": p.method_id}
            await call(client, "select_shipping", "PUT", f"/api/v1/carts/{cart}/shipping-method", body)
            await call(client, "get", "GET", f"/api/v1/carts/{cart}")
        except FlowFailed:
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
            await flow()

    async def open_scheduler(rate: float) -> None:
        nonlocal launched
        tasks: set[asyncio.Task[None]] = set()
        i = 0
        while (due := t0 + i / rate) < m1:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            task = asyncio.create_task(flow())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            launched += m0 <= due
            i += 1
        if tasks:
            await asyncio.wait(tasks, timeout=30)

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
    return {"latencies": latencies, "lease_waits": lease_waits, "errors": dict(errors), "examples": examples,
            "flows": flows, "launched": launched, "duration": p.duration, "cpu": cpu}


# ---------------------------------------------------------------- report


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def print_phase(title: str, r: dict) -> None:
    lat, secs = r["latencies"], r["duration"]
    print(f"\n{title}")
    print(f"  {'operation':<18}{'count':>9}{'per s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for op in OPS:
        print(f"  {op:<18}{len(lat[op]):>9}{len(lat[op]) / secs:>10.1f}{pct(lat[op], 50):>10.2f}{pct(lat[op], 99):>10.2f}")
    total = sum(len(v) for v in lat.values())
    mutations = sum(len(lat[op]) for op in MUTATIONS)
    print(f"  {'total requests/s':<37}{total / secs:>10.1f}")
    print(f"  {'cart mutations/s':<37}{mutations / secs:>10.1f}")
    print(f"  {'flows/s (completed)':<37}{r['flows'] / secs:>10.1f}")
    if cpu := r["cpu"]:
        cores = os.cpu_count() or 1
        print(f"  CPU (% of one core): server {100 * cpu['server'] / secs:.0f}%, postgres {100 * cpu['postgres'] / secs:.0f}%, "
              f"driver {100 * cpu['driver'] / secs:.0f}%; machine {100 * cpu['busy'] / cpu['total']:.0f}% busy of {cores} cores")
    if r["errors"]:
        n = sum(r["errors"].values())
        print(f"\n  !!!!!!!! {n} REQUESTS FAILED IN THIS PHASE: THE FIGURES ABOVE ARE NOT VALID !!!!!!!!")
        for what, count in sorted(r["errors"].items()):
            print(f"    {count:>7}  {what}")
        for example in r["examples"]:
            print(f"    e.g. {example}")


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per load phase (default 30)")
    parser.add_argument("--clients", type=int, default=64, help="closed-loop clients and connections (default 64)")
    parser.add_argument("--quick", action="store_true", help="5 s phases, to check that everything works")
    args = parser.parse_args()
    duration = 5.0 if args.quick else args.duration
    warmup = 1.0 if args.quick else 3.0
    url = os.environ.get("KASSA_BENCH_DATABASE_URL", DEFAULT_DB)

    asyncio.run(recreate_databases(url))
    tmp = Path(tempfile.mkdtemp(prefix="kassa-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASSA_")}
    env.update(KASSA_DATABASE_URL=url, KASSA_LOG_FORMAT="text", KASSA_DATA_DIR=str(tmp))
    kassa_cli(env, "migrate")
    app_id = kassa_cli(env, "apps", "create", "bench", "--env", "test")
    key = kassa_cli(env, "keys", "create", app_id, "--scopes", "*")

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = start_server(env, port, tmp / "server.log")
    failed = False
    try:
        variants, method_id = seed(base_url, key)
        print("Kassa cart service load benchmark")
        print(f"  server   1 process (`kassa serve cart`, uvicorn + uvloop) at {base_url}, log {tmp / 'server.log'}")
        print(f"  database {re.sub(r':[^:@/]*@', ':***@', url)}")
        print(f"  driver   separate process, httpx HTTP/1.1 keep-alive, {args.clients} connections (1 client each); "
              f"{warmup:.0f} s warm-up before each {duration:.0f} s phase")
        print(f"  flow     create cart -> add_line x{len(variants)} -> select_shipping -> get")

        print(f"\nReference: pgbench {' '.join(PGBENCH_ARGS)} on {PGBENCH_DB} (cart server idle) ...", flush=True)
        tps = run_pgbench(url)
        print(f"  tps = {tps:.1f}")

        phase = Phase(base_url, key, variants, method_id, server.pid, args.clients, duration, warmup)
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as driver:
            print(f"\nRunning closed loop ({args.clients} clients) ...", flush=True)
            closed = driver.submit(drive, phase).result()
            print_phase(f"Closed loop: {args.clients} clients, {duration:.0f} s", closed)
            max_flows = closed["flows"] / duration
            rate = max_flows / 2
            if rate <= 0:
                raise SystemExit("no flow completed in the closed loop; cannot run the open loop")
            print(f"\nRunning open loop at {rate:.1f} flows/s ...", flush=True)
            opened = driver.submit(drive, Phase(**{**phase.__dict__, "rate": rate})).result()
        print_phase(f"Open loop: {rate:.1f} flows/s target (half of {max_flows:.1f}), {duration:.0f} s", opened)
        print(f"  {'achieved flows/s (launched)':<37}{opened['launched'] / duration:>10.1f}")
        print(f"  {'achieved flows/s (completed)':<37}{opened['flows'] / duration:>10.1f}")
        print(f"  {'wait for a free connection p99 ms':<37}{pct(opened['lease_waits'], 99):>10.2f}")

        mutations = sum(len(closed["latencies"][op]) for op in MUTATIONS) / duration
        share = 100 * mutations / tps
        add_p99 = pct(opened["latencies"]["add_line"], 99)
        n_errors = sum(closed["errors"].values()) + sum(opened["errors"].values())
        print("\nSummary")
        print(f"  {'pgbench TPS (reference)':<44}{tps:>10.1f}")
        print(f"  {'cart mutations/s (closed loop)':<44}{mutations:>10.1f}")
        print(f"  {'cart mutations/s as % of pgbench TPS':<44}{share:>9.1f}%   target >= {TARGET_PCT_OF_PGBENCH:.0f}%   "
              f"{verdict(share >= TARGET_PCT_OF_PGBENCH)}")
        print(f"  {'add_line p99 at half load (ms)':<44}{add_p99:>10.2f}   target < {TARGET_ADD_LINE_P99_MS:.0f} ms  "
              f"{verdict(add_p99 < TARGET_ADD_LINE_P99_MS)}")
        print(f"  {'errors (non-2xx or transport)':<44}{n_errors:>10}   "
              f"{'none' if not n_errors else '!!! RUN HAD ERRORS: FIGURES NOT VALID !!!'}")
    except BaseException:
        failed = True
        raise
    finally:
        stop_server(server)
        if failed:
            print(f"\n(server log tail, {tmp / 'server.log'}):\n{(tmp / 'server.log').read_text()[-2000:]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
