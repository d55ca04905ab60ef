"""Cart and checkout as two separate processes talking over real HTTP (the distributed mode).

One fresh PostgreSQL database, `kassa migrate`, an application and key from the CLI, then
`kassa serve cart --port A` and `kassa serve checkout --port B` with KASSA_CART_URL pointing B at
A. The two processes share the database URL and the deployment secrets (KASSA_SERVICE_TOKEN,
KASSA_SIGNING_KEY) through the environment only: each has its own data directory, so nothing
else could make them agree.
"""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from tests.e2e.cluster import Gateway, Kassa
from tests.support.cards import OK_CARD as CARD
from tests.support.envelopes import assert_hardened
from tests.support.ledger import provider_ledger

pytestmark = pytest.mark.slow

ADDRESS = {"addressLine1": "Unter den Linden 1", "city": "Berlin", "countryCode": "DE"}


async def test_cart_and_checkout_as_two_processes_over_http(deployment: dict) -> None:
    cart_srv: Kassa = deployment["cart"]
    checkout_srv: Kassa = deployment["checkout"]
    auth = {"Authorization": f"Bearer {deployment['key']}"}
    cart_api = httpx.Client(base_url=cart_srv.base, headers=auth, timeout=30)
    checkout_api = httpx.Client(base_url=checkout_srv.base, headers=auth, timeout=30)
    with cart_api, checkout_api:
        # Catalog and cart: the cart process.
        product = cart_api.post("/api/v1/products", json={"name": "Shirt", "variants": [
            {"sku": "DIST-S", "prices": {"EUR": 1500}}, {"sku": "DIST-M", "prices": {"EUR": 2500}}]})
        assert product.status_code == 201, product.text
        variants = [v["id"] for v in product.json()["variants"]]
        made = cart_api.post("/api/v1/carts", json={"currency": "EUR", "shippingAddress": ADDRESS, "lineItems": [
            {"variantId": variants[0], "quantity": 2}, {"variantId": variants[1], "quantity": 1}]})
        assert made.status_code == 201, made.text
        cart = made.json()
        assert cart["total"] == 5500 and cart["status"] == "open"

        # Each process serves its own paths only.
        for api, path in ((checkout_api, f"/api/v1/carts/{cart['id']}"), (cart_api, "/api/v1/orders")):
            wrong = api.get(path)
            assert wrong.status_code == 404 and wrong.json()["error"]["code"] == "route_not_found", wrong.text

        # A session: the checkout process reads the cart from the cart process.
        created = checkout_api.post("/api/v1/checkout/sessions", json={"cartId": cart["id"],
                                                                       "metadata": {"channel": "e2e"}})
        assert created.status_code == 201, created.text
        session = created.json()
        assert session["amountTotal"] == 5500 and session["url"].endswith(f"/s/{session['id']}")
        assert cart_api.get(f"/api/v1/carts/{cart['id']}").json()["status"] == "open"
        complete = f"/api/v1/checkout-sessions/{session['id']}/complete"
        body = {"shippingAddress": ADDRESS, "paymentMethod": CARD, "customerEmail": "buyer@example.com"}

        # Fault: the cart process is down. The lock (step 2) cannot happen: 503 in the shared envelope,
        # and nothing reached the payment provider.
        cart_srv.stop()
        down = checkout_api.post(complete, json=body)
        assert down.status_code == 503, down.text
        error = down.json()
        assert error["error"]["code"] == "service_unavailable", error
        assert error["requestId"] == down.headers["x-request-id"] and error["requestId"].startswith("req_")
        assert down.headers.get("retry-after") == "1"
        assert await provider_ledger(deployment["db"], session["id"]) == []
        assert checkout_api.get(f"/api/v1/checkout/sessions/{session['id']}/payments").json()["data"] == []
        still = checkout_api.get(f"/api/v1/checkout/sessions/{session['id']}").json()
        assert still["status"] == "open" and still["paymentStatus"] == "unpaid" and still["orderId"] is None

        # The cart process is back on the same port: the same request now completes.
        cart_srv.start().wait_ready()
        paid = checkout_api.post(complete, json=body)
        assert paid.status_code == 200, paid.text
        done = paid.json()
        assert done["status"] == "complete" and done["paymentStatus"] == "paid" and done["orderId"].startswith("ord_")
        again = checkout_api.post(complete, json=body)  # a retry after success: the finished session, no new order
        assert again.status_code == 200 and again.json()["orderId"] == done["orderId"]

        order = checkout_api.get(f"/api/v1/orders/{done['orderId']}")
        assert order.status_code == 200, order.text
        order = order.json()
        assert order["total"] == 5500 and order["cartId"] == cart["id"] and order["sessionId"] == session["id"]
        assert sorted((li["variantId"], li["quantity"]) for li in order["lineItems"]) == sorted(
            [(variants[0], 2), (variants[1], 1)])
        assert order["metadata"] == {"channel": "e2e", "customerEmail": "buyer@example.com"}
        payments = checkout_api.get(f"/api/v1/checkout/sessions/{session['id']}/payments").json()["data"]
        assert [(p["status"], p["amount"]) for p in payments] == [("captured", 5500)]
        assert [tuple(r) for r in await provider_ledger(deployment["db"], session["id"])] == [("captured", 5500, 1)]

        # The cart, read through the cart process: converted by the checkout process's call.
        converted = cart_api.get(f"/api/v1/carts/{cart['id']}").json()
        assert converted["status"] == "converted" and converted["customerEmail"] == "buyer@example.com"

        # The cart's internal endpoints: an API key is told there is no such route; the deployment's
        # service token gets through (converting again for the same session and order is a no-op).
        internal = f"/internal/carts/{cart['id']}/convert"
        convert = {"sessionId": session["id"], "orderId": done["orderId"]}
        refused = cart_api.post(internal, json=convert)
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "route_not_found", refused.text
        as_service = {"Authorization": f"Service {deployment['service_token']}",
                      "X-Kassa-Application": deployment["app_id"]}
        answered = httpx.post(cart_srv.base + internal, json=convert, headers=as_service)
        assert answered.status_code == 200 and answered.json()["status"] == "converted", answered.text
        forged = httpx.post(cart_srv.base + internal, json=convert,
                            headers={**as_service, "Authorization": "Service not-the-token"})
        assert forged.status_code == 401 and forged.json()["error"]["code"] == "unauthorized", forged.text


