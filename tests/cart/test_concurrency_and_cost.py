"""PostgreSQL: concurrent changes to one cart all land (optimistic writes that lose a race read again);
a line-item add costs at most 6 statements (2 on PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa
from kassa_cart.service import module_of
from kassa_cart.tables import carts
from kassa_platform.db import transaction
from kassa_platform.tables import outbox_events

from tests.conftest import ADDRESS_DE, Backend, Tenant, make_tenant


async def test_concurrent_line_adds_all_land(pg_tenant: Tenant) -> None:
    variants = [await pg_tenant.variant({"EUR": 100 + i}) for i in range(8)]
    cart = await pg_tenant.cart()
    path = f"/api/v1/carts/{cart['id']}/line-items"
    responses = await asyncio.gather(*[pg_tenant.post(path, {"variantId": v}) for v in variants],
                                     *[pg_tenant.post(path, {"variantId": variants[0]}) for _ in range(4)])
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    final = (await pg_tenant.get(f"/api/v1/carts/{cart['id']}")).json()
    quantities = {li["variantId"]: li["quantity"] for li in final["lineItems"]}
    assert quantities == {variants[0]: 5, **{v: 1 for v in variants[1:]}}
    assert final["itemCount"] == 12


async def test_two_concurrent_adds_both_land(pg_tenant: Tenant) -> None:
    a, b = await pg_tenant.variant(), await pg_tenant.variant()
    for _ in range(5):
        cart = await pg_tenant.cart()
        path = f"/api/v1/carts/{cart['id']}/line-items"
        await asyncio.gather(pg_tenant.post(path, {"variantId": a}), pg_tenant.post(path, {"variantId": b}))
        final = (await pg_tenant.get(f"/api/v1/carts/{cart['id']}")).json()
        assert sorted(li["variantId"] for li in final["lineItems"]) == sorted([a, b])


async def test_line_item_add_costs_at_most_six_statements(backend: Backend) -> None:
    tenant = await make_tenant(backend)
    await tenant.post("/api/v1/tax-rates", {"countryCode": "DE", "rate": "19", "name": "VAT"})
    method = (await tenant.post("/api/v1/shipping-methods", {"name": "Std", "prices": {"EUR": 500}})).json()
    v1, v2 = await tenant.variant(), await tenant.variant()
    cart = await tenant.cart(lineItems=[{"variantId": v1}], shippingAddress=ADDRESS_DE)
    await tenant.put(f"/api/v1/carts/{cart['id']}/shipping-method", {"shippingMethodId": method["id"]})
    with backend.counter as counted:
        response = await tenant.post(f"/api/v1/carts/{cart['id']}/line-items", {"variantId": v2})
    assert response.status_code == 200
    assert response.json()["taxTotal"] > 0 and response.json()["shippingTotal"] == 500  # a fully priced cart
    assert len(counted.statements) <= 6, counted.statements
    with backend.counter as counted:
        await tenant.post(f"/api/v1/carts/{cart['id']}/line-items", {"variantId": v2})  # a merge
    assert len(counted.statements) <= 6, counted.statements


async def test_on_postgres_a_line_item_add_is_two_statements_without_a_transaction(pg_tenant: Tenant) -> None:
    """The cart read with its variant, then the version-guarded write with its event in one statement."""
    variant = await pg_tenant.variant()
    cart = await pg_tenant.cart()
    with pg_tenant.backend.counter as counted:
        response = await pg_tenant.post(f"/api/v1/carts/{cart['id']}/line-items", {"variantId": variant})
    assert response.status_code == 200
    assert len(counted.statements) == 2, counted.statements
    assert "FOR UPDATE" not in counted.statements[0] and "outbox_events" in counted.statements[1]
    events = await cart_events(pg_tenant, cart["id"])
    assert [(e.type, e.sequence) for e in events] == [("cart.created", 1), ("cart.updated", 2)]


async def test_on_postgres_an_idempotency_key_marks_its_claim_in_the_write_itself(pg_tenant: Tenant) -> None:
    """With a key: the claim and the same two statements: the write also stores the answer on the
    claim, in the same statement (kassa_platform.executed), so nothing is left to store after it."""
    variant = await pg_tenant.variant()
    cart = await pg_tenant.cart()
    with pg_tenant.backend.counter as counted:
        response = await pg_tenant.post(f"/api/v1/carts/{cart['id']}/line-items", {"variantId": variant},
                                        headers={"Idempotency-Key": f"cost-{cart['id']}"})
    assert response.status_code == 200
    claim, read, write = counted.statements
    assert claim.startswith("INSERT INTO idempotency_keys")
    assert "outbox_events" in write and "UPDATE idempotency_keys" in write and "idempotency_keys" not in read
    assert "response_body" in write


async def test_on_postgres_an_unknown_variant_is_refused_from_the_one_read(pg_tenant: Tenant) -> None:
    """The cart read carries the variant (an outer join): a variant that does not exist needs no second query."""
    cart = await pg_tenant.cart()
    with pg_tenant.backend.counter as counted:
        response = await pg_tenant.post(f"/api/v1/carts/{cart['id']}/line-items", {"variantId": "var_missing"})
    assert response.status_code == 422 and response.json()["error"]["code"] == "variant_not_found", response.text
    assert len(counted.statements) == 1, counted.statements


class RacingWriter:
    """Runs `write` once, while the first change being priced has read the cart and not yet written it."""

    def __init__(self, tenant: Tenant, write: Callable[[], Awaitable[object]]) -> None:
        self.service = module_of(tenant.backend.runtime).carts
        self.write, self.fired, self.pricings = write, False, 0
        self.original = self.service.price

    async def _price(self, conn: Any, state: Any) -> Any:
        self.pricings += 1
        if not self.fired:
            self.fired = True
            await self.write()
        return await self.original(conn, state)

    def __enter__(self) -> "RacingWriter":
        self.service.price = self._price  # type: ignore[method-assign]
        return self

    def __exit__(self, *_: object) -> None:
        del self.service.price


async def test_a_write_that_lost_a_race_reads_again_and_both_changes_land(pg_tenant: Tenant) -> None:
    a, b = await pg_tenant.variant(), await pg_tenant.variant()
    cart = await pg_tenant.cart()
    path = f"/api/v1/carts/{cart['id']}/line-items"
    with RacingWriter(pg_tenant, lambda: pg_tenant.post(path, {"variantId": b})) as race:
        response = await pg_tenant.post(path, {"variantId": a})
    assert response.status_code == 200, response.text
    assert race.pricings == 3  # a priced, b priced and written, a priced again over b's version
    assert sorted(li["variantId"] for li in response.json()["lineItems"]) == sorted([a, b])
    events = await cart_events(pg_tenant, cart["id"])
    assert [e.sequence for e in events] == [1, 2, 3]  # one event per write, none for the lost attempt


async def test_a_cart_locked_for_checkout_meanwhile_refuses_the_change(pg_tenant: Tenant) -> None:
    variant = await pg_tenant.variant()
    cart = await pg_tenant.cart()

    async def lock_for_checkout() -> None:  # what the checkout lock writes: another status, the next version
        async with transaction(pg_tenant.backend.runtime.db) as conn:
            await conn.execute(sa.update(carts).where(carts.c.id == cart["id"])
                               .values(status="checkout", version=carts.c.version + 1))

    with RacingWriter(pg_tenant, lock_for_checkout):
        response = await pg_tenant.post(f"/api/v1/carts/{cart['id']}/line-items", {"variantId": variant})
    assert response.status_code == 409 and response.json()["error"]["code"] == "cart_not_open"
    stored = (await pg_tenant.get(f"/api/v1/carts/{cart['id']}")).json()
    assert stored["lineItems"] == []
    assert [e.sequence for e in await cart_events(pg_tenant, cart["id"])] == [1]


async def cart_events(tenant: Tenant, cart_id: str) -> list[Any]:
    async with tenant.backend.runtime.db() as conn:
        return list(await conn.execute(sa.select(outbox_events.c.type, outbox_events.c.sequence)
                                       .where(outbox_events.c.aggregate_id == cart_id)
                                       .order_by(outbox_events.c.sequence)))
