"""PostgreSQL: concurrent changes to one cart all land; a line-item add costs at most 6 statements."""

from __future__ import annotations

import asyncio

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
