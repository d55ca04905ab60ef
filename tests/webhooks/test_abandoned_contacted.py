"""`contacted`: a `cart.abandoned` delivered to a real receiver makes the abandoned cart contacted.

The webhook service records the success, and its `webhooks_report_successes` job tells the cart
service over its internal API (the cart service never reads the webhook tables). The notice is
owed until it lands: a cart service that cannot be reached delays it, never loses it.
"""

from __future__ import annotations

import sqlalchemy as sa
from kassa_platform.service_client import ServiceClient
from kassa_webhooks import jobs
from kassa_webhooks.notifications import report_successes
from kassa_webhooks.tables import webhook_deliveries

from tests.cart.conftest import filled_cart, sweep_for
from tests.webhooks.conftest import Merchant, Webhooks
from tests.webhooks.receiver import Received, Receiver

DAY = 1440


async def _abandoned_cart(webhooks: Webhooks, merchant: Merchant, **body: object) -> dict:
    cart = await filled_cart(merchant, **body)
    merchant.backend.clock.advance(minutes=DAY + 1)
    assert await sweep_for(merchant) == 1
    await webhooks.run()  # relay the outbox, deliver what is due
    return cart


async def _listed(merchant: Merchant) -> list[dict]:
    response = await merchant.get("/api/v1/abandoned-carts")
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def _owed(merchant: Merchant) -> list:  # type: ignore[type-arg]
    async with merchant.backend.runtime.db() as conn:
        return list((await conn.execute(sa.select(webhook_deliveries.c.id).where(
            webhook_deliveries.c.app_id == merchant.app_id, webhook_deliveries.c.status == "succeeded",
            webhook_deliveries.c.event_type == "cart.abandoned",
            webhook_deliveries.c.success_reported_at.is_(None)))).all())


async def test_a_delivered_cart_abandoned_makes_the_cart_contacted(webhooks: Webhooks, merchant: Merchant,
                                                                   receiver: Receiver) -> None:
    other = Receiver()
    await other.start()
    try:
        await merchant.endpoint(receiver, enabledEvents=["cart.abandoned"])
        await merchant.endpoint(other, enabledEvents=["cart.*"])  # a second endpoint gets it too
        await merchant.put("/api/v1/embed-config",
                           {"cartRecoveryUrlTemplate": "https://shop.example/cart/{cartId}?t={token}"})
        cart = await _abandoned_cart(webhooks, merchant, customerEmail="dee@example.com")

        [got] = [r for r in receiver.received if r.event["type"] == "cart.abandoned"]
        assert got.verified  # signed: the merchant's ESP can trust it
        data = got.event["data"]
        assert data["cartId"] == cart["id"] and data["customer"]["email"] == "dee@example.com"
        assert data["recoveryUrl"].startswith(f"https://shop.example/cart/{cart['id']}?t=")
        assert any(r.event["type"] == "cart.abandoned" for r in other.received)

        [row] = await _listed(merchant)
        assert row["cartId"] == cart["id"] and row["recoveryStatus"] == "not_contacted"  # not told yet
        assert await jobs.report_successes(webhooks.ctx) >= 2  # both endpoints' deliveries
        [row] = await _listed(merchant)
        assert row["recoveryStatus"] == "contacted" and row["contactedAt"] is not None
        summary = (await merchant.get("/api/v1/abandoned-carts/summary")).json()
        assert summary["abandonedCount"] == 1 and summary["recoveryEmailsSent"] == 1
        assert await _owed(merchant) == []
        assert await jobs.report_successes(webhooks.ctx) == 0  # nothing owed: nothing sent again
        contacted = (await merchant.get("/api/v1/abandoned-carts", params={"recoveryStatus": "contacted"})).json()
        assert [r["cartId"] for r in contacted["data"]] == [cart["id"]]
    finally:
        await other.stop()


async def test_an_unreachable_cart_service_delays_the_notice_and_a_failed_delivery_is_no_contact(
        webhooks: Webhooks, merchant: Merchant, receiver: Receiver) -> None:
    refused = [""]

    def refuse_one(item: Received) -> tuple[int, dict[str, str], bytes]:
        return (500, {}, b"down") if item.event["data"]["cartId"] == refused[0] else (200, {}, b"ok")

    receiver.respond = refuse_one
    await merchant.endpoint(receiver, enabledEvents=["cart.abandoned"])
    delivered = await filled_cart(merchant)
    failing = await filled_cart(merchant)
    refused[0] = failing["id"]
    merchant.backend.clock.advance(minutes=DAY + 1)
    assert await sweep_for(merchant) == 2
    await webhooks.run()

    # The cart service cannot be reached (not in this process, no URL): the notice stays owed.
    settings = merchant.backend.runtime.settings
    nowhere = ServiceClient("cart", settings, {})
    assert await report_successes(merchant.backend.runtime.db, nowhere, merchant.backend.clock.now) == 0
    assert len(await _owed(merchant)) == 1
    assert {r["recoveryStatus"] for r in await _listed(merchant)} == {"not_contacted"}

    # Once it answers, the notice lands: only the cart whose delivery succeeded is contacted.
    assert await jobs.report_successes(webhooks.ctx) >= 1
    assert await _owed(merchant) == []
    status = {r["cartId"]: r["recoveryStatus"] for r in await _listed(merchant)}
    assert status == {delivered["id"]: "contacted", failing["id"]: "not_contacted"}
    summary = (await merchant.get("/api/v1/abandoned-carts/summary")).json()
    assert summary["abandonedCount"] == 2 and summary["recoveryEmailsSent"] == 1
