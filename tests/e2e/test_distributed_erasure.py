"""Erasure in the distributed mode: cart, checkout and webhook services as three `kassa serve` processes
on one PostgreSQL database, the cart service calling the other two over real HTTP
(KASSA_CHECKOUT_URL, KASSA_WEBHOOKS_URL). Afterwards no column of any table holds the person."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import httpx
import pytest
from kassa_platform.db import create_engine

from tests.conftest import free_port
from tests.e2e.cluster import Kassa, ProcessEnv
from tests.support.cards import OK_CARD
from tests.support.erasure import Person, strings_in

pytestmark = pytest.mark.slow


async def test_erasure_across_three_processes(tmp_path: Path, fresh_pg: str) -> None:
    shared = {"KASSA_DATABASE_URL": fresh_pg, "KASSA_SERVICE_TOKEN": secrets.token_urlsafe(32),
              "KASSA_SIGNING_KEY": secrets.token_urlsafe(32), "KASSA_LOG_FORMAT": "text"}
    env = ProcessEnv(tmp_path, shared)
    assert "migrations applied" in env.kassa("migrate")
    ports = {name: free_port() for name in ("cart", "checkout", "webhooks")}
    urls = {f"KASSA_{name.upper()}_URL": f"http://127.0.0.1:{port}" for name, port in ports.items()}
    procs = {name: Kassa.serve(name, port, env.env_for(name, **{k: v for k, v in urls.items()
                                                                if k != f"KASSA_{name.upper()}_URL"}),
                               tmp_path / f"{name}.log")
             for name, port in ports.items()}
    try:
        for proc in procs.values():
            proc.start()
        app_id = env.kassa("apps", "create", "Erasure shop", "--env", "test")
        key = env.kassa("keys", "create", app_id, "--scopes", "*")
        for proc in procs.values():
            proc.wait_ready()
        auth = {"Authorization": f"Bearer {key}"}
        p = Person()
        with httpx.Client(base_url=procs["cart"].base, headers=auth, timeout=30) as cart_api, \
                httpx.Client(base_url=procs["checkout"].base, headers=auth, timeout=30) as checkout_api, \
                httpx.Client(base_url=procs["webhooks"].base, headers=auth, timeout=30) as webhooks_api:
            made = webhooks_api.post("/api/v1/webhook-endpoints", json={"url": "https://receiver.example/hooks",
                                                                       "enabledEvents": ["*"]})
            assert made.status_code == 201, made.text
            customer = cart_api.post("/api/v1/customers", json={"email": p.email, "firstName": p.first,
                                                                "lastName": p.last, "phone": p.phone}).json()
            product = cart_api.post("/api/v1/products", json={"name": "Shirt", "variants": [
                {"sku": "ERASE-1", "prices": {"EUR": 1500}}]}).json()
            cart = cart_api.post("/api/v1/carts", json={
                "currency": "EUR", "customerId": customer["id"], "shippingAddress": p.address,
                "lineItems": [{"variantId": product["variants"][0]["id"], "quantity": 2}]}).json()
            session = checkout_api.post("/api/v1/checkout/sessions", json={"cartId": cart["id"]}).json()
            done = checkout_api.post(f"/api/v1/checkout-sessions/{session['id']}/complete",
                                     json={"shippingAddress": p.address, "paymentMethod": OK_CARD})
            assert done.status_code == 200, done.text
            order_id = done.json()["orderId"]
            total = checkout_api.get(f"/api/v1/orders/{order_id}").json()["total"]
            # The webhook process relays the events on its own (woken by the database): wait until it has.
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                stored = webhooks_api.get("/api/v1/events", params={"limit": 100}).json()["data"]
                if {"order.created", "customer.created"} <= {e["type"] for e in stored}:
                    break
                time.sleep(0.2)
            else:
                pytest.fail("the webhook process did not relay the events")

            answer = cart_api.post("/api/v1/customers/erase", json={"customerId": customer["id"]})

            assert answer.status_code == 200, answer.text
            redacted = answer.json()["redacted"]
            assert redacted["customers"] == 1 and redacted["orders"] == 1 and redacted["webhookEvents"] >= 3
            assert checkout_api.get(f"/api/v1/orders/{order_id}").json()["total"] == total
        engine = create_engine(fresh_pg)
        try:
            async with engine.connect() as conn:
                assert await strings_in(conn, p.strings) == []
        finally:
            await engine.dispose()
    finally:
        for proc in procs.values():
            proc.stop()
