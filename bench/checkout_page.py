"""The hosted checkout page and its embed script, in bytes and milliseconds: prints figures, it is not a test.

    ./dev bench checkout_page [--duration 20] [--rate 50] [--sessions 50] [--keep-database]

1. The embed script as Kassa serves it (`/embed/v1/embed.js`, the script build, and `embed.mjs`,
   the ES module; both minified): bytes, and gzipped (level 9). Target: at most 5 KB gzipped.
2. Against `kassa serve` (embedded: one process, on PostgreSQL at KASSA_BENCH_DATABASE_URL, default
   postgresql://postgres@127.0.0.1:5432/kassa_page_bench, dropped and created again; no Redis):
   an application, a product, a shipping method and checkout sessions made through the API. The
   page `/s/{id}` is fetched once with everything it links from Kassa's origin (stylesheets,
   scripts): its total transfer, HTML + CSS + JS each gzipped (level 9). Target: at most 40 KB.
3. Render time: GET `/s/{id}` (round robin over --sessions sessions) sent on a fixed schedule of
   --rate requests per second for --duration seconds after a 3 s warm-up, over real HTTP on
   keep-alive connections (an open loop: a request's time counts from when it was due, so a slow
   server cannot hide its queue). p50/p90/p99/max of the time to the whole answer. Target: p99
   under 20 ms. And the server's CPU per view: its utime + stime (/proc/<pid>/stat) over the
   measured requests, divided by their number (what a page costs the machine, whatever the load).

A missed target prints MISSED; the exit code is 1 when a request failed, else 0.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import re
import signal
import sys
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path

import httpx
from common import (
    LeanClient,
    Server,
    bench_env,
    masked,
    migrate_and_create_app,
    pct,
    process_cpu,
    recreate_database,
    seed,
)

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "services" / "checkout" / "kassa_checkout" / "embed_assets"
DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/kassa_page_bench"
EMBED_BUDGET = 5 * 1024
PAGE_BUDGET = 40 * 1024
TARGET_P99_MS = 20.0
CONNECTIONS = 16
ADDRESS = {"firstName": "Bench", "lastName": "Buyer", "addressLine1": "Unter den Linden 1", "city": "Berlin",
           "postalCode": "10117", "countryCode": "DE"}


def gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def embed_sizes() -> None:
    print("\nEmbed script (as served from /embed/v1/)")
    for name in ("embed.js", "embed.mjs"):
        body = (ASSETS / name).read_bytes()
        size = gz(body)
        print(f"  {name:<10} {len(body):>7,} B minified  {size:>6,} B min+gzip   target <= {EMBED_BUDGET:,} B: "
              f"{verdict(size <= EMBED_BUDGET)}")


class Links(HTMLParser):
    """The stylesheets and scripts a page loads."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "link" and "stylesheet" in (a.get("rel") or "").split() and a.get("href"):
            self.found.append(("css", a["href"] or ""))
        elif tag == "script" and a.get("src"):
            self.found.append(("js", a["src"] or ""))


def sessions(base: str, key: str, count: int) -> list[str]:
    """`count` open checkout sessions, each over a cart with two lines, an address and a shipping method."""
    variants, method_id = seed(base, key)
    made = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=10) as http:
        for i in range(count):
            cart = http.post("/api/v1/carts", json={
                "currency": "EUR", "customerEmail": f"buyer{i}@example.com", "shippingAddress": ADDRESS,
                "lineItems": [{"variantId": variants[0], "quantity": 1}, {"variantId": variants[1], "quantity": 2}]})
            cart.raise_for_status()
            http.put(f"/api/v1/carts/{cart.json()['id']}/shipping-method",
                      json={"shippingMethodId": method_id}).raise_for_status()
            session = http.post("/api/v1/checkout/sessions", json={"cartId": cart.json()["id"]})
            session.raise_for_status()
            made.append(session.json()["id"])
    return made


def page_transfer(base: str, session_id: str) -> bool:
    print(f"\nThe page /s/{session_id} and what it loads from Kassa (gzip level 9)")
    with httpx.Client(base_url=base, timeout=10) as http:
        page = http.get(f"/s/{session_id}", headers={"Accept": "text/html"})
        if page.status_code != 200 or "text/html" not in page.headers.get("content-type", ""):
            print(f"  /s/{{id}} answered {page.status_code} {page.headers.get('content-type')}: no page to measure")
            return False
        parts = [("html", f"/s/{session_id}", page.content)]
        links = Links()
        links.feed(page.text)
        for kind, href in links.found:
            url = httpx.URL(base).join(href)
            if url.host != httpx.URL(base).host or url.port != httpx.URL(base).port:
                continue  # another origin's file is not Kassa's transfer (there should be none)
            answer = http.get(url)
            answer.raise_for_status()
            parts.append((kind, url.path, answer.content))
    total = 0
    for kind, path, body in parts:
        size = gz(body)
        total += size
        print(f"  {kind:<5} {path:<60} {len(body):>8,} B  {size:>7,} B gzip")
    print(f"  total {'':<60} {sum(len(b) for *_, b in parts):>8,} B  {total:>7,} B gzip   target <= {PAGE_BUDGET:,} B: "
          f"{verdict(total <= PAGE_BUDGET)}")
    return True


