"""Two-step redemptions over HTTP (docs/redemptions.md): a till reserves codes on a basket, confirms
with its transaction id, rolls back on a return; holds expire and count nowhere; events go out."""

from __future__ import annotations

from typing import Any

from tests.cart.conftest import events_of
from tests.conftest import Tenant
from tests.support.campaigns import campaign, code
from tests.support.envelopes import assert_envelope


async def _stats(tenant: Tenant, campaign_id: str) -> dict[str, Any]:
    return (await tenant.get(f"/api/v1/campaigns/{campaign_id}/stats")).json()


def _counters(stats: dict[str, Any]) -> tuple[int, int, int, int, int | None]:
    return (stats["uses"], stats["reservedUses"], stats["discountGranted"], stats["discountReserved"],
            stats["budgetLeft"])


async def _till_setup(tenant: Tenant) -> tuple[dict, dict, list[dict]]:
    ten = await campaign(tenant, name="10% off", reward={"type": "percent_off", "percent": 10}, budget=10_000)
    five = await campaign(tenant, name="5 off", reward={"type": "fixed_off", "amounts": {"EUR": 500}}, budget=5_000)
    await code(tenant, ten["id"], code="TILL10", usageLimit=1)
    await code(tenant, five["id"], code="FIVE")
    lines = [{"id": "l1", "sku": "SHOE-42", "categories": ["shoes"], "quantity": 2, "unitPrice": 2_999},
             {"id": "l2", "sku": "SOCK-3", "categories": ["socks"], "quantity": 3, "unitPrice": 1_333}]
    return ten, five, lines


def _allocations(redemption: dict[str, Any]) -> dict[str | None, tuple[int, dict[str, int]]]:
    return {a["code"]: (a["amount"], {x["lineId"]: x["amount"] for x in a["lines"]})
            for a in redemption["allocations"]}