def raw(base: str, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, dict]:
    """One request with its path sent byte for byte (clients normalize `..` and `//` away)."""
    host, port = base.removeprefix("http://").split(":")
    head = "".join(f"{k}: {v}\r\n" for k, v in {**headers, "Host": host, "Content-Length": str(len(body)),
                                                  "Connection": "close"}.items())
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"{method} {path} HTTP/1.1\r\n{head}\r\n".encode() + body)
        answer = b"".join(iter(lambda: sock.recv(65536), b""))
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


def test_the_gateway_is_one_base_url_for_both_processes(deployment: dict) -> None:
    gateway: Gateway = deployment["gateway"]
    auth = {"Authorization": f"Bearer {deployment['key']}"}
    with httpx.Client(base_url=gateway.base, headers=auth, timeout=30) as api:
        product = api.post("/api/v1/products", json={"name": "Cap", "variants": [{"sku": "GW-1", "prices": {"EUR": 900}}]})
        assert product.status_code == 201, product.text
        # The gateway gives a request without an id one, which the service logs and echoes.
        assert product.headers["x-request-id"].startswith("req_")
        assert_hardened(product)
        cart = api.post("/api/v1/carts", json={"currency": "EUR", "lineItems": [
            {"variantId": product.json()["variants"][0]["id"], "quantity": 2}]}).json()
        session = api.post("/api/v1/checkout/sessions", json={"cartId": cart["id"]}).json()
        paid = api.post(f"/api/v1/checkout-sessions/{session['id']}/complete",
                        json={"shippingAddress": ADDRESS, "paymentMethod": CARD}, headers={"X-Request-Id": "req-gw-1"})
        assert paid.status_code == 200 and paid.headers["x-request-id"] == "req-gw-1", paid.text
        assert api.get(f"/api/v1/orders/{paid.json()['orderId']}").json()["total"] == 1800
        assert api.get(f"/api/v1/carts/{cart['id']}").json()["status"] == "converted"
        # Service-to-service endpoints are never reachable through the public base URL, however the
        # path is spelled, even with the deployment's service token (which the cart service accepts).
        as_service = {"Authorization": f"Service {deployment['service_token']}",
                      "X-Kassa-Application": deployment["app_id"], "Content-Type": "application/json",
                      "X-Request-Id": "req-internal"}
        reopen = json.dumps({"sessionId": session["id"], "reason": "x"}).encode()
        for path in (f"/internal/carts/{cart['id']}/reopen", f"//internal/carts/{cart['id']}/reopen",
                     f"/api/v1/carts/../../../internal/carts/{cart['id']}/reopen",
                     f"/api/v1/carts/%2e%2e/%2e%2e/%2e%2e/internal/carts/{cart['id']}/reopen",
                     f"/%69nternal/carts/{cart['id']}/reopen", f"/internal%2Fcarts/{cart['id']}/reopen",
                     f"/INTERNAL/carts/{cart['id']}/reopen"):
            status, body = raw(gateway.base, "POST", path, as_service, reopen)
            assert (status, body["error"]["code"], body["requestId"]) == (404, "route_not_found", "req-internal"), path
        assert api.get(f"/api/v1/carts/{cart['id']}").json()["status"] == "converted"  # nothing reopened it
        # Neither are the services' metrics; an unknown path is 404 in the shared envelope.
        for path in ("/metrics", "/api/v1/nowhere", "/api/v1/cartsX"):
            missing = api.get(path)
            assert missing.status_code == 404 and missing.json()["error"]["code"] == "route_not_found", path
            assert missing.json()["requestId"] == missing.headers["x-request-id"]
            assert_hardened(missing)  # the gateway's own answers too
        assert api.get("/healthz").json() == api.get("/readyz").json() == {"status": "ok"}
        assert_hardened(api.get("/healthz"))
        assert "/api/v1/checkout/sessions" in api.get("/schema/checkout/openapi.json").json()["paths"]
        # A service down: the gateway answers 503 in the shared envelope, with the request's id.
        deployment["checkout"].stop()
        down = api.get(f"/api/v1/orders/{paid.json()['orderId']}", headers={"X-Request-Id": "req-down"})
        assert down.status_code == 503 and down.headers["retry-after"] == "1", down.text
        assert down.json() == {"error": {"code": "service_unavailable", "message": down.json()["error"]["message"]},
                               "requestId": "req-down"}
        assert down.headers["x-request-id"] == "req-down"
        assert_hardened(down)
