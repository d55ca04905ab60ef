"""Carts: create, get, patch, line items, statuses, limits, events."""

from __future__ import annotations

import msgspec
import sqlalchemy as sa
from kassa_cart.tables import carts
from kassa_contract.cart import Cart
from kassa_contract.events import EventEnvelope
from kassa_platform.db import transaction
from kassa_platform.tables import outbox_events

from tests.conftest import ADDRESS_DE, Tenant
from tests.support.envelopes import assert_envelope


async def test_create_with_lines_and_get(tenant: Tenant) -> None:
    v1, v2 = await tenant.variant({"EUR": 1250}), await tenant.variant({"EUR": 399})
    cart = await tenant.cart(customerEmail="ana@example.com", lineItems=[{"variantId": v1, "quantity": 2},
                                                                        {"variantId": v2}],
                             shippingAddress=ADDRESS_DE, metadata={"campaign": "spring"})
    assert cart["id"].startswith("cart_") and cart["status"] == "open"
    assert cart["customerEmail"] == "ana@example.com" and cart["metadata"] == {"campaign": "spring"}
    assert [(li["unitPrice"], li["quantity"], li["subtotal"]) for li in cart["lineItems"]] == [(1250, 2, 2500), (399, 1, 399)]
    assert cart["subtotal"] == 2899 and cart["itemCount"] == 3 and cart["total"] == 2899
    assert cart["shippingAddress"]["countryCode"] == "DE"
    got = (await tenant.get(f"/api/v1/carts/{cart['id']}")).json()
    assert got == {**cart, "clientSecret": None}
    msgspec.json.decode(msgspec.json.encode(got), type=Cart)  # the contract type decodes it


async def test_same_variant_merges_quantity(tenant: Tenant) -> None:
    variant = await tenant.variant()
    cart = await tenant.cart()
    path = f"/api/v1/carts/{cart['id']}/line-items"
    await tenant.post(path, {"variantId": variant, "quantity": 2})
    after = (await tenant.post(path, {"variantId": variant, "quantity": 3})).json()
    assert len(after["lineItems"]) == 1 and after["lineItems"][0]["quantity"] == 5
    too_many = await tenant.post(path, {"variantId": variant, "quantity": 9999})
    assert_envelope(too_many, 422, "validation_error", "quantity")


async def test_custom_line_with_a_secret_key(tenant: Tenant) -> None:
    cart = await tenant.cart()
    line = {"sku": "ENGRAVE", "name": "Engraving", "unitPrice": 750, "quantity": 2, "categories": ["service"],
            "metadata": {"text": "For A."}}
    after = await tenant.post(f"/api/v1/carts/{cart['id']}/line-items", line)
    assert after.status_code == 200
    item = after.json()["lineItems"][0]
    assert item["custom"] is True and item["variantId"] is None and item["subtotal"] == 1500
    assert item["metadata"] == {"text": "For A."}
    missing = await tenant.post(f"/api/v1/carts/{cart['id']}/line-items", {"sku": "X", "quantity": 1})
    assert_envelope(missing, 422, "validation_error", "name")
    mixed = await tenant.post(f"/api/v1/carts/{cart['id']}/line-items", {"variantId": "var_x", "unitPrice": 1})
    assert_envelope(mixed, 422, "validation_error", "variantId")


async def test_update_and_remove_lines(tenant: Tenant) -> None:
    v1, v2 = await tenant.variant({"EUR": 100}), await tenant.variant({"EUR": 200})
    cart = await tenant.cart(lineItems=[{"variantId": v1}, {"variantId": v2}])
    first, second = (li["id"] for li in cart["lineItems"])
    base = f"/api/v1/carts/{cart['id']}/line-items"
    changed = (await tenant.patch(f"{base}/{first}", {"quantity": 4})).json()
    assert changed["subtotal"] == 600 and changed["itemCount"] == 5
    removed = (await tenant.delete(f"{base}/{second}")).json()
    assert [li["id"] for li in removed["lineItems"]] == [first] and removed["subtotal"] == 400
    emptied = (await tenant.patch(f"{base}/{first}", {"quantity": 0})).json()
    assert emptied["lineItems"] == [] and emptied["total"] == 0
    assert_envelope(await tenant.delete(f"{base}/{first}"), 404, "cart_line_not_found")
    assert_envelope(await tenant.patch(f"{base}/{first}", {"quantity": -1}), 422, "validation_error", "quantity")


async def test_catalog_errors_on_add(tenant: Tenant) -> None:
    cart = await tenant.cart()
    path = f"/api/v1/carts/{cart['id']}/line-items"
    assert_envelope(await tenant.post(path, {"variantId": "var_unknown"}), 422, "variant_not_found", "variantId")
    usd_only = await tenant.variant({"USD": 100})
    assert_envelope(await tenant.post(path, {"variantId": usd_only}), 422, "variant_price_missing", "variantId")
    product = await tenant.product()
    await tenant.patch(f"/api/v1/products/{product['id']}", {"active": False})
    assert_envelope(await tenant.post(path, {"variantId": product["variants"][0]["id"]}), 422, "variant_not_found")
    assert_envelope(await tenant.post(path, {"variantId": usd_only, "quantity": 10_000}), 422, "validation_error",
                    "quantity")


