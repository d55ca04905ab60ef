"""The dashboard's reads with 100,000 orders on PostgreSQL: prints figures, it is not a test.

    uv run python bench/dashboard.py [--orders 100000] [--seconds 20] [--rate 20]

Drops and recreates the database at KASSA_BENCH_DASHBOARD_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/kassa_bench_dashboard), migrates, and COPYs --orders orders of
one application spread over the last 90 days (realistic rows: 1–3 lines in the document, a few
statuses, 2,000 customers' emails), 30,000 abandonments over the same days, and as many orders of a
second application (its rows must cost the first nothing). Then it sends what the dashboard sends,
at --rate requests a second for --seconds, in turn: the overview (`GET /api/v1/orders/summary` and
`GET /api/v1/abandoned-carts/daily`, 30 days in Europe/Berlin), the orders list (first page, a
page deep down by cursor, by status, by email, by date range). The apps run in this process behind
the embedded router (ASGI, no sockets), with the production settings and the direct pool, so the
time measured is the server's: from the request entering the router to the last byte of the answer.
Target (issue 26): p99 < 50 ms for each kind. The database is dropped at the end (--keep keeps it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
from common import pct, plain_dsn, recreate_database
from kassa_platform.auth import create_application, create_key
from kassa_platform.db import transaction
from kassa_platform.ids import _encode
from kassa_platform.migrate import migrate
from kassa_platform.settings import Settings, normalize_database_url

from kassa.gateway import PathRouter
from kassa.services import SERVICES, build_runtime, components

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/kassa_bench_dashboard"
TARGET_P99_MS = 50.0
DAYS = 90


def _id(prefix: str, when: datetime) -> str:
    return f"{prefix}_{_encode((int(when.timestamp() * 1000) << 80) | secrets.randbits(80))}"


def _document(rng: random.Random) -> bytes:
    lines = []
    for i in range(rng.randint(1, 3)):
        price, quantity = rng.choice((990, 2450, 4900, 12900)), rng.randint(1, 3)
        lines.append({"id": f"li_{i}", "variantId": None, "productId": None, "sku": f"SKU-{rng.randint(1, 500)}",
                      "name": "Product", "quantity": quantity, "unitPrice": price, "subtotal": price * quantity,
                      "discountTotal": 0, "taxTotal": 0, "total": price * quantity, "taxRate": "19",
                      "taxClass": "standard", "categories": ["general"], "custom": False})
    return msgspec.json.encode({"lineItems": lines, "discounts": [], "shippingMethod": None, "taxLines": [],
                                "taxesIncluded": True, "customer": None})


async def load(url: str, apps: list[str], orders: int, abandonments: int, now: datetime) -> None:
    rng = random.Random(7)
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        for app_id in apps:
            rows = []
            for _ in range(orders):
                created = now - timedelta(seconds=rng.uniform(0, DAYS * 86400))
                total = rng.choice((990, 2450, 4900, 12900)) * rng.randint(1, 4)
                status = rng.choices(("paid", "partially_refunded", "refunded"), (90, 4, 6))[0]
                refunded = {"paid": 0, "partially_refunded": total // 3, "refunded": total}[status]
                rows.append((_id("ord", created), app_id, _id("cs", created), _id("cart", created), status, "EUR",
                             f"customer{rng.randint(1, 2000)}@example.com", _document(rng).decode(), None, None,
                             total, 0, 490, 0, total + 490, rng.randint(1, 6), refunded, "{}", _id("pay", created),
                             1, created, created))
            await conn.copy_records_to_table("orders", records=rows, columns=[
                "id", "app_id", "session_id", "cart_id", "status", "currency", "customer_email", "document",
                "shipping_address", "billing_address", "subtotal", "discount_total", "shipping_total", "tax_total",
                "total", "item_count", "amount_refunded", "metadata", "payment_id", "version", "created_at",
                "updated_at"])
            rows = []
            for i in range(abandonments):
                at = now - timedelta(seconds=rng.uniform(0, DAYS * 86400))
                recovered = rng.random() < 0.12
                total = rng.choice((990, 2450, 4900)) * rng.randint(1, 3)
                rows.append((_id("ab", at), app_id, _id("cart", at), 1, _id("evt", at), at, "EUR", total, 0, 0, 0,
                             total, 2, None, "recovered" if recovered else "contacted", at, at if recovered else None,
                             None, total if recovered else None))
            await conn.copy_records_to_table("cart_abandonments", records=rows, columns=[
                "id", "app_id", "cart_id", "sequence", "event_id", "abandoned_at", "currency", "subtotal",
                "discount_total", "shipping_total", "tax_total", "total", "item_count", "customer_email",
                "recovery_status", "contacted_at", "recovered_at", "order_id", "recovered_total"])
        for table in ("orders", "cart_abandonments"):  # as autovacuum would after a load
            await conn.execute(f"VACUUM ANALYZE {table}")
    finally:
        await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--abandonments", type=int, default=30_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    url = os.environ.get("KASSA_BENCH_DASHBOARD_DATABASE_URL", DEFAULT_DB)
    await recreate_database(url)
    await migrate(normalize_database_url(url), components())
    no_limits = {name: "0" for name in ("reads", "writes", "completes", "auth_failures")}
    settings = Settings.from_env(database_url=url, redis_url=None, data_dir=Path(tempfile.mkdtemp()),
                                 rate_limits=no_limits)
    runtime = build_runtime(settings)
    apps = [(d.path_prefixes, d.create_app(runtime, owns_runtime=False)) for d in SERVICES.values()]
    router = PathRouter(apps, default=apps[0][1])
    await runtime.start()
    try:
        now = datetime.now(UTC)
        async with transaction(runtime.db) as conn:
            app_id = await create_application(conn, "dashboard-bench", "live", now)
            other = await create_application(conn, "other-merchant", "live", now)
            key = await create_key(conn, app_id, kind="secret", scopes=["*"], now=now)
        started = time.perf_counter()
        await load(url, [app_id, other], args.orders, args.abandonments, now)
        print(f"loaded {2 * args.orders:,} orders and {2 * args.abandonments:,} abandonments of 2 applications "
              f"in {time.perf_counter() - started:.1f} s", flush=True)

        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=router), base_url="http://kassa.bench",
                                   headers={"Authorization": f"Bearer {key}"}, timeout=30)
        deep = None
        cursor = None
        for _ in range(40):  # a cursor 40 pages (1,000 orders) down, as a merchant paging back would hold
            page = (await client.get("/api/v1/orders", params={"limit": 25, **({"cursor": cursor} if cursor else {})})).json()
            cursor = page["nextCursor"]
        deep = cursor
        week_ago = (now - timedelta(days=7)).isoformat()
        two_weeks = (now - timedelta(days=14)).isoformat()
        zone = {"days": 30, "timeZone": "Europe/Berlin"}
        kinds: dict[str, tuple[str, dict[str, Any]]] = {
            "overview: orders per day": ("/api/v1/orders/summary", zone),
            "overview: abandoned carts per day": ("/api/v1/abandoned-carts/daily", zone),
            "orders: first page": ("/api/v1/orders", {"limit": 25}),
            "orders: page 41 by cursor": ("/api/v1/orders", {"limit": 25, "cursor": deep}),
            "orders: status refunded": ("/api/v1/orders", {"limit": 25, "status": "refunded"}),
            "orders: by email": ("/api/v1/orders", {"limit": 25, "email": "Customer17@example.com"}),
            "orders: a week, 7 to 14 days ago": ("/api/v1/orders", {"limit": 25, "createdFrom": two_weeks,
                                                                   "createdTo": week_ago}),
        }
        for path, params in kinds.values():  # warm: connections, caches, prepared statements
            for _ in range(3):
                assert (await client.get(path, params=params)).status_code == 200
        times: dict[str, list[float]] = {k: [] for k in kinds}
        names = list(kinds)
        interval = 1 / args.rate
        total = int(args.seconds * args.rate)
        tasks = []
        began = time.perf_counter()

        async def one(name: str) -> None:
            path, params = kinds[name]
            t0 = time.perf_counter()
            response = await client.get(path, params=params)
            times[name].append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200, response.text

        for i in range(total):  # open loop: a request every 1/rate seconds, whether or not the last one ended
            delay = began + i * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(names[i % len(names)])))
        await asyncio.gather(*tasks)
        print(f"{total} requests at {args.rate:.0f}/s over {args.seconds:.0f} s, in turn "
              f"(server time, ms; target p99 < {TARGET_P99_MS:.0f}):", flush=True)
        for name, values in times.items():
            p99 = pct(values, 99)
            print(f"  {name:<38} median {statistics.median(values):6.1f}  p99 {p99:6.1f}  max {max(values):6.1f}"
                  f"  ({len(values)}){'' if p99 < TARGET_P99_MS else '  MISSED'}", flush=True)
        everything = [v for values in times.values() for v in values]
        print(f"  {'all':<38} median {statistics.median(everything):6.1f}  p99 {pct(everything, 99):6.1f}", flush=True)
        await client.aclose()
    finally:
        await runtime.close()
        if not args.keep:
            await recreate_database(url, create=False)


if __name__ == "__main__":
    asyncio.run(main())
