"""Two-step redemptions on PostgreSQL: reserve + confirm pairs at a fixed rate, as tills send them.
Prints figures, it is not a test.

    ./dev bench redemptions [--rate 200] [--duration 20] [--quick]

One run: drop and recreate the database at KASSA_BENCH_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/kassa_bench) with `_redemptions` appended, `kassa migrate`,
an application and a secret key from the CLI, ONE cart server process (`kassa serve cart`), and
through its API: a 10 % campaign with a budget and a single-use code per pair to come, and a
5 EUR campaign with one generic code. Then an open loop from a separate driver process: a pair
starts every 1/--rate s whatever the completions, each a POST /api/v1/redemptions (both codes on
a three-line basket snapshot) followed by its POST …/confirm (a transaction id of its own), each
on a keep-alive connection of its own (common.LeanClient).

Targets: --rate pairs/s (default 200) achieved, p99 < 10 ms for reserve and for confirm. Printed:
latencies, achieved rate, the CPU per pair of the server and of PostgreSQL (from /proc), and
whether both campaigns' counters match what the server answered (uses = confirms). A
missed target prints MISSED, any non-2xx response is reported loudly; the exit code is 0
whenever the run completes.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import httpx
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
)

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/kassa_bench"
OPS = ("reserve", "confirm")
TARGET_P99_MS = 10.0
BASKET = {"currency": "EUR", "lineItems": [
    {"sku": "SHOE-42", "categories": ["shoes"], "quantity": 1, "unitPrice": 8_999},
    {"sku": "SOCK-3", "categories": ["socks"], "quantity": 3, "unitPrice": 499},
    {"sku": "LACE-1", "categories": ["care"], "quantity": 2, "unitPrice": 299},
]}


@dataclass(frozen=True)
class Phase:
    base_url: str
    key: str
    codes: list[str]
    server_pid: int
    rate: float
    duration: float
    warmup: float
    connections: int
    keyed: bool  # each reserve with an Idempotency-Key, as docs/redemptions.md shows a till (a confirm is
    # idempotent by its transaction id)


def drive(phase: Phase) -> dict:
    """Entry point of the driver process: the open loop, then latencies, counts, errors and CPU.
    The driver's own garbage collector stays off for the run: its pauses (tens of ms) would be
    measured as the server's latency."""
    gc.collect()
    gc.freeze()
    gc.disable()
    return uvloop.run(_drive(phase))


async def _drive(p: Phase) -> dict:
    t0 = time.perf_counter()
    m0, m1 = t0 + p.warmup, t0 + p.warmup + p.duration  # the measured window
    recorder = Recorder(OPS, m0, m1)
    clients = lean_clients(p.base_url, p.key, p.connections, timeout=30)
    idle: asyncio.Queue[LeanClient] = asyncio.Queue()
    for client in clients:
        idle.put_nowait(client)
    pairs = launched = reserved = confirmed = 0  # reserved/confirmed: every success, warm-up included
    delays: list[float] = []
    marks: dict[str, dict[str, float]] = {}

    async def pair(i: int, due: float) -> None:
        nonlocal pairs, reserved, confirmed
        client = await idle.get()
        if m0 <= due <= m1:
            delays.append((time.perf_counter() - due) * 1000)
        try:
            held = await recorder.call(client, "reserve", "POST", "/api/v1/redemptions",
                                       {"codes": [p.codes[i], "BENCH5"], "basket": BASKET},
                                       {"Idempotency-Key": f"till-sale-{i}-reserve"} if p.keyed else None)
            reserved += 1
            await recorder.call(client, "confirm", "POST", f"/api/v1/redemptions/{held['id']}/confirm",
                                {"transactionId": f"POS-{i:07d}"})
            confirmed += 1
        except RequestFailed:
            return
        finally:
            idle.put_nowait(client)
        if m0 <= time.perf_counter() <= m1:
            pairs += 1

    async def mark(name: str, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        marks[name] = cpu_snapshot(p.server_pid)

    markers = [asyncio.create_task(mark("start", m0)), asyncio.create_task(mark("end", m1))]
    try:
        async with asyncio.TaskGroup() as in_flight:
            i = 0
            while (due := t0 + i / p.rate) < m1 and i < len(p.codes):
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                in_flight.create_task(pair(i, due))
                launched += m0 <= due
                i += 1
        await asyncio.gather(*markers)
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))
    cpu = {k: marks["end"][k] - marks["start"][k] for k in marks["start"]} if marks.get("start") else {}
    return {"latencies": recorder.latencies, "delays": delays, "errors": dict(recorder.errors),
            "examples": recorder.examples, "pairs": pairs, "launched": launched, "cpu": cpu,
            "reserved": reserved, "confirmed": confirmed}