async def test_till_reserve_confirm_and_roll_back_half(tenant: Tenant) -> None:
    ten, five, lines = await _till_setup(tenant)
    # The cart's own pricing of the same lines and codes: what the reservation must hold exactly.
    variants = [await tenant.variant({"EUR": ln["unitPrice"]}) for ln in lines]
    cart = await tenant.cart(lineItems=[{"variantId": v, "quantity": ln["quantity"]} for v, ln in zip(variants, lines)],
                             discountCodes=["TILL10", "FIVE"])
    ids = {li["variantId"]: li["id"] for li in cart["lineItems"]}
    cart_alloc = {d["code"]: d["amount"] for d in cart["discounts"] if d["applied"]}

    snapshot = [{**ln, "id": ids[v]} for v, ln in zip(variants, lines)]
    reserved = await tenant.post("/api/v1/redemptions", {"codes": ["till10", "FIVE"], "email": "a@example.com",
                                                         "basket": {"currency": "EUR", "lineItems": snapshot}})
    assert reserved.status_code == 201, reserved.text
    held = reserved.json()
    assert held["id"].startswith("rdm_") and held["status"] == "reserved"
    alloc = _allocations(held)
    assert {k: v[0] for k, v in alloc.items()} == cart_alloc
    per_line = {li["id"]: {a["code"]: a["amount"] for a in li["discountAllocations"]} for li in cart["lineItems"]}
    for c, (_, parts) in alloc.items():
        assert parts == {lid: amounts[c] for lid, amounts in per_line.items() if c in amounts}
    assert held["amount"] == sum(cart_alloc.values()) and held["subtotal"] == cart["subtotal"]
    a10, a5 = alloc["TILL10"][0], alloc["FIVE"][0]
    assert _counters(await _stats(tenant, ten["id"])) == (0, 1, 0, a10, 10_000 - a10)
    assert _counters(await _stats(tenant, five["id"])) == (0, 1, 0, a5, 5_000 - a5)
    # The same reservation on the cart itself holds the same allocations.
    on_cart = await tenant.post("/api/v1/redemptions", {"codes": ["FIVE"], "cartId": cart["id"]})
    assert on_cart.status_code == 201, on_cart.text
    assert on_cart.json()["allocations"][0]["amount"] == a5
    assert (await tenant.post(f"/api/v1/redemptions/{on_cart.json()['id']}/cancel")).json()["status"] == "cancelled"

    # The single-use code is held: nobody else gets it meanwhile.
    again = await tenant.post("/api/v1/redemptions", {"codes": ["TILL10"], "basket": {"currency": "EUR",
                                                                                     "lineItems": lines}})
    assert_envelope(again, 422, "discount_invalid", "codes")
    assert again.json()["error"]["details"]["refusals"][0]["code"] == "TILL10"

    confirmed = await tenant.post(f"/api/v1/redemptions/{held['id']}/confirm", {"transactionId": "POS-7-000123"})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "confirmed" and confirmed.json()["transactionId"] == "POS-7-000123"
    assert _counters(await _stats(tenant, ten["id"])) == (1, 0, a10, 0, 10_000 - a10)
    assert _counters(await _stats(tenant, five["id"])) == (1, 0, a5, 0, 5_000 - a5)
    retry = await tenant.post(f"/api/v1/redemptions/{held['id']}/confirm", {"transactionId": "POS-7-000123"})
    assert retry.status_code == 200 and retry.json() == confirmed.json()
    assert _counters(await _stats(tenant, ten["id"])) == (1, 0, a10, 0, 10_000 - a10)
    assert_envelope(await tenant.post(f"/api/v1/redemptions/{held['id']}/confirm", {"transactionId": "OTHER"}),
                    409, "redemption_not_reserved")
    found = (await tenant.get("/api/v1/redemptions", params={"transactionId": "POS-7-000123"})).json()["data"]
    assert sorted((r["redemptionId"], r["transactionId"], r["code"], r["status"]) for r in found) == [
        (held["id"], "POS-7-000123", "FIVE", "confirmed"), (held["id"], "POS-7-000123", "TILL10", "confirmed")]
    listed = (await tenant.get("/api/v1/redemptions", params={"campaignId": ten["id"]})).json()["data"]
    assert [(r["redemptionId"], r["status"]) for r in listed] == [(held["id"], "confirmed")]
    assert (await tenant.get("/api/v1/redemptions", params={"transactionId": "nope"})).json()["data"] == []
    assert (await tenant.get("/api/v1/codes/TILL10")).json()["status"] == "redeemed"

    # A return of half the goods: half the discounts back, split over the two in proportion.
    half = held["amount"] // 2
    back = await tenant.post(f"/api/v1/redemptions/{held['id']}/rollback", {"reason": "return", "amount": half})
    assert back.status_code == 201, back.text
    rollback = back.json()
    assert rollback["id"].startswith("rbk_") and rollback["redemptionId"] == held["id"] and rollback["amount"] == half
    parts = {p["redemptionLineId"]: p["amount"] for p in rollback["parts"]}
    assert sum(parts.values()) == half and not any(p["useReturned"] for p in rollback["parts"])
    line_of = {a["code"]: a["redemptionLineId"] for a in held["allocations"]}
    b10, b5 = parts[line_of["TILL10"]], parts[line_of["FIVE"]]
    assert abs(b10 * a5 - b5 * a10) <= max(a10, a5)  # in proportion, to the unit
    assert _counters(await _stats(tenant, ten["id"])) == (1, 0, a10 - b10, 0, 10_000 - a10 + b10)
    assert _counters(await _stats(tenant, five["id"])) == (1, 0, a5 - b5, 0, 5_000 - a5 + b5)
    now = (await tenant.get(f"/api/v1/redemptions/{held['id']}")).json()
    assert now["status"] == "confirmed" and now["rolledBackAmount"] == half and len(now["rollbacks"]) == 1

    too_much = await tenant.post(f"/api/v1/redemptions/{held['id']}/rollback",
                                 {"reason": "return", "amount": held["amount"]})
    assert_envelope(too_much, 422, "rollback_exceeds_amount", "amount")
    # The rest: every use comes back, and the single-use code can be used again.
    rest = (await tenant.post(f"/api/v1/redemptions/{held['id']}/rollback", {"reason": "return"})).json()
    assert rest["amount"] == held["amount"] - half and all(p["useReturned"] for p in rest["parts"])
    assert _counters(await _stats(tenant, ten["id"])) == (0, 0, 0, 0, 10_000)
    assert _counters(await _stats(tenant, five["id"])) == (0, 0, 0, 0, 5_000)
    final = (await tenant.get(f"/api/v1/redemptions/{held['id']}")).json()
    assert final["status"] == "rolled_back" and final["rolledBackAmount"] == held["amount"]
    assert (await tenant.get("/api/v1/codes/TILL10")).json()["status"] == "active"
    assert_envelope(await tenant.post(f"/api/v1/redemptions/{held['id']}/rollback", {"reason": "again"}),
                    409, "redemption_not_confirmed")

    events = [e for e in await events_of(tenant, "redemption.reserved")
              + await events_of(tenant, "redemption.confirmed") + await events_of(tenant, "redemption.rolled_back")
              if e["data"]["redemptionId"] == held["id"]]
    assert sorted((e["type"], e["data"]["sequence"]) for e in events) == [
        ("redemption.confirmed", 2), ("redemption.reserved", 1), ("redemption.rolled_back", 3),
        ("redemption.rolled_back", 4)]


