"""Browser access: preflights answer from the route, the application's origins are enforced on the
actual request (kassa_platform/cors.py)."""

from __future__ import annotations

import uuid

from tests.conftest import ADDRESS_DE, Backend, Tenant, make_tenant

SHOP = "https://shop.example"
FOREIGN = "https://evil.example"


def preflight(method: str, *headers: str, origin: str = SHOP) -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": method,
            **({"Access-Control-Request-Headers": ", ".join(headers)} if headers else {})}


async def test_preflight_of_a_browser_route_is_allowed_from_any_origin(backend: Backend) -> None:
    for origin, path, method in ((SHOP, "/api/v1/carts", "POST"), (FOREIGN, "/api/v1/carts/cart_x/line-items", "POST"),
                                 ("http://localhost:3000", "/api/v1/products", "GET"),
                                 (SHOP, "/api/v1/checkout-sessions/cs_x/complete", "POST"),
                                 (SHOP, "/api/v1/carts/cart_x/shipping-method", "PUT")):
        answer = await backend.client.options(path, headers=preflight(method, "authorization", "content-type",
                                                                      "idempotency-key", "x-cart-secret",
                                                                      origin=origin))
        assert answer.status_code == 204, (path, answer.text)
        assert answer.headers["access-control-allow-origin"] == origin
        assert answer.headers["access-control-allow-methods"] == method
        allowed = {h.strip().lower() for h in answer.headers["access-control-allow-headers"].split(",")}
        assert {"authorization", "content-type", "idempotency-key", "x-cart-secret", "x-checkout-secret",
                "x-shopper-token"} <= allowed
        assert int(answer.headers["access-control-max-age"]) > 0
        assert "Origin" in answer.headers["vary"]


async def test_secret_key_routes_never_answer_a_preflight_with_success(backend: Backend) -> None:
    for path, method in (("/api/v1/products", "POST"), ("/api/v1/orders", "GET"), ("/api/v1/embed-config", "PUT"),
                         ("/api/v1/checkout/sessions", "POST"), ("/api/v1/checkout-sessions/embed-token", "POST"),
                         ("/api/v1/campaigns", "GET"), ("/api/v1/carts", "DELETE"), ("/api/v1/nowhere", "GET")):
        answer = await backend.client.options(path, headers=preflight(method, "authorization"))
        assert answer.status_code in (403, 404), (path, answer.status_code)
        assert "access-control-allow-origin" not in answer.headers, path
    # An opaque origin (sandboxed frame, file://) is never allowed.
    answer = await backend.client.options("/api/v1/carts", headers=preflight("POST", origin="null"))
    assert answer.status_code == 403 and "access-control-allow-origin" not in answer.headers


async def test_a_test_application_without_a_list_answers_any_origin_and_exposes_the_sdk_headers(tenant: Tenant) -> None:
    key = str(uuid.uuid4())
    created = await tenant.post("/api/v1/carts", {"currency": "EUR"}, key=tenant.publishable_key,
                                headers={"Origin": FOREIGN, "Idempotency-Key": key})
    assert created.status_code == 201, created.text
    assert created.headers["access-control-allow-origin"] == FOREIGN
    exposed = {h.strip().lower() for h in created.headers["access-control-expose-headers"].split(",")}
    assert {"x-request-id", "idempotent-replayed", "retry-after", "ratelimit-remaining"} <= exposed
    assert "Origin" in created.headers["vary"]
    replay = await tenant.post("/api/v1/carts", {"currency": "EUR"}, key=tenant.publishable_key,
                               headers={"Origin": FOREIGN, "Idempotency-Key": key})
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.headers["access-control-allow-origin"] == FOREIGN
    # Errors are readable too, so the SDK can raise the typed error (a bad key, a missing cart).
    bad = await tenant.get("/api/v1/carts/cart_nope", key="pk_test_nope", headers={"Origin": SHOP})
    assert bad.status_code == 401 and bad.headers["access-control-allow-origin"] == SHOP
    missing = await tenant.get("/api/v1/carts/cart_nope", key=tenant.publishable_key, headers={"Origin": SHOP})
    assert missing.status_code == 404 and missing.headers["access-control-allow-origin"] == SHOP
    # A secret-key route gives a browser nothing to read.
    products = await tenant.get("/api/v1/shipping-methods", headers={"Origin": SHOP})
    assert products.status_code == 200 and "access-control-allow-origin" not in products.headers