def seed(base_url: str, key: str, count: int) -> tuple[list[str], list[str]]:
    """The two campaigns and their codes; returns the single-use codes (one per pair) and the
    campaigns' ids."""
    codes = [f"TILL{i:07d}" for i in range(count)]
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        def post(path: str, body: dict) -> dict:
            r = http.post(path, json=body)
            if not r.is_success:
                raise SystemExit(f"POST {path} -> {r.status_code}: {r.text}")
            return r.json()

        ten = post("/api/v1/campaigns", {"name": "Ten percent", "reward": {"type": "percent_off", "percent": 10},
                                         "budget": 10**12})
        for start in range(0, count, 10_000):
            post(f"/api/v1/campaigns/{ten['id']}/codes/import", {"codes": codes[start:start + 10_000]})
        five = post("/api/v1/campaigns", {"name": "Five off", "reward": {"type": "fixed_off", "amounts": {"EUR": 500}}})
        post(f"/api/v1/campaigns/{five['id']}/codes", {"code": "BENCH5"})
    return codes, [ten["id"], five["id"]]


def counters(base_url: str, key: str, campaign_ids: list[str]) -> list[tuple[int, int]]:
    """(uses, reservedUses) of each campaign, from its stats."""
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as http:
        stats = [http.get(f"/api/v1/campaigns/{c}/stats").json() for c in campaign_ids]
    return [(s["uses"], s["reservedUses"]) for s in stats]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="pairs started per second (default 200)")
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds (default 20)")
    parser.add_argument("--connections", type=int, default=32, help="driver connections (default 32)")
    parser.add_argument("--quick", action="store_true", help="a 5 s run, to check that everything works")
    parser.add_argument("--idempotency-keys", action="store_true",
                        help="send an Idempotency-Key with every reserve, as docs/redemptions.md shows a till")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops the server
    duration = 5.0 if args.quick else args.duration
    warmup = 1.0 if args.quick else 3.0
    url = os.environ.get("KASSA_BENCH_DATABASE_URL", DEFAULT_DB) + "_redemptions"

    asyncio.run(recreate_database(url))
    tmp = Path(tempfile.mkdtemp(prefix="kassa-bench-"))
    env = bench_env(url, tmp)
    _, key = migrate_and_create_app(env)
    server = Server(env, tmp / "server.log", "cart", ready="/healthz", timeout=30,
                    failure="cart server did not become healthy (exit code {code})").start()
    try:
        codes, campaign_ids = seed(server.base, key, int(args.rate * (duration + warmup)) + 10)
        print("Kassa two-step redemptions benchmark (reserve + confirm)")
        print(f"  server   1 process (`kassa serve cart`) at {server.base}, its log: {tmp / 'server.log'}")
        print(f"  database {masked(url)}")
        print(f"  driver   separate process, open loop at {args.rate:.0f} pairs/s, {args.connections} keep-alive "
              f"connections; {warmup:.0f} s warm-up, {duration:.0f} s measured")
        print("  pair     reserve (a single-use code of a 10 % campaign with a budget + a generic 5 EUR code, "
              "3-line basket)" + (" with an Idempotency-Key" if args.idempotency_keys else "") + " -> confirm")
        phase = Phase(server.base, key, codes, server.pid, args.rate, duration, warmup, args.connections,
                      args.idempotency_keys)
        with get_context("spawn").Pool(1) as driver:
            r = driver.apply(drive, (phase,))
        counted = counters(server.base, key, campaign_ids)
    finally:
        server.stop()

    print(f"\n  {'operation':<10}{'count':>8}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for op in OPS:
        lat = r["latencies"][op]
        print(f"  {op:<10}{len(lat):>8}{pct(lat, 50):>10.2f}{pct(lat, 90):>10.2f}{pct(lat, 99):>10.2f}"
              f"{max(lat, default=float('nan')):>10.2f}")
    achieved = r["pairs"] / duration
    print(f"  {'achieved pairs/s (launched)':<36}{r['launched'] / duration:>10.1f}")
    print(f"  {'achieved pairs/s (completed)':<36}{achieved:>10.1f}")
    print(f"  {'pair start delay p99 ms':<36}{pct(r['delays'], 99):>10.2f}")
    if r["cpu"]:
        cpu = r["cpu"]
        print_cpu(cpu, duration)
        n = max(1, r["pairs"])
        print(f"  CPU per pair: server {1000 * cpu['server'] / n:.2f} ms, postgres {1000 * cpu['postgres'] / n:.2f} ms")
    n_errors = sum(r["errors"].values())
    if n_errors:
        print_failures(n_errors, r["errors"], r["examples"])
    print("\nSummary")
    print(f"  {'pairs/s':<36}{achieved:>10.1f}   target >= {args.rate:.0f}"
          f"   {'met' if achieved >= 0.98 * args.rate else 'MISSED'}")
    for op in OPS:
        p99 = pct(r["latencies"][op], 99)
        print(f"  {op + ' p99 (ms)':<36}{p99:>10.2f}   target < {TARGET_P99_MS:.0f} ms"
              f"   {'met' if p99 < TARGET_P99_MS else 'MISSED'}")
    print(f"  {'errors (non-2xx or transport)':<36}{n_errors:>10}")
    # Every campaign's counters after the run: uses = confirms, reservedUses = reserves never confirmed.
    expected = (r["confirmed"], r["reserved"] - r["confirmed"])
    exact = all(c == expected for c in counted)
    print(f"  {'counters (uses, reserved) exact':<36}{'yes' if exact else 'NO':>10}   "
          f"{counted[0]} and {counted[1]} for {expected} answered")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
