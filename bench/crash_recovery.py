"""Crash recovery: the time from a kill -9 to the takeover of what the dead process held.

    ./dev bench crash_recovery [--runs 20] [--deliveries 5]

One database (KASSA_BENCH_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/kassa_bench_crash,
dropped and created again), migrated by `kassa migrate`, an application from the CLI. Then, per run:

1. a victim process starts (a real Python process that takes its liveness lock, as every `kassa`
   service process and worker does: kassa_platform.liveness) and holds an Idempotency-Key claim
   (`in_progress`, lock for 60 s) and `--deliveries` webhook deliveries (`sending`, lease 60 s),
   both under its number, as a process does mid-request and mid-delivery;
2. the bench, standing for the living processes, watches with the webhook service's reaper
   registered (what `kassa serve webhooks` and every `kassa worker` run), and a "retry" of the
   victim's request asks for the key every 5 ms;
3. SIGKILL; then, from the kill: the server has let the lock go (`lock released`), the retry has
   taken the claim over (`claim taken over`), the deliveries are due again and off the endpoint's
   cap (`leases reclaimed`, found by the once-a-second liveness watch).

Printed: median and max of each over the runs, and what the watch costs (one pg_locks read per
process per second). The 60 s before this change was each lease's and each claim's lock.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from common import bench_env, masked, migrate_and_create_app, plain_dsn, recreate_database

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/kassa_bench_crash"

VICTIM = """
import asyncio, sys
from kassa_platform.liveness import Liveness

