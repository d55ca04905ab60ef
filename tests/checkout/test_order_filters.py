"""The orders list's filters (status, email, time range) and the figures per day (GET /api/v1/orders/summary)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.envelopes import assert_envelope
from tests.support.shop import Shop


async def _order(shop: Shop, email: str | None = None) -> dict:
    cart = await shop.cart(**({"customerEmail": email} if email else {}))
    made = await shop.session(cart["id"])
    done = await shop.complete(made["id"])
    assert done.status_code == 200, done.text
    return (await shop.t.get(f"/api/v1/orders/{done.json()['orderId']}")).json()


async def _ids(shop: Shop, **params: str) -> list[str]:
    response = await shop.t.get("/api/v1/orders", params=params)
    assert response.status_code == 200, response.text
    return [o["id"] for o in response.json()["data"]]


async def test_orders_are_found_by_status_email_and_time(shop: Shop) -> None:
    ada = await _order(shop, "Ada@Example.com")
    bob = await _order(shop, "bob@example.com")
    other = await _order(shop)
    assert (await shop.t.post(f"/api/v1/orders/{bob['id']}/refunds", {"amount": 100})).status_code == 201
    assert await _ids(shop, email="ada@example.COM") == [ada["id"]]
    assert await _ids(shop, status="partially_refunded") == [bob["id"]]
    assert await _ids(shop, status="paid") == [other["id"], ada["id"]]
    assert await _ids(shop, status="paid", email="bob@example.com") == []
    # The time filters bound the ids (time-ordered, made from the wall clock), not `createdAt` (the test clock).
    now = datetime.now(UTC)
    assert await _ids(shop, createdFrom=(now - timedelta(hours=1)).isoformat(), limit="2") == [other["id"], bob["id"]]
    assert await _ids(shop, createdTo=(now - timedelta(hours=1)).isoformat()) == []
    page = (await shop.t.get("/api/v1/orders", params={"status": "paid", "limit": 1})).json()
    assert [o["id"] for o in page["data"]] == [other["id"]]
    rest = await _ids(shop, status="paid", limit="1", cursor=page["nextCursor"])
    assert rest == [ada["id"]]
    assert_envelope(await shop.t.get("/api/v1/orders", params={"status": "lost"}), 400, "validation_error", "status")
    assert_envelope(await shop.t.get("/api/v1/orders", params={"email": "nobody"}), 400, "validation_error", "email")
    assert_envelope(await shop.t.get("/api/v1/orders", params={"createdFrom": "yesterday"}), 400, "validation_error",
                    "createdFrom")


async def test_the_summary_counts_orders_revenue_and_refunds_per_day_in_the_time_zone(shop: Shop) -> None:
    first = await _order(shop)
    second = await _order(shop)
    assert (await shop.t.post(f"/api/v1/orders/{first['id']}/refunds", {"amount": 250})).status_code == 201
    for zone in ("UTC", "Pacific/Kiritimati", "America/Adak"):
        response = await shop.t.get("/api/v1/orders/summary", params={"days": 30, "timeZone": zone})
        assert response.status_code == 200, response.text
        body = response.json()
        today = shop.backend.clock.now().astimezone(__import__("zoneinfo").ZoneInfo(zone)).date().isoformat()
        assert body["timeZone"] == zone
        assert body["days"] == [{"date": today, "currency": "EUR", "orderCount": 2,
                                 "revenue": first["total"] + second["total"], "refunded": 250}]
    default = (await shop.t.get("/api/v1/orders/summary")).json()
    assert default["timeZone"] == "UTC" and len(default["days"]) == 1
    assert_envelope(await shop.t.get("/api/v1/orders/summary", params={"days": 0}), 400, "validation_error", "days")
    assert_envelope(await shop.t.get("/api/v1/orders/summary", params={"days": 91}), 400, "validation_error", "days")
    assert_envelope(await shop.t.get("/api/v1/orders/summary", params={"timeZone": "Mars/Olympus"}), 400,
                    "validation_error", "timeZone")
    reader = await shop.t.scoped_key(["carts:read"])
    assert_envelope(await shop.t.get("/api/v1/orders/summary", key=reader), 403, "forbidden")
