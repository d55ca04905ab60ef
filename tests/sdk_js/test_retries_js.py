"""@kassa/js's retries against answers the real Kassa gives (faults/*.test.ts):

* 429 `rate_limited`: a Kassa of its own whose write limit is 3 per second per key and browser.
* 409 `idempotency_key_in_progress`: the first request under a key is still running (the harness
  sends it and holds its cart's row lock), so Kassa refuses the client's duplicate until it ends.

In both, the server sees one effect per Idempotency-Key. (A 5xx after Kassa ran the request is
retries.test.ts, through a gateway that loses the answer.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from kassa_contract.errors import KassaError
from kassa_platform import idempotency

from tests.conftest import Tenant, make_tenant, worker_id
from tests.sdk_js.conftest import RunNode
from tests.support.served import KassaWeb, serve_kassa

FAULTS = Path("packages") / "js" / "test" / "faults"


@pytest.fixture(scope="module")
async def limited_kassa(testrun_uid: str) -> AsyncIterator[KassaWeb]:
    async with serve_kassa(f"kassa_limited_{testrun_uid[:8]}_{worker_id()}", rate_limits={"writes": "3/1"}) as web:
        yield web


async def test_rate_limited_requests_are_retried_after_retry_after(limited_kassa: KassaWeb, js_build: Path,
                                                                   run_node: RunNode) -> None:
    tenant = await make_tenant(limited_kassa.backend)
    variant = await tenant.variant({"EUR": 1200})
    output = await run_node(js_build / FAULTS / "rate-limit.test.js", tenant=tenant,
                            env={"KASSA_URL": limited_kassa.origin, "KASSA_VARIANT_ID": variant})
    assert "429" in output.split("statuses:")[1], output
    carts = sa.table("carts", sa.column("app_id"))
    async with limited_kassa.backend.runtime.db.begin() as conn:
        made = (await conn.execute(sa.select(sa.func.count()).select_from(carts)
                                   .where(carts.c.app_id == tenant.app_id))).scalar_one()
    assert made == 6, "one cart per call: no retry made a second one"


async def test_a_duplicate_of_a_running_request_is_retried_then_replayed(
        kassa: KassaWeb, js_tenant: Tenant, js_build: Path, run_node: RunNode,
        monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = js_tenant
    variant = await tenant.variant({"EUR": 1200})
    created = (await tenant.post("/api/v1/carts", {"currency": "EUR"}, key=tenant.publishable_key)).json()
    key = f"add-mug-{created['id']}"

    # Kassa gives up waiting for the first request after this long and answers 409 (10 s in production).
    monkeypatch.setattr(idempotency, "WAIT_FOR_FIRST_SECONDS", 0.2)
    claimed, refused = asyncio.Event(), asyncio.Event()
    claim = idempotency.IdempotencyStore.claim

    async def watched_claim(self: Any, app_id: str, idem_key: str, request_hash: str) -> Any:
        try:
            outcome = await claim(self, app_id, idem_key, request_hash)
        except KassaError as error:
            if idem_key == key and error.code == "idempotency_key_in_progress":
                refused.set()
            raise
        if idem_key == key:
            claimed.set()
        return outcome

    monkeypatch.setattr(idempotency.IdempotencyStore, "claim", watched_claim)
    carts = sa.table("carts", sa.column("id"))
    headers = {"Idempotency-Key": key, "X-Cart-Secret": created["clientSecret"]}
    async with kassa.backend.runtime.db.begin() as conn:
        # Hold the cart's row: the first request claims the key, then waits on the lock.
        await conn.execute(sa.select(carts.c.id).where(carts.c.id == created["id"]).with_for_update())
        first = asyncio.create_task(tenant.post(f"/api/v1/carts/{created['id']}/line-items",
                                                {"variantId": variant, "quantity": 1}, key=tenant.publishable_key,
                                                headers=headers))
        await asyncio.wait_for(claimed.wait(), 30)
        node = asyncio.create_task(run_node(js_build / FAULTS / "in-progress.test.js", tenant=tenant, env={
            "KASSA_CART_ID": created["id"], "KASSA_CART_SECRET": created["clientSecret"],
            "KASSA_VARIANT_ID": variant, "KASSA_IDEMPOTENCY_KEY": key}))
        await asyncio.wait_for(refused.wait(), 60)  # the client met the 409: let the first request finish
    answer = await first
    assert answer.status_code == 200, answer.text
    output = await node
    assert "statuses: 409" in output, output
    cart = (await tenant.get(f"/api/v1/carts/{created['id']}")).json()
    assert [line["quantity"] for line in cart["lineItems"]] == [1], "one effect for the key"
