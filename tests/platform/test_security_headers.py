"""Every response says `X-Content-Type-Options: nosniff`; every response with a secret and every
answer to an authenticated request says `Cache-Control: no-store`; the OpenAPI documents are JSON
with no page and no third-party script. (The Server banner is the HTTP server's: tests/e2e.)"""

from __future__ import annotations

import httpx
import pytest
from kassa_platform.security_headers import harden

from tests.conftest import ADDRESS_DE, Tenant
from tests.platform.routes import auth_headers, every_route
from tests.support.envelopes import assert_envelope

ROUTES = every_route()


def assert_hardened(response: httpx.Response) -> None:
    assert response.headers.get_list("x-content-type-options") == ["nosniff"], response.headers
    assert response.headers.get_list("cache-control") == ["no-store"], response.headers
    assert "server" not in response.headers


@pytest.mark.parametrize(("service", "method", "path"), ROUTES)
async def test_every_route_answers_with_the_security_headers(suite: httpx.AsyncClient, tenant: Tenant, service: str,
                                                             method: str, path: str) -> None:
    """Whatever the route answers (mostly 404s and 422s for made-up ids and no body)."""
    answer = await suite.request(method, path, headers=auth_headers(tenant, path))
    assert answer.status_code < 500, answer.text
    assert_hardened(answer)
    unauthenticated = await suite.request(method, path)
    # Public routes answer anyone (sign-in and password resets: 422 without their body).
    public_with_body = path.startswith("/api/v1/auth/") and method == "POST"
    assert unauthenticated.status_code in ((200, 401, 404, 422) if public_with_body else (200, 401, 404)), \
        unauthenticated.text
    assert_hardened(unauthenticated)


async def test_responses_that_carry_secrets_are_never_stored(suite: httpx.AsyncClient, tenant: Tenant) -> None:
    variant = await tenant.variant({"EUR": 1000})
    as_browser = tenant.headers(tenant.publishable_key)
    cart = await suite.post("/api/v1/carts", json={"currency": "EUR", "lineItems": [{"variantId": variant}],
                                                   "shippingAddress": ADDRESS_DE}, headers=as_browser)
    assert cart.status_code == 201 and cart.json()["clientSecret"]
    assert_hardened(cart)
    session = await suite.post("/api/v1/checkout/sessions", json={"cartId": cart.json()["id"]},
                               headers=tenant.headers())
    assert session.status_code == 201 and session.json()["clientSecret"]
    assert_hardened(session)
    endpoint = await suite.post("/api/v1/webhook-endpoints", json={"url": "https://example.com/h", "enabledEvents": ["*"]},
                                headers=tenant.headers())
    assert endpoint.status_code == 201 and endpoint.json()["secret"].startswith("whsec_"), endpoint.text
    assert_hardened(endpoint)
    read = await suite.get(f"/api/v1/carts/{cart.json()['id']}",
                           headers={**as_browser, "X-Cart-Secret": cart.json()["clientSecret"]})
    assert_hardened(read)


async def test_errors_from_anywhere_carry_them(suite: httpx.AsyncClient, tenant: Tenant) -> None:
    for answer, status in [
        (await suite.get("/nowhere"), 404),  # the embedded router's own 404
        (await suite.get("/api/v1/nowhere", headers=tenant.headers()), 404),
        (await suite.delete("/api/v1/carts", headers=tenant.headers()), 405),
        (await suite.get("/api/v1/products", headers={"Authorization": "Bearer nope"}), 401),
        (await suite.post("/api/v1/carts", content=b"{", headers=tenant.headers()), 400),
        (await suite.post("/api/v1/carts", content=b" " * (2 << 20), headers=tenant.headers()), 413),
        (await suite.get("/healthz"), 200),
        (await suite.get("/metrics"), 200),
    ]:
        assert answer.status_code == status, answer.text
        assert_hardened(answer)


@pytest.mark.parametrize("service", ["cart", "checkout", "webhooks"])
async def test_the_openapi_documents_are_json_without_pages_or_scripts(suite: httpx.AsyncClient, service: str) -> None:
    for path in (f"/schema/{service}", f"/schema/{service}/openapi.json"):
        document = await suite.get(path)
        assert document.status_code == 200 and document.headers["content-type"].endswith("json")
        assert document.json()["openapi"].startswith("3.") and "<script" not in document.text
        assert_hardened(document)
    # It says what the API does: errors in the envelope, the bearer key.
    document = document.json()
    for item in document["paths"].values():
        for operation in item.values():
            assert operation["responses"]["default"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorEnvelope"}
            assert not [code for code in operation["responses"] if code[0] in "45"]
    assert document["security"] == [{"bearerKey": []}]
    for page in ("swagger", "redoc", "elements", "rapidoc", "stoplight", "scalar", "openapi.yaml"):
        missing = await suite.get(f"/schema/{service}/{page}")
        assert missing.status_code == 404 and missing.json()["error"]["code"] in ("route_not_found", "not_found")
        assert_hardened(missing)


def test_an_authenticated_answer_cannot_opt_into_caching_and_a_public_one_can() -> None:
    cached = [(b"cache-control", b"public, max-age=60"), (b"content-type", b"text/css")]
    assert harden(cached, authenticated=True) == [(b"content-type", b"text/css"),
                                                  (b"x-content-type-options", b"nosniff"),
                                                  (b"cache-control", b"no-store")]
    assert harden(cached, authenticated=False) == [*cached, (b"x-content-type-options", b"nosniff")]
    assert harden([(b"x-content-type-options", b"sniff")], authenticated=False) == [
        (b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-store")]


async def test_a_replayed_answer_carries_them(tenant: Tenant) -> None:
    first = await tenant.post("/api/v1/carts", {"currency": "EUR"}, headers={"Idempotency-Key": "hdr"})
    again = await tenant.post("/api/v1/carts", {"currency": "EUR"}, headers={"Idempotency-Key": "hdr"})
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    assert_hardened(again)
    assert_envelope(await tenant.post("/api/v1/carts", {"currency": "USD"}, headers={"Idempotency-Key": "hdr"}), 409,
                    "idempotency_key_reused")