async def test_expired_holds_release_themselves_and_count_nowhere(tenant: Tenant) -> None:
    ten, _five, lines = await _till_setup(tenant)
    body = {"codes": ["TILL10"], "basket": {"currency": "EUR", "lineItems": lines}, "holdMinutes": 15}
    held = (await tenant.post("/api/v1/redemptions", body)).json()
    tenant.backend.clock.advance(minutes=16)
    assert_envelope(await tenant.post(f"/api/v1/redemptions/{held['id']}/confirm", {"transactionId": "T-exp"}),
                    409, "redemption_expired")
    # Before the job ran, the lapsed hold no longer stops anyone: it is released on the way.
    second = await tenant.post("/api/v1/redemptions", body)
    assert second.status_code == 201, second.text
    assert (await tenant.get(f"/api/v1/redemptions/{held['id']}")).json()["status"] == "expired"
    stats = await _stats(tenant, ten["id"])
    assert (stats["reservedUses"], stats["discountReserved"]) == (1, second.json()["amount"])
    tenant.backend.clock.advance(minutes=16)
    runner = tenant.backend.runtime.runner
    assert runner is not None
    assert await runner.run_cron("expire_redemption_holds") >= 1
    assert _counters(await _stats(tenant, ten["id"])) == (0, 0, 0, 0, 10_000)
    assert (await tenant.get("/api/v1/codes/TILL10")).json()["status"] == "active"
    expired = [e for e in await events_of(tenant, "redemption.expired")]
    assert {e["data"]["redemptionId"] for e in expired} == {held["id"], second.json()["id"]}


