"""API keys: 401 without a valid key, 403 naming a missing scope, publishable keys kept to browser calls."""

from __future__ import annotations

import sqlalchemy as sa
from kassa_platform.auth import hash_key
from kassa_platform.db import transaction
from kassa_platform.tables import api_keys

from tests.conftest import Backend, Tenant, make_tenant
from tests.support.envelopes import assert_envelope


async def test_missing_malformed_and_unknown_keys_are_401(tenant: Tenant) -> None:
    client = tenant.backend.client
    assert_envelope(await client.get("/api/v1/products"), 401, "unauthorized")
    assert_envelope(await client.get("/api/v1/products", headers={"Authorization": "Basic abc"}), 401, "unauthorized")
    assert_envelope(await client.get("/api/v1/products", headers={"Authorization": "Bearer sk_test_nope"}), 401,
                    "unauthorized")


async def test_keys_are_stored_hashed(tenant: Tenant) -> None:
    async with tenant.backend.runtime.db() as conn:
        rows = (await conn.execute(sa.select(api_keys.c.key_hash, api_keys.c.prefix)
                                      .where(api_keys.c.app_id == tenant.app_id))).all()
    hashes = {r.key_hash for r in rows}
    assert hash_key(tenant.secret_key) in hashes and tenant.secret_key not in hashes
    assert {r.prefix for r in rows} == {"sk_test_", "pk_test_"}


async def test_revoked_key_stops_working(backend: Backend) -> None:
    tenant = await make_tenant(backend)
    key = await tenant.scoped_key(["catalog:read"])
    assert (await tenant.get("/api/v1/products", key=key)).status_code == 200
    async with transaction(backend.runtime.db) as conn:
        await conn.execute(sa.update(api_keys).where(api_keys.c.key_hash == hash_key(key))
                              .values(revoked_at=backend.clock.now()))
    backend.runtime.keys.forget()  # the in-process cache would keep it for its TTL
    assert_envelope(await tenant.get("/api/v1/products", key=key), 401, "unauthorized")


async def test_missing_scope_is_403_naming_it(tenant: Tenant) -> None:
    reader = await tenant.scoped_key(["catalog:read"])
    err = assert_envelope(await tenant.post("/api/v1/carts", {"currency": "EUR"}, key=reader), 403, "forbidden")
    assert err["details"] == {"scope": "carts:write"} and "carts:write" in err["message"]
    err = assert_envelope(await tenant.post("/api/v1/tax-rates", {"countryCode": "DE", "rate": "19", "name": "VAT"},
                                            key=reader), 403, "forbidden")
    assert err["details"] == {"scope": "settings:write"}


async def test_publishable_key_only_does_what_a_browser_may(tenant: Tenant) -> None:
    pk = tenant.publishable_key
    assert (await tenant.get("/api/v1/products", key=pk)).status_code == 200
    assert_envelope(await tenant.post("/api/v1/products", {"name": "x", "variants": [{"sku": "a", "prices": {}}]}, key=pk),
                    403, "forbidden")
    assert_envelope(await tenant.get("/api/v1/shipping-methods", key=pk), 403, "forbidden")
    created = await tenant.post("/api/v1/carts", {"currency": "EUR"}, key=pk)
    assert created.status_code == 201
    custom = {"sku": "GIFT", "name": "Gift wrap", "unitPrice": 1, "quantity": 1}
    err = assert_envelope(await tenant.post(f"/api/v1/carts/{created.json()['id']}/line-items", custom, key=pk,
                                            headers={"X-Cart-Secret": created.json()["clientSecret"]}),
                          403, "custom_line_forbidden")
    assert err["field"] == "unitPrice"


async def test_client_secret_lets_a_publishable_key_act_on_that_cart_only(tenant: Tenant) -> None:
    pk = tenant.publishable_key
    mine = (await tenant.post("/api/v1/carts", {"currency": "EUR"}, key=pk)).json()
    other = (await tenant.post("/api/v1/carts", {"currency": "EUR"}, key=pk)).json()
    assert mine["clientSecret"].startswith(mine["id"] + "_secret_")
    ok = await tenant.get(f"/api/v1/carts/{mine['id']}", key=pk, headers={"X-Cart-Secret": mine["clientSecret"]})
    assert ok.status_code == 200 and ok.json()["clientSecret"] is None  # shown once, at creation
    assert_envelope(await tenant.get(f"/api/v1/carts/{mine['id']}", key=pk), 404, "cart_not_found")
    assert_envelope(await tenant.get(f"/api/v1/carts/{other['id']}", key=pk,
                                     headers={"X-Cart-Secret": mine["clientSecret"]}), 404, "cart_not_found")
    assert_envelope(await tenant.patch(f"/api/v1/carts/{other['id']}", {"customerEmail": "a@b.co"}, key=pk,
                                       headers={"X-Cart-Secret": mine["clientSecret"]}), 404, "cart_not_found")


async def test_every_query_is_scoped_to_the_callers_application(backend: Backend) -> None:
    alice, bob = await make_tenant(backend), await make_tenant(backend)
    cart = await alice.cart()
    product = await alice.product()
    assert_envelope(await bob.get(f"/api/v1/carts/{cart['id']}"), 404, "cart_not_found")
    assert_envelope(await bob.patch(f"/api/v1/carts/{cart['id']}", {"customerEmail": "x@y.co"}), 404, "cart_not_found")
    assert_envelope(await bob.get(f"/api/v1/products/{product['id']}"), 404, "product_not_found")
    assert (await bob.get("/api/v1/products")).json()["data"] == []
    bob_cart = await bob.cart()
    err = assert_envelope(await bob.post(f"/api/v1/carts/{bob_cart['id']}/line-items",
                                         {"variantId": product["variants"][0]["id"]}), 422, "variant_not_found")
    assert err["field"] == "variantId"