async def main():
    live = Liveness(sys.argv[1], "victim")
    await live.start()
    print(live.id, flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def seed_endpoint(conn: asyncpg.Connection, app_id: str) -> str:
    now = datetime.now(UTC)
    endpoint = f"we_bench_{os.getpid()}"
    from kassa_contract.versions import LATEST_VERSION

    await conn.execute(
        "INSERT INTO webhook_endpoints (id, app_id, url, enabled_events, ordered_delivery, max_concurrency, disabled, "
        "version, api_version, created_at, updated_at) VALUES ($1, $2, 'https://example.com/hook', '[\"*\"]', false, "
        "$3, false, 1, $5, $4, $4)", endpoint, app_id, 5, now, LATEST_VERSION)
    return endpoint


async def hold(conn: asyncpg.Connection, app_id: str, endpoint: str, owner: int, run: int, deliveries: int) -> list[str]:
    """What a process holds mid-request and mid-delivery, under its number."""
    now = datetime.now(UTC)
    lease = now + timedelta(seconds=60)
    await conn.execute(
        "INSERT INTO idempotency_keys (app_id, key, request_hash, state, locked_until, owner, created_at, expires_at) "
        "VALUES ($1, $2, 'h', 'in_progress', $3, $4, $5, $6)", app_id, f"run-{run}", lease, owner, now,
        now + timedelta(hours=24))
    ids = []
    for i in range(deliveries):
        event, delivery = f"evt_bench_{run}_{i}", f"whd_bench_{run}_{i}"
        await conn.execute(
            "INSERT INTO webhook_events (id, app_id, type, source, aggregate_id, sequence, payload, created_at, "
            "relayed_at) VALUES ($1, $2, 'bench.held', 'bench', $1, 1, '\\x7b7d', $3, $3)", event, app_id, now)
        await conn.execute(
            "INSERT INTO webhook_deliveries (id, app_id, endpoint_id, event_id, event_type, aggregate_id, sequence, "
            "status, next_attempt_at, lease_owner, attempt_count, schedule_step, created_at, updated_at) VALUES "
            "($1, $2, $3, $4, 'bench.held', $4, 1, 'sending', $5, $6, 0, 0, $7, $7)",
            delivery, app_id, endpoint, event, lease, owner, now)
        ids.append(delivery)
    return ids


from kassa_platform.liveness import ALIVE_SQL  # noqa: E402 - after common: ./dev puts bench/ on the path


async def one_run(url: str, env: dict[str, str], app_id: str, endpoint: str, run: int, deliveries: int,
                  watcher: object, store: object) -> tuple[float, float, float]:
    victim = subprocess.Popen([sys.executable, "-c", VICTIM, url], env=env, stdout=subprocess.PIPE, text=True)
    try:
        owner = int(await asyncio.to_thread(victim.stdout.readline))  # type: ignore[union-attr]
        conn = await asyncpg.connect(plain_dsn(url))
        try:
            held = await hold(conn, app_id, endpoint, owner, run, deliveries)
            await asyncio.sleep(1.2)  # the watch has seen it alive
            killed = time.monotonic()
            os.kill(victim.pid, signal.SIGKILL)
            lock = claim = leases = None
            while lock is None or claim is None or leases is None:
                now = time.monotonic() - killed
                if now > 30:
                    raise SystemExit(f"run {run}: no takeover within 30 s (lock {lock}, claim {claim}, leases {leases})")
                if lock is None and owner not in {r[0] for r in await conn.fetch(ALIVE_SQL)}:
                    lock = now
                if claim is None and await store._try_claim(app_id, f"run-{run}", "h") is not None:  # type: ignore[attr-defined]
                    claim = time.monotonic() - killed
                if leases is None and await conn.fetchval(
                        "SELECT count(*) FROM webhook_deliveries WHERE id = ANY($1) AND next_attempt_at <= now()",
                        held) == deliveries:
                    leases = time.monotonic() - killed
                await asyncio.sleep(0.005)
            await conn.execute("DELETE FROM webhook_deliveries WHERE id = ANY($1)", held)
        finally:
            await conn.close()
        return lock, claim, leases
    finally:
        if victim.poll() is None:
            victim.kill()
        victim.wait()


async def watch_cost(url: str, processes: int) -> float:
    """Microseconds of one look at who is alive, with `processes` locks held."""
    from kassa_platform.liveness import ALIVE_SQL, Liveness

    lives = [Liveness(url, "cost") for _ in range(processes)]
    for live in lives:
        await live._connect()
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        for _ in range(50):
            await conn.fetch(ALIVE_SQL)
        began = time.perf_counter()
        for _ in range(500):
            await conn.fetch(ALIVE_SQL)
        return (time.perf_counter() - began) / 500 * 1e6
    finally:
        await conn.close()
        for live in lives:
            await live._close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--deliveries", type=int, default=5)
    args = parser.parse_args()
    url = os.environ.get("KASSA_BENCH_DATABASE_URL", DEFAULT_URL)
    await recreate_database(url)
    env = bench_env(url, Path(tempfile.mkdtemp()))
    app_id, _ = migrate_and_create_app(env, "crash bench")
    print(f"crash recovery on {masked(url)}: {args.runs} kill -9 of a process holding a claim and "
          f"{args.deliveries} deliveries")

    from kassa_platform.clock import Clock
    from kassa_platform.db import Database, create_engine
    from kassa_platform.idempotency import IdempotencyStore
    from kassa_platform.liveness import Liveness
    from kassa_webhooks.delivery import reclaim_dead

    sa_url = "postgresql+asyncpg://" + plain_dsn(url).removeprefix("postgresql://")
    db = Database(create_engine(sa_url, pool_size=2), direct_pool_size=1)
    watcher = Liveness(sa_url, "bench-watcher")

    async def reap() -> None:
        await reclaim_dead(db, Clock())

    watcher.watch("webhooks", reap)
    await watcher.start()
    retry = Liveness(sa_url, "bench-retry")
    store = IdempotencyStore(db, Clock(), 24, retry)
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        endpoint = await seed_endpoint(conn, app_id)
    finally:
        await conn.close()
    results = []
    try:
        for run in range(args.runs):
            results.append(await one_run(sa_url, env, app_id, endpoint, run, args.deliveries, watcher, store))
    finally:
        await watcher.stop()
    cost = await watch_cost(sa_url, 20)
    await db.close()
    for i, label in enumerate(("lock released", "claim taken over", "leases reclaimed")):
        values = [r[i] * 1000 for r in results]
        print(f"  kill -9 -> {label:<17} median {statistics.median(values):8.1f} ms   max {max(values):8.1f} ms")
    print(f"  the watch: one look at who is alive costs {cost:.0f} us with 20 processes' locks held; each process "
          f"looks once a second on its liveness connection (no writes)")
    print("  before: 60 s (each claim's lock, each lease)")
    await recreate_database(url, create=False)


if __name__ == "__main__":
    asyncio.run(main())
