"""Load benchmark for the webhook service on PostgreSQL: prints figures, it is not a test.

    uv run python bench/webhooks_load.py [--backlog 10000] [--rate 300] [--duration 30] [--quick]

One run: drop and recreate the database at KASSA_BENCH_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/kassa_webhooks_bench), an application and key from the CLI,
three receivers on 127.0.0.1 in their own process (raw asyncio HTTP/1.1, every request verified
with `svix.webhooks.Webhook`; receiver C answers 500 to a random 20 % of requests), and webhook
server processes (`python -m kassa.cli serve webhooks`: relay woken by LISTEN/NOTIFY, jobs
in-process; --servers N runs N replicas side by side, default 2, sharing the work through
SKIP LOCKED claims). Three endpoints (A, B, C) subscribe to every event. The retry schedule is shortened to
1, 1, 2, 3, 5, 10, 20 s (KASSA_WEBHOOKS_RETRY_SCHEDULE) so that C's retries finish within the run.

(a) backlog: with the servers stopped, --backlog events are written to the outbox; the servers
    start and relay, fan out and deliver them to all three. Printed: deliveries acknowledged per
    second until A and B hold every event (the backlog is drained: C's retries may go on), the
    requests per second, and the time until C holds every event too.
(b) steady: --rate events per second for --duration seconds, written one per transaction as a
    service would; end-to-end latency (outbox write -> 2xx sent by the receiver) p50 / p99 per
    receiver, from the first successful receipt of each event.

Completeness is judged by the receivers' own counts: every event id written must be in every
receiver's set of verified 2xx receipts. A delivery that exhausts even the short schedule is
recovered through the API (`POST …/recover`) and must then arrive.
Targets: (a) >= 1,000 deliveries/s; (b) p99 < 1 s for A and B. A missed target prints MISSED.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import msgspec
import uvloop
from common import Server, free_port, migrate_and_create_app, recreate_database

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/kassa_webhooks_bench"
RECEIVERS = ("A", "B", "C")
FAILING = "C"
FAILURE_RATE = 0.2
RETRY_SCHEDULE = "1,1,2,3,5,10,20"
TARGET_DELIVERIES_PER_S = 1000.0
TARGET_P99_MS = 1000.0


# ---------------------------------------------------------------- receivers (own process)


class _Envelope(msgspec.Struct):
    id: str
    createdAt: str  # noqa: N815 - the wire name


def receivers_main(ports: dict[str, int], conn: multiprocessing.connection.Connection) -> None:
    """Serve the three receivers; answer `stats`/`secrets`/`reset`/`stop` commands on the pipe."""
    from svix.webhooks import Webhook, WebhookVerificationError

    decoder = msgspec.json.Decoder(_Envelope)
    verifiers: dict[str, list[Webhook]] = {name: [] for name in ports}
    # per receiver: event id -> latency (s) of its first successful receipt
    first_ok: dict[str, dict[str, float]] = {name: {} for name in ports}
    counts = {name: {"requests": 0, "bad_signature": 0, "failed_on_purpose": 0} for name in ports}
    rng = random.Random(7)

    class Http(asyncio.Protocol):
        def __init__(self, name: str) -> None:
            self.name = name
            self.buffer = bytearray()

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport  # type: ignore[assignment]

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while True:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in head[1:])}
                length = int(headers.get("content-length", "0"))
                if len(self.buffer) < end + 4 + length:
                    return
                body = bytes(self.buffer[end + 4:end + 4 + length])
                del self.buffer[:end + 4 + length]
                self.transport.write(self.handle(headers, body))  # type: ignore[attr-defined]

        def handle(self, headers: dict[str, str], body: bytes) -> bytes:
            c = counts[self.name]
            c["requests"] += 1
            verified = False
            for verifier in verifiers[self.name]:
                try:
                    verifier.verify(body, headers)
                    verified = True
                    break
                except (WebhookVerificationError, ValueError):
                    continue
            if not verified:
                c["bad_signature"] += 1
                return b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"
            if self.name == FAILING and rng.random() < FAILURE_RATE:
                c["failed_on_purpose"] += 1
                return b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n"
            envelope = decoder.decode(body)
            seen = first_ok[self.name]
            if envelope.id not in seen:
                created = datetime.fromisoformat(envelope.createdAt.replace("Z", "+00:00")).timestamp()
                seen[envelope.id] = time.time() - created
            return b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"

    async def main() -> None:
        loop = asyncio.get_running_loop()
        servers = [await loop.create_server(lambda n=name: Http(n), "127.0.0.1", port) for name, port in ports.items()]
        conn.send("ready")
        while True:
            # The pipe is read in a thread (blocking), the answer is made here, in the loop's thread.
            command, arg = await loop.run_in_executor(None, conn.recv)
            if True:
                if command == "secrets":
                    for name, secret in arg.items():
                        verifiers[name].append(Webhook(secret))
                    conn.send("ok")
                elif command == "stats":
                    conn.send({name: {"ids": len(first_ok[name]), **counts[name]} for name in ports})
                elif command == "latencies":
                    conn.send({name: dict(first_ok[name]) for name in ports})
                elif command == "missing":
                    conn.send({name: sorted(set(arg) - set(first_ok[name])) for name in ports})
                elif command == "reset":
                    for name in ports:
                        first_ok[name].clear()
                        counts[name].update(requests=0, bad_signature=0, failed_on_purpose=0)
                    conn.send("ok")
                elif command == "stop":
                    for server in servers:
                        server.close()
                    conn.send("bye")
                    return

    uvloop.run(main())


class Receivers:
    def __init__(self) -> None:
        self.ports = {name: free_port() for name in RECEIVERS}
        self.conn, child = multiprocessing.Pipe()
        self.proc = multiprocessing.get_context("fork").Process(target=receivers_main, args=(self.ports, child),
                                                                daemon=True)
        self.proc.start()
        assert self.conn.recv() == "ready"

    def ask(self, command: str, arg: object = None) -> object:
        self.conn.send((command, arg))
        return self.conn.recv()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}/hooks/{name}"

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.ask("stop")
        self.proc.join(5)


# ---------------------------------------------------------------- writing events


async def write_events(pool: asyncpg.Pool, app_id: str, count: int, *, rate: float | None = None,
                       batch: int = 1) -> list[str]:
    """Outbox rows as a service writes them (the exact envelope bytes), `batch` per transaction."""
    from kassa_contract.events import EVENT_VERSION, EventEnvelope
    from kassa_platform.ids import new_id

    encoder = msgspec.json.Encoder()
    ids: list[str] = []
    started = time.perf_counter()
    insert = ("INSERT INTO outbox_events (id, app_id, type, source, aggregate_id, sequence, payload, created_at) "
              "VALUES ($1, $2, $3, 'bench', $4, $5, $6, $7)")
    for first in range(0, count, batch):
        if rate is not None:  # open loop: the i-th event is due at i / rate
            delay = started + first / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        rows = []
        for _ in range(min(batch, count - first)):
            event_id, cart_id, now = new_id("evt"), new_id("cart"), datetime.now(UTC)
            payload = encoder.encode(EventEnvelope(id=event_id, type="cart.updated", version=EVENT_VERSION,
                                                   created_at=now, data={"cartId": cart_id, "sequence": 1}))
            rows.append((event_id, app_id, "cart.updated", cart_id, 1, payload, now))
            ids.append(event_id)
        async with pool.acquire() as conn, conn.transaction():
            await conn.executemany(insert, rows)
    return ids


def wait_complete(receivers: Receivers, ids: list[str], names: tuple[str, ...], timeout: float) -> float | None:
    """Seconds until every receiver in `names` holds every id (None on timeout)."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        stats = receivers.ask("stats")
        if all(stats[n]["ids"] >= len(ids) for n in names):  # type: ignore[index]
            missing = receivers.ask("missing", ids)
            if not any(missing[n] for n in names):  # type: ignore[index]
                return time.perf_counter() - started
        time.sleep(0.02)
    return None


