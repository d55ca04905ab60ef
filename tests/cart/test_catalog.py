"""The catalog: products with variants, prices per currency, categories, a tax class."""

from __future__ import annotations

from tests.conftest import Tenant
from tests.support.envelopes import assert_envelope


async def test_create_get_update_product(tenant: Tenant) -> None:
    product = await tenant.product({"EUR": 1999, "JPY": 2500}, tax_class="reduced", categories=["books", "books", "new"],
                                   variants=2)
    assert product["id"].startswith("prod_") and product["taxClass"] == "reduced"
    assert product["categories"] == ["books", "new"]
    assert [v["prices"] for v in product["variants"]] == [{"EUR": 1999, "JPY": 2500}] * 2
    got = (await tenant.get(f"/api/v1/products/{product['id']}")).json()
    assert got == product
    updated = await tenant.patch(f"/api/v1/products/{product['id']}", {"name": "Renamed", "active": False})
    assert updated.json()["name"] == "Renamed" and updated.json()["active"] is False
    variant = product["variants"][0]
    repriced = await tenant.patch(f"/api/v1/products/{product['id']}/variants/{variant['id']}", {"prices": {"EUR": 500}})
    assert repriced.json()["variants"][0]["prices"] == {"EUR": 500}


async def test_add_variant_and_sku_conflicts(tenant: Tenant) -> None:
    product = await tenant.product()
    sku = product["variants"][0]["sku"]
    added = await tenant.post(f"/api/v1/products/{product['id']}/variants", {"sku": sku + "-x", "prices": {"EUR": 1}})
    assert added.status_code == 201 and len(added.json()["variants"]) == 2
    assert_envelope(await tenant.post(f"/api/v1/products/{product['id']}/variants", {"sku": sku, "prices": {"EUR": 1}}),
                    409, "sku_taken")
    assert_envelope(await tenant.post("/api/v1/products", {"name": "Dup", "variants": [{"sku": sku, "prices": {}}]}),
                    409, "sku_taken")
    assert_envelope(await tenant.post("/api/v1/products", {"name": "Twice", "variants": [
        {"sku": "same", "prices": {}}, {"sku": "same", "prices": {}}]}), 409, "sku_taken")


async def test_unknown_currency_and_bad_prices_are_refused(tenant: Tenant) -> None:
    err = assert_envelope(await tenant.post("/api/v1/products", {"name": "x", "variants": [
        {"sku": "q1", "prices": {"XYZ": 100}}]}), 422, "currency_unsupported")
    assert err["field"] == "variants[0].prices"
    assert_envelope(await tenant.post("/api/v1/products", {"name": "x", "variants": [
        {"sku": "q2", "prices": {"EUR": -1}}]}), 422, "validation_error")
    assert_envelope(await tenant.post("/api/v1/products", {"name": "x", "variants": [
        {"sku": "q3", "prices": {"EUR": 1.5}}]}), 422, "validation_error")
    assert_envelope(await tenant.get("/api/v1/products/prod_nope"), 404, "product_not_found")


async def test_products_paginate_by_cursor(tenant: Tenant) -> None:
    ids = [(await tenant.product())["id"] for _ in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        page = (await tenant.get("/api/v1/products", params={"limit": 2, **({"cursor": cursor} if cursor else {})})).json()
        seen += [p["id"] for p in page["data"]]
        cursor = page["nextCursor"]
        if not cursor:
            break
    assert seen == ids
    assert_envelope(await tenant.get("/api/v1/products", params={"cursor": "!!garbage"}), 400, "validation_error",
                    "cursor")
    assert_envelope(await tenant.get("/api/v1/products", params={"limit": 0}), 400, "validation_error")
