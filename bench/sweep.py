"""Benchmark of the abandoned-cart sweep on PostgreSQL: prints figures, it is not a test.

    uv run python bench/sweep.py [--carts 1000000] [--due 100000] [--apps 20] [--empty-runs 9]

One run: drop and recreate the database at KASSA_BENCH_SWEEP_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/kassa_bench_sweep), migrate, create --apps applications
(one with a 30-minute threshold, one with 10 days, the others on the default 24 h; every one
with a recovery URL template holding {token}), then COPY --carts carts spread over them:

* --due carts idle past their application's threshold (open, a few in checkout, with items);
* the rest not due: open carts active within their threshold (the 10-day application's idle
  for 1 to 9 days: idle past 24 h but not due, which a sweep must not read), converted carts,
  empty carts, carts already abandoned.

Each cart is a realistic row: 1-3 line items in its JSON document, totals, addresses on half.
Then the `abandon_carts` cron job function runs as in production (its own batches, transactions
and time budget) in a loop until a run finds nothing, and the time to mark and emit every due
cart is printed; then --empty-runs sweeps with nothing due, whose median is printed. The run
checks that every due cart got exactly one abandonment row and one `cart.abandoned` event.
Targets: every due cart (100,000) in under 60 s; an empty sweep under 50 ms. The database is
dropped at the end (--keep keeps it).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import msgspec
import sqlalchemy as sa
from common import recreate_database
from kassa_cart import jobs as cart_jobs
from kassa_cart.abandonment import _DUE_APPS
from kassa_cart.tables import cart_abandonments, embed_configs
from kassa_platform.auth import create_application
from kassa_platform.db import transaction
from kassa_platform.ids import new_id
from kassa_platform.migrate import migrate
from kassa_platform.settings import Settings, normalize_database_url
from kassa_platform.tables import outbox_events

from kassa.services import build_runtime, components

DEFAULT_DB = "postgresql://postgres@127.0.0.1:5432/kassa_bench_sweep"
TARGET_ALL_SECONDS = 60.0
TARGET_EMPTY_MS = 50.0
ADDRESS = {"addressLine1": "Unter den Linden 1", "city": "Berlin", "countryCode": "DE", "firstName": "Ana",
           "lastName": "Muster", "company": None, "addressLine2": None, "region": None, "postalCode": "10117",
           "phone": None}
COLUMNS = ("id", "app_id", "status", "currency", "customer_email", "shipping_address", "billing_address",
           "shipping_method_id", "document", "subtotal", "discount_total", "shipping_total", "tax_total", "total",
           "item_count", "metadata", "client_secret_hash", "version", "created_at", "updated_at", "last_activity_at",
           "abandoned_at", "checkout_session_id")


def line(i: int, quantity: int, price: int) -> dict:
    subtotal = price * quantity
    tax = subtotal * 19 // 100
    return {"id": new_id("li"), "variantId": f"var_bench{i:04d}", "productId": f"prod_bench{i:04d}",
            "sku": f"BENCH-{i:04d}", "name": f"Bench shirt {i}", "quantity": quantity, "unitPrice": price,
            "subtotal": subtotal, "discountTotal": 0, "taxTotal": tax, "total": subtotal + tax, "taxRate": "19",
            "taxClass": "standard", "categories": ["apparel"], "custom": False, "metadata": None,
            "discountAllocations": []}


def documents(count: int) -> list[tuple[str, int, int, int]]:
    """(document JSON, subtotal, tax, item count) variants to draw from: 1-3 lines each."""
    rng = random.Random(7)
    made = []
    for _ in range(count):
        lines = [line(rng.randrange(500), rng.randint(1, 3), rng.choice((999, 1999, 4500))) for _ in range(rng.randint(1, 3))]
        doc = {"lineItems": lines, "shippingMethod": None, "taxLines": [], "notices": [], "taxesIncluded": False,
               "discountCodes": [], "discounts": []}
        made.append((msgspec.json.encode(doc).decode(), sum(x["subtotal"] for x in lines),
                     sum(x["taxTotal"] for x in lines), sum(x["quantity"] for x in lines)))
    return made


EMPTY_DOC = msgspec.json.encode({"lineItems": [], "shippingMethod": None, "taxLines": [], "notices": [],
                                 "taxesIncluded": False, "discountCodes": [], "discounts": []}).decode()


def records(n: int, due: int, apps: list[tuple[str, int]], now: datetime, seed: int = 1):
    """Yield cart rows: the first `due` are due, the rest are not (a mix of kinds)."""
    rng = random.Random(seed)
    docs = documents(64)
    address = msgspec.json.encode(ADDRESS).decode()
    for k in range(n):
        app_id, threshold = apps[k % len(apps)]
        doc, subtotal, tax, items = docs[k % len(docs)]
        status, abandoned_at = "open", None
        if k < due:
            idle = threshold + rng.randint(1, 20_000)
            if k % 10 == 0:
                status = "checkout"
        else:
            kind = rng.random()
            if kind < 0.6:
                # Active within the threshold (with a margin: the clock runs on while the bench loads).
                idle = rng.randint(0, threshold - 5)
                if threshold > 1440 and k % 2:
                    idle = rng.randint(1440, threshold - 5)  # idle past a day, not due for its app
            elif kind < 0.75:
                idle, status = rng.randint(0, 90 * 1440), "converted"
            elif kind < 0.85:
                idle, doc, subtotal, tax, items = rng.randint(0, 90 * 1440), EMPTY_DOC, 0, 0, 0
            else:
                idle = threshold + rng.randint(1, 90 * 1440)
                abandoned_at = now - timedelta(minutes=rng.randint(0, idle - threshold))
        last = now - timedelta(minutes=idle, seconds=rng.randint(0, 59))
        with_address = k % 2 == 0
        total = subtotal + tax
        yield (new_id("cart"), app_id, status, "EUR", f"shopper{k}@example.com" if k % 3 else None,
               address if with_address else None, address if with_address and k % 4 == 0 else None, None, doc,
               subtotal, 0, 0, tax, total, items, None, "0" * 64, 3, last - timedelta(minutes=5), last, last,
               abandoned_at, None)


async def load(url: str, n: int, due: int, app_count: int, now: datetime) -> list[tuple[str, int]]:
    from kassa_platform.db import Database, create_engine

    engine = create_engine(normalize_database_url(url), pool_size=2)
    db = Database(engine)
    apps: list[tuple[str, int]] = []
    async with transaction(db) as conn:
        for i in range(app_count):
            app_id = await create_application(conn, f"bench-{i}", "live", now)
            threshold = 30 if i == 0 else 10 * 1440 if i == 1 else None
            await conn.execute(sa.insert(embed_configs).values(
                app_id=app_id, abandonment_threshold_minutes=threshold,
                recovery_url_template="https://shop.example/cart/{cartId}?t={token}", allowed_origins=[],
                branding=None, created_at=now, updated_at=now))
            apps.append((app_id, threshold or 1440))
    await engine.dispose()
    conn = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        chunk: list[tuple] = []
        for row in records(n, due, apps, now):
            chunk.append(row)
            if len(chunk) == 50_000:
                await conn.copy_records_to_table("carts", records=chunk, columns=COLUMNS)
                chunk = []
        if chunk:
            await conn.copy_records_to_table("carts", records=chunk, columns=COLUMNS)
        await conn.execute("VACUUM ANALYZE carts")
        size = await conn.fetchval("SELECT pg_size_pretty(pg_total_relation_size('carts'))")
        print(f"loaded {n:,} carts ({due:,} due) over {app_count} applications in "
              f"{time.perf_counter() - started:.1f} s; carts table with indexes: {size}", flush=True)
    finally:
        await conn.close()
    return apps


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--carts", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=100_000)
    parser.add_argument("--apps", type=int, default=20)
    parser.add_argument("--empty-runs", type=int, default=9)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    if args.due > args.carts or args.apps < 3:
        raise SystemExit("need --due <= --carts and --apps >= 3")
    import os

    url = os.environ.get("KASSA_BENCH_SWEEP_DATABASE_URL", DEFAULT_DB)
    await recreate_database(url)
    await migrate(normalize_database_url(url), components())
    now = datetime.now(UTC)
    await load(url, args.carts, args.due, args.apps, now)

    settings = Settings.from_env(database_url=url, redis_url=None, data_dir=Path(tempfile.mkdtemp()))
    runtime = build_runtime(settings, ["cart"])
    ctx = runtime.job_context()
    try:
        started = time.perf_counter()
        runs = []
        while True:
            t0 = time.perf_counter()
            done = await cart_jobs.abandon_carts(ctx)
            runs.append((done, time.perf_counter() - t0))
            if not done:
                break
        elapsed = time.perf_counter() - started
        marked = sum(d for d, _ in runs)
        print(f"sweep (abandon_carts job, {len(runs)} runs until one found nothing): {marked:,} carts marked and "
              f"emitted in {elapsed:.2f} s ({marked / elapsed:,.0f} carts/s)  target < {TARGET_ALL_SECONDS:.0f} s"
              f"{'' if elapsed < TARGET_ALL_SECONDS else '  MISSED'}", flush=True)

        empty = []
        for _ in range(args.empty_runs):
            t0 = time.perf_counter()
            assert await cart_jobs.abandon_carts(ctx) == 0
            empty.append((time.perf_counter() - t0) * 1000)
        median = statistics.median(empty)
        print(f"empty sweep (nothing due): median {median:.1f} ms, min {min(empty):.1f}, max {max(empty):.1f} "
              f"over {len(empty)} runs  target < {TARGET_EMPTY_MS:.0f} ms"
              f"{'' if median < TARGET_EMPTY_MS else '  MISSED'}", flush=True)

        async with runtime.db() as conn:
            sql = str(_DUE_APPS[True].compile(dialect=conn.dialect))
            plan = (await conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}")).scalar_one()
            plan = plan[0] if isinstance(plan, list) else msgspec.json.decode(plan)[0]
            top = plan["Plan"]
            print(f"  its one query (applications with abandonable carts, each one's longest-idle cart): "
                  f"{top['Shared Hit Blocks'] + top.get('Shared Read Blocks', 0)} buffers, "
                  f"{plan['Execution Time']:.2f} ms in PostgreSQL, {top['Actual Rows']} applications", flush=True)
            rows = (await conn.execute(sa.select(sa.func.count(), sa.func.count(sa.distinct(cart_abandonments.c.cart_id)))
                                       .select_from(cart_abandonments))).one()
            events = (await conn.execute(sa.select(sa.func.count()).select_from(outbox_events)
                                         .where(outbox_events.c.type == "cart.abandoned"))).scalar_one()
        ok = rows[0] == rows[1] == events == args.due == marked
        print(f"check: {rows[0]:,} abandonment rows for {rows[1]:,} carts, {events:,} cart.abandoned events, "
              f"{args.due:,} due: {'OK' if ok else 'MISMATCH'}", flush=True)
    finally:
        await runtime.close()
        if not args.keep:
            await recreate_database(url, create=False)


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