async def render_load(base: str, ids: list[str], rate: float, duration: float, warmup: float, server_pid: int) -> int:
    """Open loop at `rate`/s: prints the render latencies; returns the number of failed requests."""
    idle: asyncio.Queue[LeanClient] = asyncio.Queue()
    clients = [LeanClient(base, {"Accept": "text/html"}, timeout=10) for _ in range(CONNECTIONS)]
    for c in clients:
        idle.put_nowait(c)
    latencies: list[float] = []
    failures: dict[str, int] = {}
    start = time.perf_counter()
    measured_from = start + warmup
    total = int(rate * (warmup + duration))
    first_measured = int(rate * warmup)  # the first request due after the warm-up
    cpu_from = 0.0

    async def one(i: int, due: float) -> None:
        client = await idle.get()
        try:
            answer = await client.request("GET", f"/s/{ids[i % len(ids)]}")
            ok = answer.status_code == 200 and answer.content.startswith(b"<!")
            kind = None if ok else f"HTTP {answer.status_code}"
        except (OSError, TimeoutError) as exc:
            kind = type(exc).__name__
        finally:
            idle.put_nowait(client)
        ended = time.perf_counter()
        if kind is not None:
            failures[kind] = failures.get(kind, 0) + 1
        elif due >= measured_from:
            latencies.append((ended - due) * 1000)

    tasks = []
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)  # the schedule itself: requests are due at fixed times
        if i == first_measured:  # (a warm-up request still in flight counts here: one in hundreds)
            cpu_from = process_cpu(server_pid)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    cpu_used = process_cpu(server_pid) - cpu_from
    views = total - first_measured
    for c in clients:
        await c.aclose()
    p99 = pct(latencies, 99)
    print(f"\nRender time of /s/{{id}}: {rate:.0f} requests/s open loop for {duration:.0f} s (after {warmup:.0f} s "
          f"of warm-up), {CONNECTIONS} keep-alive connections, {len(ids)} sessions round robin")
    print(f"  {len(latencies)} answers measured: p50 {pct(latencies, 50):.1f} ms, p90 {pct(latencies, 90):.1f} ms, "
          f"p99 {p99:.1f} ms, max {max(latencies, default=float('nan')):.1f} ms   target p99 < {TARGET_P99_MS:.0f} ms: "
          f"{verdict(p99 < TARGET_P99_MS)}")
    print(f"  server CPU per view: {1000 * cpu_used / max(views, 1):.2f} ms ({cpu_used:.2f} s of CPU, utime + stime, "
          f"for {views} views)")
    if failures:
        print(f"  !!!!!!!! {sum(failures.values())} REQUESTS FAILED: " + ", ".join(f"{k} x{n}" for k, n in failures.items()))
    return sum(failures.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of measured load (default 20)")
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second (default 50)")
    parser.add_argument("--sessions", type=int, default=50, help="sessions rendered round robin (default 50)")
    parser.add_argument("--keep-database", action="store_true", help="leave the database in place for inspection")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops the server
    url = os.environ.get("KASSA_BENCH_DATABASE_URL", DEFAULT_DB)
    load = os.getloadavg()
    print("Kassa hosted checkout page benchmark")
    print("  server   `kassa serve` (one process, uvicorn + uvloop, no Redis: jobs in-process)")
    print(f"  database {masked(url)}, recreated")
    print(f"  machine  {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start")
    embed_sizes()

    asyncio.run(recreate_database(url))
    tmp = Path(tempfile.mkdtemp(prefix="kassa-bench-page-"))
    env = bench_env(url, tmp)
    _, key = migrate_and_create_app(env)
    server = Server(env, tmp / "server.log")
    try:
        server.start()
        ids = sessions(server.base, key, args.sessions)
        if not page_transfer(server.base, ids[0]):
            return 1
        failed = asyncio.run(render_load(server.base, ids, args.rate, args.duration, warmup=3.0, server_pid=server.pid))
        load = os.getloadavg()
        print(f"\n  load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end")
        errors = [line for line in server.log.read_text().splitlines() if re.search(r"\b(ERROR|Traceback)\b", line)]
        if errors:
            print("  server log errors:\n    " + "\n    ".join(errors[:5]))
        return 1 if failed else 0
    finally:
        server.stop()
        if not args.keep_database:
            asyncio.run(recreate_database(url, create=False))


if __name__ == "__main__":
    sys.exit(main())