async def test_cancel_and_refusals(tenant: Tenant) -> None:
    ten, _five, lines = await _till_setup(tenant)
    basket = {"currency": "EUR", "lineItems": lines}
    held = (await tenant.post("/api/v1/redemptions", {"codes": ["TILL10"], "basket": basket})).json()
    cancelled = await tenant.post(f"/api/v1/redemptions/{held['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert (await tenant.post(f"/api/v1/redemptions/{held['id']}/cancel")).json()["status"] == "cancelled"
    assert _counters(await _stats(tenant, ten["id"])) == (0, 0, 0, 0, 10_000)
    assert_envelope(await tenant.post(f"/api/v1/redemptions/{held['id']}/confirm", {"transactionId": "T"}),
                    409, "redemption_not_reserved")
    assert len([e for e in await events_of(tenant, "redemption.cancelled")
                if e["data"]["redemptionId"] == held["id"]]) == 1

    # One transaction, one redemption.
    first, second = [(await tenant.post("/api/v1/redemptions", {"codes": ["FIVE"], "basket": basket})).json()
                     for _ in range(2)]
    assert (await tenant.post(f"/api/v1/redemptions/{first['id']}/confirm", {"transactionId": "DUP"})).status_code == 200
    taken = await tenant.post(f"/api/v1/redemptions/{second['id']}/confirm", {"transactionId": "DUP"})
    assert assert_envelope(taken, 409, "transaction_id_taken", "transactionId")["details"] == {"redemptionId": first["id"]}
    assert (await tenant.get(f"/api/v1/redemptions/{second['id']}")).json()["status"] == "reserved"

    unknown = await tenant.post("/api/v1/redemptions", {"codes": ["NOPE1"], "basket": basket})
    assert_envelope(unknown, 422, "discount_invalid", "codes")
    assert unknown.json()["error"]["details"]["refusals"][0]["reason"] == "code_not_found"
    assert_envelope(await tenant.post("/api/v1/redemptions", {"codes": ["TILL10"]}), 422, "validation_error")
    assert_envelope(await tenant.post("/api/v1/redemptions", {"codes": ["TILL10"], "basket": basket,
                                                              "holdMinutes": 1441}), 422, "validation_error")
    assert_envelope(await tenant.get("/api/v1/redemptions/rdm_missing"), 404, "redemption_not_found")
    # A key without `redemptions:write` may not reserve.
    narrow = await tenant.scoped_key(["promotions:read"])
    assert (await tenant.post("/api/v1/redemptions", {"codes": ["TILL10"], "basket": basket}, key=narrow)
            ).status_code == 403


async def test_a_gift_card_spends_on_confirm_and_a_return_gives_its_value_back(tenant: Tenant) -> None:
    cards = await campaign(tenant, name="Gift cards", reward={"type": "gift_card"}, currency="EUR")
    await code(tenant, cards["id"], code="GIFT-50", balance=5_000, usageLimit=None)
    basket = {"currency": "EUR", "lineItems": [{"sku": "BAG", "quantity": 1, "unitPrice": 3_000}]}
    held = (await tenant.post("/api/v1/redemptions", {"codes": ["GIFT-50"], "basket": basket})).json()
    assert held["amount"] == 3_000 and held["allocations"][0]["giftCard"] is True
    assert (await tenant.get("/api/v1/codes/GIFT-50")).json()["balance"] == 2_000  # held
    await tenant.post(f"/api/v1/redemptions/{held['id']}/confirm", {"transactionId": f"G-{held['id']}"})
    assert (await tenant.get("/api/v1/codes/GIFT-50")).json()["balance"] == 2_000
    back = await tenant.post(f"/api/v1/redemptions/{held['id']}/rollback", {"reason": "return", "amount": 1_200})
    assert back.status_code == 201, back.text
    assert (await tenant.get("/api/v1/codes/GIFT-50")).json()["balance"] == 3_200
    await tenant.post(f"/api/v1/redemptions/{held['id']}/rollback", {"reason": "return"})
    assert (await tenant.get("/api/v1/codes/GIFT-50")).json()["balance"] == 5_000
    # A hold released gives the value back too.
    again = (await tenant.post("/api/v1/redemptions", {"codes": ["GIFT-50"], "basket": basket})).json()
    await tenant.post(f"/api/v1/redemptions/{again['id']}/cancel")
    assert (await tenant.get("/api/v1/codes/GIFT-50")).json()["balance"] == 5_000


async def test_an_idempotency_key_replays_a_reserve_and_a_confirm(tenant: Tenant) -> None:
    ten, _five, lines = await _till_setup(tenant)
    body = {"codes": ["TILL10"], "basket": {"currency": "EUR", "lineItems": lines}}
    first = await tenant.post("/api/v1/redemptions", body, headers={"Idempotency-Key": f"r-{tenant.app_id}"})
    again = await tenant.post("/api/v1/redemptions", body, headers={"Idempotency-Key": f"r-{tenant.app_id}"})
    assert first.status_code == again.status_code == 201 and first.json()["id"] == again.json()["id"]
    path = f"/api/v1/redemptions/{first.json()['id']}/confirm"
    done = [await tenant.post(path, {"transactionId": "IDEM-1"}, headers={"Idempotency-Key": f"c-{tenant.app_id}"})
            for _ in range(2)]
    assert [d.status_code for d in done] == [200, 200] and done[0].json() == done[1].json()
    stats = await _stats(tenant, ten["id"])
    assert (stats["uses"], stats["reservedUses"]) == (1, 0)
