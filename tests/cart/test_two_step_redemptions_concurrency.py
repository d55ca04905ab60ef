"""PostgreSQL: two-step redemptions stay exact under concurrency. 20 clients reserving a single-use
code at once get 1 reservation; 50 reservations of 10 € racing for a 100 € budget get exactly 10:
over concurrent connections of one process, and over HTTP to two worker processes."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from kassa_platform.auth import create_application, create_key
from kassa_platform.clock import Clock
from kassa_platform.db import Database, create_engine, transaction

from tests.conftest import Tenant, free_port, wait_until_ready

BASKET = {"currency": "EUR", "lineItems": [{"sku": "A", "quantity": 1, "unitPrice": 5_000}]}


async def _setup(post: Any) -> tuple[str, str]:
    """A single-use code, and a code of a 100 € budget that takes 10 € each time."""
    single = (await post("/api/v1/campaigns", {"name": "Once", "reward": {"type": "fixed_off",
                                                                         "amounts": {"EUR": 700}}})).json()
    assert (await post(f"/api/v1/campaigns/{single['id']}/codes", {"code": "ONLYONCE", "usageLimit": 1})
            ).status_code == 201
    budget = (await post("/api/v1/campaigns", {"name": "Ten", "budget": 10_000,
                                               "reward": {"type": "fixed_off", "amounts": {"EUR": 1_000}}})).json()
    assert (await post(f"/api/v1/campaigns/{budget['id']}/codes", {"code": "TENOFF"})).status_code == 201
    return single["id"], budget["id"]


def _outcomes(responses: list[httpx.Response]) -> Counter[tuple[int, str]]:
    return Counter((r.status_code, r.json().get("status") or r.json()["error"]["code"]) for r in responses)


async def _race(post: Any, code_text: str, clients: int) -> list[httpx.Response]:
    body = {"codes": [code_text], "basket": BASKET}
    return list(await asyncio.gather(*[post("/api/v1/redemptions", body) for _ in range(clients)]))


async def test_one_process_many_connections(pg_tenant: Tenant) -> None:
    single, budget = await _setup(pg_tenant.post)
    assert _outcomes(await _race(pg_tenant.post, "ONLYONCE", 20)) == {(201, "reserved"): 1,
                                                                       (422, "discount_invalid"): 19}
    assert _outcomes(await _race(pg_tenant.post, "TENOFF", 50)) == {(201, "reserved"): 10,
                                                                     (422, "discount_invalid"): 40}
    stats = (await pg_tenant.get(f"/api/v1/campaigns/{budget}/stats")).json()
    assert (stats["reservedUses"], stats["discountReserved"], stats["budgetLeft"]) == (10, 10_000, 0)
    stats = (await pg_tenant.get(f"/api/v1/campaigns/{single}/stats")).json()
    assert (stats["reservedUses"], stats["discountReserved"]) == (1, 700)


async def test_two_worker_processes(tmp_path: Path, pg_url: str) -> None:
    engine = create_engine(pg_url, pool_size=1)
    async with transaction(Database(engine)) as conn:
        app_id = await create_application(conn, "redeem-race", "test", Clock().now())
        key = await create_key(conn, app_id, kind="secret", scopes=["*"], now=Clock().now())
    await engine.dispose()
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("KASSA_")},
           "KASSA_DATABASE_URL": pg_url, "KASSA_DATA_DIR": str(tmp_path), "KASSA_LOG_FORMAT": "text",
           "KASSA_DB_POOL_SIZE": "5", "KASSA_RATE_LIMIT_WRITES": "100000"}
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "kassa.cli", "serve", "cart", "--workers", "2", "--port",
                                 str(port)], env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(proc, base, log.read_text, name="cart --workers 2")
        limits = httpx.Limits(max_connections=50, max_keepalive_connections=0)  # a connection each: both workers
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, limits=limits,
                                     timeout=60) as client:
            async def post(path: str, body: Any) -> httpx.Response:
                return await client.post(path, json=body)

            single, budget = await _setup(post)
            assert _outcomes(await _race(post, "ONLYONCE", 20)) == {(201, "reserved"): 1,
                                                                     (422, "discount_invalid"): 19}
            won = [r.json() for r in await _race(post, "TENOFF", 50) if r.status_code == 201]
            assert len(won) == 10
            # Confirming all ten at once settles exactly the budget.
            confirmed = await asyncio.gather(*[post(f"/api/v1/redemptions/{w['id']}/confirm",
                                                    {"transactionId": f"T-{i}"}) for i, w in enumerate(won)])
            assert {r.status_code for r in confirmed} == {200}
            stats = (await client.get(f"/api/v1/campaigns/{budget}/stats")).json()
            assert (stats["uses"], stats["discountGranted"], stats["reservedUses"], stats["budgetLeft"]) == (
                10, 10_000, 0, 0)
            stats = (await client.get(f"/api/v1/campaigns/{single}/stats")).json()
            assert (stats["reservedUses"], stats["discountReserved"]) == (1, 700)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def test_keyed_reserves_race_and_replay(pg_tenant: Tenant) -> None:
    """Tills that send an Idempotency-Key race as exactly (the key's mark rides in the one statement),
    and each retry gets its first answer back: the one reservation, or the refusal."""
    await _setup(pg_tenant.post)
    body = {"codes": ["ONLYONCE"], "basket": BASKET}

    async def keyed(i: int) -> httpx.Response:
        return await pg_tenant.post("/api/v1/redemptions", body, headers={"Idempotency-Key": f"race-{i}"})

    first = list(await asyncio.gather(*[keyed(i) for i in range(20)]))
    assert _outcomes(first) == {(201, "reserved"): 1, (422, "discount_invalid"): 19}
    again = list(await asyncio.gather(*[keyed(i) for i in range(20)]))
    assert [(r.status_code, r.content) for r in again] == [(r.status_code, r.content) for r in first]
    assert all(r.headers.get("idempotent-replayed") == "true" for r in again)
