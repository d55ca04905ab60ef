"""The embedded checkout through the distributed deployment: `kassa serve cart`, `kassa serve
checkout` and `kassa serve webhooks` as three processes on PostgreSQL behind the real gateway
(nginx with deploy/nginx/kassa.conf.template), and a storefront on a second origin whose page loads
@kassa/embed from the gateway's `/embed/v1/` and frames the page `/s/{id}` through it. A shopper
pays in Chromium; the order exists and its webhook reaches the merchant."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from tests.conftest import free_port
from tests.e2e.cluster import Gateway, Kassa, ProcessEnv
from tests.support.browser import browser_page
from tests.support.checkout_page import GOOD_CARD, InFrame, events, pay_with, wait_event, walk_to_payment
from tests.support.served import LoopbackServer, listening_socket
from tests.support.storefront import Storefront
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.slow


@pytest.fixture
def cluster(tmp_path: Path, fresh_pg: str, nginx: str) -> Iterator[dict[str, Any]]:  # noqa: F811
    gateway_port = free_port()
    shared = {"KASSA_DATABASE_URL": fresh_pg, "KASSA_SERVICE_TOKEN": secrets.token_urlsafe(32),
              "KASSA_SIGNING_KEY": secrets.token_urlsafe(32), "KASSA_LOG_FORMAT": "text",
              "KASSA_PUBLIC_BASE_URL": f"http://127.0.0.1:{gateway_port}",
              "KASSA_WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "all"}

    deployment_env = ProcessEnv(tmp_path, shared)
    env_for, kassa = deployment_env.env_for, deployment_env.kassa

    kassa("migrate")
    ports = {name: free_port() for name in ("cart", "checkout", "webhooks")}
    services = [Kassa.serve("cart", ports["cart"], env_for("cart"), tmp_path / "cart.log"),
                Kassa.serve("checkout", ports["checkout"],
                            env_for("checkout", KASSA_CART_URL=f"http://127.0.0.1:{ports['cart']}"),
                            tmp_path / "checkout.log"),
                Kassa.serve("webhooks", ports["webhooks"], env_for("webhooks"), tmp_path / "webhooks.log")]
    gateway = Gateway(gateway_port, {name: [f"127.0.0.1:{port}"] for name, port in ports.items()}, tmp_path)
    try:
        for process in (*services, gateway):
            process.start()
        app_id = kassa("apps", "create", "Embedded shop", "--env", "test")
        key = kassa("keys", "create", app_id, "--scopes", "*")
        for process in (*services, gateway):
            process.wait_ready()
        yield {"gateway": gateway, "key": key}
    finally:
        gateway.stop()
        for process in services:
            process.stop()


@pytest.fixture
async def shop(cluster: dict[str, Any]) -> AsyncIterator[Storefront]:
    shop_sock, foreign_sock = listening_socket(), listening_socket()
    storefront = Storefront(kassa_origin=cluster["gateway"].base,
                            origin=f"http://localhost:{shop_sock.getsockname()[1]}",
                            foreign_origin=f"http://localhost:{foreign_sock.getsockname()[1]}")
    server = LoopbackServer(storefront, [shop_sock, foreign_sock])
    await server.start()
    async with httpx.AsyncClient(base_url=cluster["gateway"].base, timeout=30) as client:
        storefront.client = client
        try:
            yield storefront
        finally:
            await server.stop()


async def test_an_embedded_checkout_through_the_gateway_and_three_services(
        cluster: dict[str, Any], shop: Storefront, browser: Any) -> None:  # noqa: F811
    receiver = await Receiver().start()
    api = httpx.AsyncClient(base_url=cluster["gateway"].base, timeout=30,
                            headers={"Authorization": f"Bearer {cluster['key']}"})
    try:
        async with browser_page(browser, timeout_ms=15_000) as page:
            async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
                answer = await api.post(path, json=body)
                assert answer.status_code in (200, 201), answer.text
                return answer.json()

            product = await post("/api/v1/products", {"name": "Mug", "variants": [{"sku": "EMB-1", "prices": {"EUR": 2450}}]})
            await post("/api/v1/shipping-methods", {"name": "Standard", "prices": {"EUR": 490}, "countries": ["DE"]})
            endpoint = await post("/api/v1/webhook-endpoints", {"url": receiver.url, "enabledEvents": ["order.created"]})
            receiver.secrets.append(endpoint["secret"])
            cart = await post("/api/v1/carts", {"currency": "EUR", "lineItems": [
                {"variantId": product["variants"][0]["id"], "quantity": 2}]})
            shop.allow_cart(cart["id"], cluster["key"])

            await page.goto(shop.checkout_url(cart=cart["id"]))
            await page.wait_for_function("() => window.shop && window.shop.events.some(e => e.type === 'ready')")
            await expect(page.frame_locator("#checkout iframe").locator("[data-step]").first).to_be_visible()
            frame = next(f for f in page.frames if f.url.startswith(f"{cluster['gateway'].base}/s/"))
            view = InFrame(page, frame)
            await walk_to_payment(view)
            await pay_with(view, GOOD_CARD)
            completed = await wait_event(page, "completed")
            assert [e["step"] for e in await events(page, "step")] == ["contact", "shipping", "shipping_method", "payment"]

            session = (await api.get(f"/api/v1/checkout/sessions/{completed['sessionId']}")).json()
            assert session["status"] == "complete" and session["orderId"] == completed["orderId"]
            assert (await api.get(f"/api/v1/orders/{completed['orderId']}")).status_code == 200
            assert (await api.get(f"/api/v1/carts/{cart['id']}")).json()["status"] == "converted"
            await receiver.wait_for(1, timeout=60)  # the webhook process relays and delivers on its own
            assert [d.event["type"] for d in receiver.ok()] == ["order.created"]
    finally:
        await api.aclose()
        await receiver.stop()
