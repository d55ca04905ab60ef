"""Orders and refunds."""

from __future__ import annotations

from tests.conftest import make_tenant
from tests.support.envelopes import assert_envelope
from tests.support.shop import Shop


async def _order(shop: Shop, **session: object) -> dict:
    made = await shop.session(**session)
    done = await shop.complete(made["id"])
    assert done.status_code == 200, done.text
    return (await shop.t.get(f"/api/v1/orders/{done.json()['orderId']}")).json()


async def test_orders_are_listed_newest_first_with_a_cursor_and_scoped(shop: Shop) -> None:
    made = [await _order(shop) for _ in range(3)]
    first = (await shop.t.get("/api/v1/orders", params={"limit": 2})).json()
    assert [o["id"] for o in first["data"]] == [made[2]["id"], made[1]["id"]] and first["nextCursor"]
    rest = (await shop.t.get("/api/v1/orders", params={"limit": 2, "cursor": first["nextCursor"]})).json()
    assert [o["id"] for o in rest["data"]] == [made[0]["id"]] and rest["nextCursor"] is None
    other = await make_tenant(shop.backend)
    assert (await other.get("/api/v1/orders")).json()["data"] == []
    assert_envelope(await other.get(f"/api/v1/orders/{made[0]['id']}"), 404, "order_not_found")
    assert_envelope(await shop.t.get("/api/v1/orders", params={"cursor": "garbage"}), 400, "validation_error", "cursor")
    reader = await shop.t.scoped_key(["carts:read"])
    assert_envelope(await shop.t.get("/api/v1/orders", key=reader), 403, "forbidden")


async def test_partial_then_full_refund(shop: Shop) -> None:
    order = await _order(shop)
    path = f"/api/v1/orders/{order['id']}/refunds"
    part = await shop.t.post(path, {"amount": 1000, "reason": "damaged"})
    assert part.status_code == 201, part.text
    assert (part.json()["status"], part.json()["amount"], part.json()["promotionsRestored"]) == ("succeeded", 1000, False)
    seen = (await shop.t.get(f"/api/v1/orders/{order['id']}")).json()
    assert (seen["status"], seen["amountRefunded"]) == ("partially_refunded", 1000)
    too_much = await shop.t.post(path, {"amount": order["total"]})
    assert assert_envelope(too_much, 422, "refund_exceeds_amount", "amount")["details"]["refundable"] == order["total"] - 1000
    rest = await shop.t.post(path, {})
    assert rest.json()["amount"] == order["total"] - 1000
    seen = (await shop.t.get(f"/api/v1/orders/{order['id']}")).json()
    assert (seen["status"], seen["amountRefunded"]) == ("refunded", order["total"])
    assert_envelope(await shop.t.post(path, {"amount": 1}), 422, "refund_exceeds_amount")
    listed = (await shop.t.get(path)).json()["data"]
    assert [r["amount"] for r in listed] == [1000, order["total"] - 1000]
    events = await shop.events("order.refunded")
    assert [(e["data"]["orderStatus"], e["data"]["amountRefunded"]) for e in events] == \
        [("partially_refunded", 1000), ("refunded", order["total"])]
    assert events[0]["data"]["sequence"] < events[1]["data"]["sequence"]
    assert_envelope(await shop.t.post(path, {"amount": 0}), 422, "validation_error", "amount")
    assert_envelope(await shop.t.post("/api/v1/orders/ord_nope/refunds", {}), 404, "order_not_found")


async def test_a_full_refund_gives_promotion_usage_back(shop: Shop) -> None:
    t = shop.t
    camp = (await t.post("/api/v1/campaigns", {"name": "Once", "usageLimit": 1,
                                               "reward": {"type": "fixed_off", "amounts": {"EUR": 500}}})).json()
    await t.post(f"/api/v1/campaigns/{camp['id']}/codes", {"code": "ONCE"})
    order = await _order(shop, discountCode="ONCE")
    assert (await t.get(f"/api/v1/campaigns/{camp['id']}/stats")).json()["uses"] == 1
    refund = (await t.post(f"/api/v1/orders/{order['id']}/refunds", {})).json()
    assert refund["promotionsRestored"] is True
    assert (await t.get(f"/api/v1/campaigns/{camp['id']}/stats")).json()["uses"] == 0
    rows = (await t.get("/api/v1/redemptions", params={"campaignId": camp["id"], "status": "cancelled"})).json()["data"]
    assert [r["orderId"] for r in rows] == [order["id"]]
    # the code can be used again
    again = await shop.session(discountCode="ONCE")
    assert again["amountTotal"] == order["total"]


async def test_a_partial_refund_keeps_promotion_usage_unless_asked(shop: Shop) -> None:
    t = shop.t
    camp = (await t.post("/api/v1/campaigns", {"name": "Auto", "trigger": "automatic", "reward": {"type": "fixed_off",
                                                                          "amounts": {"EUR": 300}}})).json()
    order = await _order(shop)
    assert [d["campaignId"] for d in order["discounts"]] == [camp["id"]]
    kept = (await t.post(f"/api/v1/orders/{order['id']}/refunds", {"amount": 100})).json()
    assert kept["promotionsRestored"] is False
    assert (await t.get(f"/api/v1/campaigns/{camp['id']}/stats")).json()["uses"] == 1
    given = (await t.post(f"/api/v1/orders/{order['id']}/refunds", {"amount": 100, "restorePromotions": True})).json()
    assert given["promotionsRestored"] is True
    assert (await t.get(f"/api/v1/campaigns/{camp['id']}/stats")).json()["uses"] == 0


async def test_an_order_carries_the_carts_customer(shop: Shop) -> None:
    customer = (await shop.t.post("/api/v1/customers", {"email": "buyer@example.com", "firstName": "Bea"})).json()
    cart = await shop.cart(customerId=customer["id"])
    made = await shop.session(cart["id"])
    done = await shop.complete(made["id"])
    assert done.status_code == 200, done.text
    order = (await shop.t.get(f"/api/v1/orders/{done.json()['orderId']}")).json()
    assert order["customer"] == {"id": customer["id"], "email": "buyer@example.com", "firstName": "Bea",
                                 "lastName": None}
    [created] = [e for e in await shop.events("order.created") if e["data"]["orderId"] == order["id"]]
    assert created["data"]["order"]["customer"]["id"] == customer["id"]
    guest = await _order(shop)
    assert guest["customer"] is None
