"""The whole path as a merchant meets it: `kassa serve` (embedded: SQLite, jobs in-process) and
`kassa serve webhooks` (PostgreSQL), a cart made through the API, its `cart.created` webhook at a
real receiver that verifies it with svix. No job is run by hand: the wake-up, the relay and the
delivery all happen inside the server."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.cli import kassa, serving
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.slow
ALLOW_PRIVATE = {"KASSA_WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "all"}


async def _cart_created_reaches_the_receiver(base: str, secret_key: str, cart_base: str, receiver: Receiver) -> None:
    headers = {"Authorization": f"Bearer {secret_key}"}
    async with httpx.AsyncClient(headers=headers, timeout=10) as http:
        endpoint = await http.post(f"{base}/api/v1/webhook-endpoints",
                                   json={"url": receiver.url, "enabledEvents": ["cart.created"]})
        assert endpoint.status_code == 201, endpoint.text
        receiver.secrets.append(endpoint.json()["secret"])
        cart = await http.post(f"{cart_base}/api/v1/carts", json={"currency": "EUR"})
        assert cart.status_code == 201, cart.text
        await receiver.wait_for(1, timeout=20)
        [got] = receiver.ok()
        assert got.event["type"] == "cart.created" and got.event["data"]["cartId"] == cart.json()["id"]
        events = (await http.get(f"{base}/api/v1/events")).json()["data"]
        assert got.event_id in {e["id"] for e in events}


async def test_embedded_serve_delivers_webhooks(tmp_path: Path, receiver: Receiver) -> None:
    with serving(cwd=tmp_path, env=ALLOW_PRIVATE) as (base, _):
        env = dict(line.split("=", 1) for line in (tmp_path / ".kassa" / "demo.env").read_text().split())
        await _cart_created_reaches_the_receiver(base, env["KASSA_DEMO_SECRET_KEY"], base, receiver)


async def test_webhook_service_alone_on_postgres(tmp_path: Path, pg_url: str, receiver: Receiver) -> None:
    env = {"KASSA_DATABASE_URL": pg_url, **ALLOW_PRIVATE}
    app_id = kassa("apps", "create", "webhooks e2e", "--env", "test", cwd=tmp_path, env=env).stdout.strip()
    key = kassa("keys", "create", app_id, "--scopes", "*", cwd=tmp_path, env=env).stdout.strip()
    with serving("webhooks", cwd=tmp_path, env=env) as (base, _), serving("cart", cwd=tmp_path, env=env) as (cart, _):
        await _cart_created_reaches_the_receiver(base, key, cart, receiver)
