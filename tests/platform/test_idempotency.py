"""Idempotency-Key on POST: replay, reuse with another body, concurrent duplicates, 24 h retention."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from kassa_platform.tables import idempotency_keys, outbox_events

from tests.conftest import Backend, Tenant, make_tenant
from tests.platform.test_errors_and_health import assert_envelope


async def _cart_events(tenant: Tenant) -> int:
    async with tenant.backend.runtime.db() as conn:
        return (await conn.execute(sa.select(sa.func.count()).select_from(outbox_events)
                                      .where(outbox_events.c.app_id == tenant.app_id))).scalar_one()


async def test_same_key_and_body_replays_the_first_response(tenant: Tenant) -> None:
    headers = {"Idempotency-Key": "create-1"}
    first = await tenant.post("/api/v1/carts", {"currency": "EUR"}, headers=headers)
    second = await tenant.post("/api/v1/carts", {"currency": "EUR"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers.get("idempotent-replayed") == "true"
    assert await _cart_events(tenant) == 1  # executed once


async def test_same_key_other_body_is_409(tenant: Tenant) -> None:
    headers = {"Idempotency-Key": "create-2"}
    assert (await tenant.post("/api/v1/carts", {"currency": "EUR"}, headers=headers)).status_code == 201
    assert_envelope(await tenant.post("/api/v1/carts", {"currency": "USD"}, headers=headers), 409,
                    "idempotency_key_reused")
    # Another endpoint with the same key is another request too.
    assert_envelope(await tenant.post("/api/v1/products", {"name": "x", "variants": [{"sku": "s", "prices": {}}]},
                                      headers=headers), 409, "idempotency_key_reused")


async def test_keys_are_per_application(backend: Backend) -> None:
    alice, bob = await make_tenant(backend), await make_tenant(backend)
    headers = {"Idempotency-Key": "shared-key"}
    a = await alice.post("/api/v1/carts", {"currency": "EUR"}, headers=headers)
    b = await bob.post("/api/v1/carts", {"currency": "EUR"}, headers=headers)
    assert a.json()["id"] != b.json()["id"]


async def test_errors_are_replayed_too(tenant: Tenant) -> None:
    headers = {"Idempotency-Key": "bad-1"}
    first = await tenant.post("/api/v1/carts", {"currency": "XXX"}, headers=headers)
    assert first.status_code == 422
    again = await tenant.post("/api/v1/carts", {"currency": "XXX"}, headers=headers)
    assert again.status_code == 422 and again.headers.get("idempotent-replayed") == "true"


async def test_concurrent_duplicates_execute_once(pg_tenant: Tenant) -> None:
    headers = {"Idempotency-Key": "race-1"}
    responses = await asyncio.gather(*[pg_tenant.post("/api/v1/carts", {"currency": "EUR"}, headers=headers)
                                       for _ in range(10)])
    ok = [r for r in responses if r.status_code == 201]
    assert ok, [r.text for r in responses]
    assert {r.json()["id"] for r in ok} == {ok[0].json()["id"]}
    assert all(r.status_code in (201, 409) for r in responses)
    assert await _cart_events(pg_tenant) == 1


async def test_keys_expire_after_24_hours(backend: Backend) -> None:
    tenant = await make_tenant(backend)
    headers = {"Idempotency-Key": "old-1"}
    first = await tenant.post("/api/v1/carts", {"currency": "EUR"}, headers=headers)
    backend.clock.advance(hours=23)
    assert (await tenant.post("/api/v1/carts", {"currency": "EUR"}, headers=headers)).json()["id"] == first.json()["id"]
    backend.clock.advance(hours=2)
    assert backend.runtime.runner is not None
    removed = await backend.runtime.runner.run_cron("purge_idempotency_keys")
    assert removed >= 1
    async with backend.runtime.db() as conn:
        left = (await conn.execute(sa.select(sa.func.count()).select_from(idempotency_keys)
                                      .where(idempotency_keys.c.app_id == tenant.app_id))).scalar_one()
    assert left == 0
    fresh = await tenant.post("/api/v1/carts", {"currency": "EUR"}, headers=headers)
    assert fresh.status_code == 201 and fresh.json()["id"] != first.json()["id"]


async def test_key_must_be_sane(tenant: Tenant) -> None:
    assert_envelope(await tenant.post("/api/v1/carts", {"currency": "EUR"}, headers={"Idempotency-Key": "k" * 300}),
                    400, "validation_error", "Idempotency-Key")
