"""The shared error envelope, request ids and health endpoints."""

from __future__ import annotations

import pytest

from tests.conftest import Backend, Tenant
from tests.support.envelopes import assert_envelope


async def test_health_and_ready_need_no_key(backend: Backend) -> None:
    assert (await backend.client.get("/healthz")).json() == {"status": "ok"}
    ready = await backend.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok"}


async def test_unknown_route_and_method_use_the_envelope(tenant: Tenant) -> None:
    assert_envelope(await tenant.get("/api/v1/nothing-here"), 404, "route_not_found")
    assert_envelope(await tenant.request("DELETE", "/api/v1/carts"), 405, "method_not_allowed")


async def test_malformed_json_is_a_400(tenant: Tenant) -> None:
    response = await tenant.request("POST", "/api/v1/carts", content=b"{nope", headers={"content-type": "application/json"})
    assert_envelope(response, 400, "malformed_json")


async def test_validation_errors_name_the_field(tenant: Tenant) -> None:
    err = assert_envelope(await tenant.post("/api/v1/carts", {"currency": "EUR", "lineItems": [{"quantity": 0}]}),
                          422, "validation_error", "lineItems[0].quantity")
    assert ">= 1" in err["message"]
    assert_envelope(await tenant.post("/api/v1/carts", {}), 422, "validation_error", "currency")
    assert_envelope(await tenant.post("/api/v1/carts", {"currency": "EUR", "colour": "red"}), 422,
                    "validation_error", "colour")
    assert_envelope(await tenant.post("/api/v1/carts", {"currency": "euro"}), 422, "validation_error", "currency")


@pytest.mark.parametrize(("old", "new"), [("line1", "addressLine1"), ("state", "region"), ("country", "countryCode"),
                                          ("zip", "postalCode")])
async def test_legacy_address_keys_name_their_replacement(tenant: Tenant, old: str, new: str) -> None:
    cart = await tenant.cart()
    address = {"addressLine1": "Main St 1", "city": "Berlin", "countryCode": "DE", old: "x"}
    err = assert_envelope(await tenant.patch(f"/api/v1/carts/{cart['id']}", {"shippingAddress": address}), 422,
                          "validation_error", f"shippingAddress.{old}")
    assert new in err["message"] and err["details"] == {"replacement": new}
    # Nothing was stored.
    assert (await tenant.get(f"/api/v1/carts/{cart['id']}")).json()["shippingAddress"] is None


async def test_address_is_validated_on_write(tenant: Tenant) -> None:
    cart = await tenant.cart()
    missing = await tenant.patch(f"/api/v1/carts/{cart['id']}", {"billingAddress": {"city": "Berlin", "countryCode": "DE"}})
    assert_envelope(missing, 422, "validation_error", "billingAddress.addressLine1")
    bad_country = await tenant.patch(f"/api/v1/carts/{cart['id']}",
                                     {"billingAddress": {"addressLine1": "a", "city": "b", "countryCode": "XX"}})
    assert_envelope(bad_country, 422, "validation_error", "billingAddress.countryCode")


async def test_request_id_is_echoed_or_made(tenant: Tenant) -> None:
    made = await tenant.get("/api/v1/products")
    assert made.headers["x-request-id"].startswith("req_")
    echoed = await tenant.get("/api/v1/products", headers={"X-Request-Id": "trace-123"})
    assert echoed.headers["x-request-id"] == "trace-123"
    err = await tenant.get("/api/v1/carts/cart_missing", headers={"X-Request-Id": "trace-456"})
    assert err.json()["requestId"] == "trace-456"


async def test_a_bad_query_parameter_is_named_as_sent(tenant: Tenant) -> None:
    bad = await tenant.get("/api/v1/redemptions", params={"createdFrom": "yesterday"})
    assert_envelope(bad, 400, "validation_error", "createdFrom")
    assert_envelope(await tenant.get("/api/v1/orders", params={"limit": "0"}), 400, "validation_error", "limit")


async def test_a_missing_body_is_said_plainly(tenant: Tenant) -> None:
    missing = await tenant.backend.client.post("/api/v1/carts", headers=tenant.headers())
    assert assert_envelope(missing, 422, "validation_error")["message"] == "This call needs a JSON body"
