"""Scale-out benchmark: the cart journey through the gateway, one cart process, then two.

    ./dev bench cluster_load [--duration 20] [--clients 32] [--quick]

One run: drop and recreate the database at KASSA_BENCH_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/kassa_bench_cluster), `kassa migrate`, an application and a
secret key from the CLI; two `kassa serve cart` processes; the gateway (nginx with
deploy/nginx/kassa.conf.template, as tests/e2e/cluster.py runs it). Then two phases, each a closed
loop of --clients clients (one HTTP/1.1 keep-alive connection each, to the gateway) from a
separate driver process:

1. the gateway's cart upstream is the first cart process alone;
2. it is both cart processes (the gateway is restarted with the two).

The journey: create cart -> add line -> add line -> address (PATCH) -> shipping method (PUT) ->
get. Printed per phase: journeys/s, p50/p99 per step, and the CPU each process used (the cart
processes, nginx, PostgreSQL, the driver) as % of one core and per journey; then the ratio of the
two phases' journeys/s. On a 2-core machine two cart processes compete with PostgreSQL, nginx and
the driver for the same two cores: the ratio shows that, and the CPU lines show where it went.
The database is dropped at the end. Linux only (/proc).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import uvloop
from common import (
    LeanClient,
    Recorder,
    RequestFailed,
    Server,
    _cpu_ticks,
    bench_env,
    free_port,
    lean_clients,
    masked,
    migrate_and_create_app,
    pct,
    print_failures,
    recreate_database,
    seed,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for tests.e2e.cluster
from tests.e2e.cluster import Gateway  # noqa: E402  (the gateway exactly as the system test runs it)

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/kassa_bench_cluster"
STEPS = ("create", "add_line", "address", "shipping", "get")
ADDRESS = {"addressLine1": "Unter den Linden 1", "city": "Berlin", "countryCode": "DE"}


@dataclass
class Phase:
    base_url: str
    key: str
    variants: list[str]
    method_id: str
    pids: dict[str, list[int]]  # what to account CPU to: name -> processes
    clients: int
    duration: float
    warmup: float


def drive(phase: Phase) -> dict:
    """The driver process: run one closed-loop phase; latencies, journeys, errors, CPU."""
    return uvloop.run(_drive(phase))


def cpu_seconds(pids: dict[str, list[int]]) -> dict[str, float]:
    tick = os.sysconf("SC_CLK_TCK")
    out = {name: sum(_cpu_ticks(str(pid))[1] for pid in group) / tick for name, group in pids.items()}
    postgres = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError, ValueError):
            name, ticks = _cpu_ticks(pid)
            postgres += ticks if name == "postgres" else 0
    stat = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return {**out, "postgres": postgres / tick, "driver": time.process_time(),
            "busy": (sum(stat) - stat[3] - stat[4]) / tick}


async def _drive(p: Phase) -> dict:
    journeys = 0
    t0 = time.perf_counter()
    m0, m1 = t0 + p.warmup, t0 + p.warmup + p.duration
    marks: dict[str, dict[str, float]] = {}
    recorder = Recorder(STEPS, m0, m1)
    call = recorder.call

    async def client_loop(client: LeanClient) -> None:
        nonlocal journeys
        while time.perf_counter() < m1:
            with contextlib.suppress(RequestFailed):
                cart = "/api/v1/carts/" + (await call(client, "create", "POST", "/api/v1/carts", {"currency": "EUR"}))["id"]
                for variant in p.variants[:2]:
                    await call(client, "add_line", "POST", f"{cart}/line-items", {"variantId": variant, "quantity": 1})
                await call(client, "address", "PATCH", cart, {"shippingAddress": ADDRESS})
                await call(client, "shipping", "PUT", f"{cart}/shipping-method", {"shippingMethodId": p.method_id})
                await call(client, "get", "GET", cart)
                if m0 <= time.perf_counter() <= m1:
                    journeys += 1

    async def mark(name: str, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        marks[name] = cpu_seconds(p.pids)

    clients = lean_clients(p.base_url, p.key, p.clients, timeout=30)
    markers = [asyncio.create_task(mark("start", m0)), asyncio.create_task(mark("end", m1))]
    try:
        await asyncio.gather(*(client_loop(c) for c in clients))
        await asyncio.gather(*markers)
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    cpu = {k: marks["end"][k] - marks["start"][k] for k in marks["start"]}
    return {"latencies": recorder.latencies, "errors": dict(recorder.errors), "examples": recorder.examples,
            "journeys": journeys,
            "duration": p.duration, "cpu": cpu}


def children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


def report(title: str, r: dict) -> float:
    secs, lat = r["duration"], r["latencies"]
    rate = r["journeys"] / secs
    print(f"\n{title}")
    print(f"  journeys/s {rate:.1f} ({r['journeys']} in {secs:.0f} s; {6 * rate:.0f} requests/s)")
    print(f"  {'step':<10}{'count':>8}{'p50 ms':>9}{'p99 ms':>9}")
    for step in STEPS:
        print(f"  {step:<10}{len(lat[step]):>8}{pct(lat[step], 50):>9.2f}{pct(lat[step], 99):>9.2f}")
    cpu = r["cpu"]
    named = [k for k in cpu if k not in ("busy",)]
    print("  CPU        % of one core   ms per journey")
    for name in named:
        print(f"  {name:<12}{100 * cpu[name] / secs:>12.0f}%{1000 * cpu[name] / max(r['journeys'], 1):>15.2f}")
    rest = cpu["busy"] - sum(cpu[k] for k in named)
    print(f"  {'rest':<12}{100 * rest / secs:>12.0f}%   (anything else on the machine; {os.cpu_count()} cores: "
          f"{100 * cpu['busy'] / secs / (os.cpu_count() or 1):.0f}% busy)")
    if r["errors"]:
        print_failures(sum(r["errors"].values()), r["errors"], r["examples"])
    return rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per phase (default 20)")
    parser.add_argument("--clients", type=int, default=32, help="closed-loop clients, one connection each (default 32)")
    parser.add_argument("--quick", action="store_true", help="5 s phases, to check that everything works")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops the processes
    duration, warmup = (5.0, 1.0) if args.quick else (args.duration, 3.0)
    url = os.environ.get("KASSA_BENCH_DATABASE_URL", DEFAULT_DB)

    asyncio.run(recreate_database(url))
    tmp = Path(tempfile.mkdtemp(prefix="kassa-bench-cluster-"))
    env = bench_env(url, tmp)
    env["KASSA_DB_POOL_SIZE"] = "10"  # two processes, two pools each: 40 of PostgreSQL's connections at most
    _, key = migrate_and_create_app(env)
    carts = [Server(env, tmp / f"cart-{i}.log", "cart", ready="/healthz", timeout=60) for i in (1, 2)]
    gateway: Gateway | None = None
    try:
        for cart in carts:
            cart.spawn()
        for cart in carts:
            cart.wait_ready()
        variants, method_id = seed(carts[0].base, key)
        print("Kassa scale-out benchmark: the cart journey through the gateway")
        print(f"  gateway  nginx, deploy/nginx/kassa.conf.template, 1 worker process; log {tmp / 'gateway.log'}")
        print(f"  cart     `kassa serve cart` processes at {', '.join(c.base for c in carts)}")
        print(f"  database {masked(url)}")
        print(f"  driver   separate process, {args.clients} lean HTTP/1.1 keep-alive clients; {warmup:.0f} s warm-up, "
              f"{duration:.0f} s per phase")
        print("  journey  create -> add_line x2 -> address -> shipping -> get")
        rates = []
        for count in (1, 2):
            port = free_port()
            gateway = Gateway(port, {"cart": [f"127.0.0.1:{c.port}" for c in carts[:count]],
                                     "checkout": [f"127.0.0.1:{free_port()}"], "webhooks": [f"127.0.0.1:{free_port()}"]},
                              tmp)
            gateway.start()
            gateway.wait_ready()
            pids = {f"cart-{i + 1}": [c.pid] for i, c in enumerate(carts)}
            pids["nginx"] = [gateway.pid, *children(gateway.pid)]
            phase = Phase(gateway.base, key, variants, method_id, pids, args.clients, duration, warmup)
            print(f"\nRunning with {count} cart process{'es' if count > 1 else ''} ...", flush=True)
            with get_context("spawn").Pool(1) as driver:
                result = driver.apply(drive, (phase,))
            rates.append(report(f"{count} cart process{'es' if count > 1 else ''} behind the gateway", result))
            gateway.stop()
            gateway = None
        ratio = f"{rates[1] / rates[0]:.2f}" if rates[0] else "n/a (no journey completed with one process)"
        print(f"\nRatio: {ratio} (journeys/s with two cart processes / with one)")
    finally:
        if gateway is not None:
            gateway.stop()
        for cart in carts:
            cart.stop()
        asyncio.run(recreate_database(url, create=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