def recover_if_needed(receivers: Receivers, server: Server, key: str, endpoints: dict[str, str], ids: list[str],
                      since: datetime) -> None:
    missing = receivers.ask("missing", ids)
    for name, lost in missing.items():  # type: ignore[union-attr]
        if lost:
            print(f"  receiver {name}: {len(lost)} events still missing -> recovering failed deliveries via the API")
            r = httpx.post(f"{server.base}/api/v1/webhook-endpoints/{endpoints[name]}/recover",
                           headers={"Authorization": f"Bearer {key}"}, json={"since": since.isoformat()})
            print(f"    POST …/recover -> {r.status_code} {r.text}")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered) + 0.5)) - 1))]


# ---------------------------------------------------------------- the run


async def main(args: argparse.Namespace) -> None:
    url = os.environ.get("KASSA_BENCH_DATABASE_URL", DEFAULT_DB)
    await recreate_database(url)
    workdir = Path(tempfile.mkdtemp(prefix="kassa-webhooks-bench-"))
    env = {**os.environ, "KASSA_DATABASE_URL": url, "KASSA_REDIS_URL": "", "KASSA_DATA_DIR": str(workdir),
           "KASSA_LOG_FORMAT": "text", "KASSA_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"), "KASSA_WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "all",
           "KASSA_WEBHOOKS_RETRY_SCHEDULE": RETRY_SCHEDULE}
    app_id, key = migrate_and_create_app(env, "webhooks-bench", scopes="webhooks:manage")
    receivers = Receivers()
    servers = [Server(env, workdir / f"server{i}.log", "webhooks", ready="/healthz", timeout=30, interval=0.05,
                      grace=15, failure="webhook server did not start") for i in range(args.servers)]
    server = servers[0]
    pool = await asyncpg.create_pool(url, min_size=2, max_size=4)
    try:
        server.start()
        endpoints: dict[str, str] = {}
        secrets: dict[str, str] = {}
        for name in RECEIVERS:
            r = httpx.post(f"{server.base}/api/v1/webhook-endpoints", headers={"Authorization": f"Bearer {key}"},
                           json={"url": receivers.url(name), "enabledEvents": ["cart.*"], "description": name,
                                 "maxConcurrency": 100})
            r.raise_for_status()
            endpoints[name], secrets[name] = r.json()["id"], r.json()["secret"]
        receivers.ask("secrets", secrets)
        server.stop()
        print(f"webhooks_load: 3 receivers on 127.0.0.1 ({FAILING} fails {FAILURE_RATE:.0%} of requests), "
              f"{args.servers} `kassa serve webhooks` process(es) on PostgreSQL, retry schedule {RETRY_SCHEDULE} s, "
              f"{os.cpu_count()} CPUs")

        # (a) backlog drain
        since_a = datetime.now(UTC)
        backlog_ids = await write_events(pool, app_id, args.backlog, batch=500)
        print(f"\n(a) backlog: {len(backlog_ids):,} events in the outbox, server stopped; starting it")
        for s in servers:
            s.spawn()
        for s in servers:
            s.wait_ready()
        # Timed from the moment the servers answer: process start-up (imports, migrations check) is
        # not delivery work. The relay may have begun a moment earlier, which only flatters by that.
        started = time.perf_counter()
        cpu_before = sum(s.cpu_seconds() for s in servers)
        healthy = wait_complete(receivers, backlog_ids, ("A", "B"), timeout=600)
        if healthy is None:
            print("  A and B did not receive every event within 600 s")
        drained = time.perf_counter() - started  # the backlog's first attempts are made by now (A and B have all)
        drained_stats = receivers.ask("stats")
        every = wait_complete(receivers, backlog_ids, RECEIVERS, timeout=120)
        if every is None:
            recover_if_needed(receivers, server, key, endpoints, backlog_ids, since_a)
            every = wait_complete(receivers, backlog_ids, RECEIVERS, timeout=120)
        total = time.perf_counter() - started
        stats = receivers.ask("stats")
        requests = sum(s["requests"] for s in stats.values())  # type: ignore[union-attr]
        delivered = sum(s["ids"] for s in drained_stats.values())  # type: ignore[union-attr]
        rate_a = delivered / drained
        print(f"  drained in {drained:.2f} s: {delivered:,} deliveries acknowledged by the "
              f"receivers = {rate_a:,.0f} deliveries/s, "
              f"{sum(s['requests'] for s in drained_stats.values()) / drained:,.0f} requests/s")  # type: ignore[union-attr]
        print(f"  every receiver holds every event after {total:.2f} s (C's retries on the 1-20 s schedule included); "
              f"{requests:,} requests in all, {stats[FAILING]['failed_on_purpose']:,} failed on purpose by {FAILING}")  # type: ignore[index]
        print(f"  server CPU: {sum(s.cpu_seconds() for s in servers) - cpu_before:.1f} s")
        for name in RECEIVERS:
            s = stats[name]  # type: ignore[index]
            print(f"  receiver {name}: {s['ids']:,} distinct events of {len(backlog_ids):,}, {s['requests']:,} requests, "
                  f"{s['bad_signature']} bad signatures")
        complete_a = every is not None and all(stats[n]["ids"] == len(backlog_ids) for n in RECEIVERS)  # type: ignore[index]
        print(f"  no event missing: {'yes' if complete_a else 'NO'}; target >= {TARGET_DELIVERIES_PER_S:,.0f} "
              f"deliveries/s: {'met' if rate_a >= TARGET_DELIVERIES_PER_S else 'MISSED'}")

        # (b) steady rate, end-to-end latency
        receivers.ask("reset")
        since_b = datetime.now(UTC)
        print(f"\n(b) steady: {args.rate} events/s for {args.duration} s, one event per transaction")
        write_started = time.perf_counter()
        steady_ids = await write_events(pool, app_id, int(args.rate * args.duration), rate=args.rate)
        write_time = time.perf_counter()
        every = wait_complete(receivers, steady_ids, RECEIVERS, timeout=120)
        if every is None:
            recover_if_needed(receivers, server, key, endpoints, steady_ids, since_b)
            every = wait_complete(receivers, steady_ids, RECEIVERS, timeout=120)
        latencies = receivers.ask("latencies")
        stats = receivers.ask("stats")
        print(f"  written in {write_time - write_started:.1f} s; every receiver holds every event "
              f"{every:.2f} s after the last write" if every is not None else "  INCOMPLETE")
        ok_b = True
        for name in RECEIVERS:
            values = [v * 1000 for k, v in latencies[name].items()]  # type: ignore[index]
            p50, p99 = percentile(values, 50), percentile(values, 99)
            target = "" if name == FAILING else (" (target p99 < 1000 ms: "
                                                 f"{'met' if p99 < TARGET_P99_MS else 'MISSED'})")
            ok_b &= name == FAILING or p99 < TARGET_P99_MS
            print(f"  receiver {name}: {len(values):,} of {len(steady_ids):,} events, latency p50 {p50:.0f} ms, "
                  f"p99 {p99:.0f} ms, max {max(values):.0f} ms{target}")
        missing = receivers.ask("missing", steady_ids)
        print(f"  no event missing: {'yes' if not any(missing.values()) else 'NO'}")  # type: ignore[union-attr]
    finally:
        for s in servers:
            s.stop()
        receivers.stop()
        await pool.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backlog", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=300)
    parser.add_argument("--duration", type=float, default=30)
    parser.add_argument("--servers", type=int, default=2,
                        help="webhook server processes, as replicas would run (claims never overlap)")
    parser.add_argument("--quick", action="store_true", help="1,000 events backlog, 5 s steady")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.backlog, arguments.duration = 1000, 5
    uvloop.run(main(arguments))