async def test_patch_sets_and_clears(tenant: Tenant) -> None:
    cart = await tenant.cart(customerEmail="a@example.com", metadata={"a": 1})
    path = f"/api/v1/carts/{cart['id']}"
    patched = (await tenant.patch(path, {"shippingAddress": {**ADDRESS_DE, "region": "BE", "postalCode": "10117"},
                                         "billingAddress": ADDRESS_DE})).json()
    assert patched["customerEmail"] == "a@example.com"  # absent fields stay
    assert patched["shippingAddress"]["postalCode"] == "10117" and patched["billingAddress"]["city"] == "Berlin"
    cleared = (await tenant.patch(path, {"customerEmail": None, "billingAddress": None, "metadata": None})).json()
    assert cleared["customerEmail"] is None and cleared["billingAddress"] is None and cleared["metadata"] is None
    assert cleared["shippingAddress"] is not None
    assert_envelope(await tenant.patch(path, {"customerEmail": "not-an-email"}), 422, "validation_error",
                    "customerEmail")
    big = {f"k{i}": i for i in range(51)}
    assert_envelope(await tenant.patch(path, {"metadata": big}), 422, "metadata_too_large", "metadata")


async def test_not_found_and_not_open(tenant: Tenant) -> None:
    assert_envelope(await tenant.get("/api/v1/carts/cart_unknown"), 404, "cart_not_found")
    variant = await tenant.variant()
    cart = await tenant.cart(lineItems=[{"variantId": variant}])
    for status in ("checkout", "converted"):
        async with transaction(tenant.backend.runtime.db) as conn:
            await conn.execute(sa.update(carts).where(carts.c.id == cart["id"]).values(status=status))
        line = cart["lineItems"][0]["id"]
        for response in (
            await tenant.patch(f"/api/v1/carts/{cart['id']}", {"customerEmail": "x@y.co"}),
            await tenant.post(f"/api/v1/carts/{cart['id']}/line-items", {"variantId": variant}),
            await tenant.patch(f"/api/v1/carts/{cart['id']}/line-items/{line}", {"quantity": 2}),
            await tenant.delete(f"/api/v1/carts/{cart['id']}/line-items/{line}"),
            await tenant.put(f"/api/v1/carts/{cart['id']}/shipping-method", {"shippingMethodId": None}),
        ):
            err = assert_envelope(response, 409, "cart_not_open")
            assert err["details"] == {"status": status}
        assert (await tenant.get(f"/api/v1/carts/{cart['id']}")).json()["status"] == status


async def test_line_limit_has_its_own_code(tenant: Tenant) -> None:
    limit = tenant.backend.runtime.settings.max_cart_lines
    lines = [{"sku": f"S{i}", "name": "x", "unitPrice": 1} for i in range(limit)]
    assert_envelope(await tenant.post("/api/v1/carts", {"currency": "EUR", "lineItems": [*lines, lines[0]]}), 422,
                    "too_many_line_items", "lineItems")
    cart = await tenant.cart(lineItems=lines)
    assert len(cart["lineItems"]) == limit
    err = assert_envelope(await tenant.post(f"/api/v1/carts/{cart['id']}/line-items", lines[0]), 422,
                          "too_many_line_items")
    assert err["details"] == {"max": limit}


async def test_unsupported_currency(tenant: Tenant) -> None:
    assert_envelope(await tenant.post("/api/v1/carts", {"currency": "ABC"}), 422, "currency_unsupported", "currency")


async def test_changes_write_outbox_events_with_the_envelope(tenant: Tenant) -> None:
    variant = await tenant.variant()
    cart = await tenant.cart()
    await tenant.post(f"/api/v1/carts/{cart['id']}/line-items", {"variantId": variant})
    await tenant.patch(f"/api/v1/carts/{cart['id']}", {"customerEmail": "z@example.com"})
    await tenant.post(f"/api/v1/carts/{cart['id']}/line-items", {"variantId": "var_bad"})  # fails: no event
    async with tenant.backend.runtime.db() as conn:
        rows = (await conn.execute(sa.select(outbox_events).where(outbox_events.c.aggregate_id == cart["id"])
                                      .order_by(outbox_events.c.sequence))).all()
    assert [(r.type, r.sequence) for r in rows] == [("cart.created", 1), ("cart.updated", 2), ("cart.updated", 3)]
    assert all(r.published_at is None and r.app_id == tenant.app_id for r in rows)
    last = msgspec.json.decode(rows[-1].payload, type=EventEnvelope)
    assert last.id == rows[-1].id and last.id.startswith("evt_") and last.version == "1"
    assert last.data["cartId"] == cart["id"] and last.data["sequence"] == 3
    assert last.data["cart"]["customerEmail"] == "z@example.com" and last.data["cart"]["itemCount"] == 1
    assert "clientSecret" not in last.data["cart"] or last.data["cart"]["clientSecret"] is None