async def test_a_live_application_enforces_its_origins_on_the_actual_request(backend: Backend) -> None:
    live = await make_tenant(backend, "live")
    body = {"currency": "EUR"}
    key = str(uuid.uuid4())
    # No list: a live application allows no browser origin. Refused before it ran: nothing created,
    # the Idempotency-Key not spent.
    refused = await live.post("/api/v1/carts", body, key=live.publishable_key,
                              headers={"Origin": SHOP, "Idempotency-Key": key})
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert error["code"] == "origin_not_allowed" and "live applications must list" in error["message"]
    assert error["details"] == {"origin": SHOP}
    assert refused.headers["access-control-allow-origin"] == SHOP  # the page can read why
    # A server (no Origin) is unaffected.
    assert (await live.post("/api/v1/carts", body, key=live.publishable_key)).status_code == 201

    configured = await live.put("/api/v1/embed-config", {"allowedOrigins": [SHOP + ":443"]})
    assert configured.json()["allowedOrigins"] == [SHOP]
    allowed = await live.post("/api/v1/carts", body, key=live.publishable_key,
                              headers={"Origin": SHOP, "Idempotency-Key": key})
    assert allowed.status_code == 201, allowed.text  # seen at once, and the key was never claimed
    assert "idempotent-replayed" not in allowed.headers
    cart = allowed.json()
    foreign = await live.get(f"/api/v1/carts/{cart['id']}", key=live.publishable_key,
                             headers={"Origin": FOREIGN, "X-Cart-Secret": cart["clientSecret"]})
    assert foreign.status_code == 403 and foreign.json()["error"]["code"] == "origin_not_allowed"
    # The checkout service enforces the same list (it learns it from the cart service).
    variant = await live.variant()
    await live.post(f"/api/v1/carts/{cart['id']}/line-items", {"variantId": variant, "quantity": 1})
    session = (await live.post("/api/v1/checkout/sessions", {"cartId": cart["id"]})).json()
    for origin, status in ((FOREIGN, 403), (SHOP, 200)):
        read = await live.get(f"/api/v1/checkout-sessions/{session['id']}", key=live.publishable_key,
                              headers={"Origin": origin, "X-Checkout-Secret": session["clientSecret"]})
        assert read.status_code == status, read.text
        assert read.headers["access-control-allow-origin"] == origin


async def test_a_test_application_with_a_list_allows_only_its_list(tenant: Tenant) -> None:
    await tenant.put("/api/v1/embed-config", {"allowedOrigins": ["http://localhost:3000"]})
    ok = await tenant.post("/api/v1/carts", {"currency": "EUR", "shippingAddress": ADDRESS_DE},
                           key=tenant.publishable_key, headers={"Origin": "http://localhost:3000"})
    assert ok.status_code == 201
    no = await tenant.post("/api/v1/carts", {"currency": "EUR"}, key=tenant.publishable_key,
                           headers={"Origin": "http://localhost:3001"})
    assert no.status_code == 403 and "live applications" not in no.json()["error"]["message"]


async def test_kassas_own_origin_is_always_allowed(backend: Backend) -> None:
    live = await make_tenant(backend, "live")
    own = await live.post("/api/v1/carts", {"currency": "EUR"}, key=live.publishable_key,
                          headers={"Origin": "http://kassa.test"})  # the Host the test client sends
    assert own.status_code == 201, own.text
