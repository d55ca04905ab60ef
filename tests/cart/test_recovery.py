"""Recovery on any device: the recovery link's token restores the cart with a publishable key alone (a
fresh browser has no client secret), re-prices it against the catalog and promotions of now, says what
changed, and applies the cart's recovery incentive: a single-use code bound to that cart, refused on
any other cart with the reason `bound_to_other_cart`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa
from kassa_cart.tables import carts
from kassa_platform.db import transaction

from tests.cart.conftest import events_of, sweep_for
from tests.conftest import Tenant
from tests.support.campaigns import campaign
from tests.support.envelopes import assert_envelope

DAY = 1440
TEMPLATE = "https://shop.example/recover/{cartId}?t={token}"


async def _abandoned(tenant: Tenant, *, incentive: bool = True, **cart: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A cart with two catalog lines, abandoned; its `cart.abandoned` data."""
    config: dict[str, Any] = {"cartRecoveryUrlTemplate": TEMPLATE}
    if incentive:
        back = await campaign(tenant, name="Welcome back", reward={"type": "fixed_off", "amounts": {"EUR": 500}})
        config["recoveryIncentive"] = {"campaignId": back["id"]}
    assert (await tenant.put("/api/v1/embed-config", config)).status_code == 200
    shirt = await tenant.product({"EUR": 4000})
    socks = await tenant.product({"EUR": 1000})
    made = await tenant.cart(currency="EUR", lineItems=[{"variantId": shirt["variants"][0]["id"], "quantity": 1},
                                                        {"variantId": socks["variants"][0]["id"], "quantity": 2}],
                             **cart)
    tenant.backend.clock.advance(minutes=DAY + 1)
    assert await sweep_for(tenant) >= 1
    [event] = await events_of(tenant, "cart.abandoned", made["id"])
    return {**made, "shirt": shirt, "socks": socks}, event["data"]


def _token(data: dict[str, Any]) -> str:
    return parse_qs(urlsplit(data["checkoutUrl"]).query)["t"][0]


async def _recover(tenant: Tenant, cart_id: str, secret: str, **headers: str) -> Any:
    return await tenant.post(f"/api/v1/carts/{cart_id}/recover", key=tenant.publishable_key,
                             headers={"X-Cart-Secret": secret, **headers})


async def test_the_recovery_link_restores_reprices_and_applies_the_incentive(tenant: Tenant) -> None:
    ends = (tenant.backend.clock.now() + timedelta(hours=2)).isoformat()
    await campaign(tenant, trigger="automatic", name="Spring sale", reward={"type": "percent_off", "percent": 10},
                   endsAt=ends)
    cart, data = await _abandoned(tenant)
    assert any(d["name"] == "Spring sale" and d["applied"] for d in cart["discounts"])
    shirt, socks = cart["shirt"], cart["socks"]
    # Since the shopper left: the shirt got cheaper, the socks left the catalog, the sale ended.
    await tenant.patch(f"/api/v1/products/{shirt['id']}/variants/{shirt['variants'][0]['id']}",
                       {"prices": {"EUR": 3500}})
    await tenant.patch(f"/api/v1/products/{socks['id']}", {"active": False})

    answer = await _recover(tenant, cart["id"], _token(data), **{"Idempotency-Key": "recover-1"})
    assert answer.status_code == 200, answer.text
    got = answer.json()
    replay = await _recover(tenant, cart["id"], _token(data), **{"Idempotency-Key": "recover-1"})
    assert replay.json() == got  # a lost answer is replayed as it was, changes and all
    by_type = {c["type"]: c for c in got["changes"]}
    assert by_type["price_changed"]["previousUnitPrice"] == 4000 and by_type["price_changed"]["unitPrice"] == 3500
    assert by_type["price_changed"]["message"].endswith("dropped from 40.00 EUR to 35.00 EUR")
    assert by_type["unavailable"]["sku"] == socks["variants"][0]["sku"]
    assert by_type["unavailable"]["message"].endswith("is no longer available and was removed")
    assert by_type["promotion_ended"]["name"] == "Spring sale"
    assert got["incentive"] == {"code": data["recoveryIncentive"]["code"],
                                "campaignId": data["recoveryIncentive"]["campaignId"], "applied": True,
                                "amount": 500, "reason": None, "message": None}
    restored = got["cart"]
    assert [li["unitPrice"] for li in restored["lineItems"]] == [3500]
    assert restored["total"] == 3000 and got["previousTotal"] == cart["total"]
    assert restored["abandonedAt"] is None and got["abandonedAt"] is not None  # active again
    assert "clientSecret" not in restored or restored["clientSecret"] is None  # the token is the access

    again = (await _recover(tenant, cart["id"], _token(data))).json()  # a second device: nothing new changed
    assert again["changes"] == [] and again["incentive"]["applied"] is True
    assert len([d for d in again["cart"]["discounts"] if d["code"] == got["incentive"]["code"]]) == 1


async def test_the_incentive_code_works_on_its_own_cart_only(tenant: Tenant) -> None:
    cart, data = await _abandoned(tenant)
    code = data["recoveryIncentive"]["code"]
    variant = await tenant.variant({"EUR": 5000})
    other = await tenant.cart(currency="EUR", lineItems=[{"variantId": variant, "quantity": 1}])
    error = assert_envelope(await tenant.post(f"/api/v1/carts/{other['id']}/discount-codes", {"code": code}), 422,
                            "discount_invalid", "code")
    assert error["details"]["reason"] == "bound_to_other_cart"
    assert error["message"] == "This code was made for another cart and works on that cart only"
    made = await tenant.post("/api/v1/carts", {"currency": "EUR", "discountCodes": [code],
                                               "lineItems": [{"variantId": variant, "quantity": 1}]})
    assert assert_envelope(made, 422, "discount_invalid")["details"]["reason"] == "bound_to_other_cart"
    validated = (await tenant.post("/api/v1/vouchers/validate", {
        "code": code, "currency": "EUR", "lineItems": [{"unitPrice": 5000, "quantity": 1}]})).json()
    assert validated["valid"] is False and validated["reason"] == "bound_to_other_cart"
    # On its own cart it applies (the shopper may also type it).
    own = await tenant.post(f"/api/v1/carts/{cart['id']}/discount-codes", {"code": code})
    assert own.status_code == 200, own.text
    assert any(d["code"] == code and d["applied"] for d in own.json()["discounts"])


async def test_the_link_opens_its_own_cart_until_it_converts(tenant: Tenant) -> None:
    cart, data = await _abandoned(tenant, incentive=False)
    other, _ = await _abandoned(tenant, incentive=False)
    assert_envelope(await _recover(tenant, other["id"], _token(data)), 404, "cart_not_found")  # another cart's
    assert_envelope(await _recover(tenant, cart["id"], "not-a-token"), 404, "cart_not_found")
    got = (await _recover(tenant, cart["id"], _token(data))).json()
    assert got["incentive"] is None and got["changes"] == []
    async with transaction(tenant.backend.runtime.db) as conn:
        await conn.execute(sa.update(carts).where(carts.c.id == cart["id"]).values(status="converted"))
    assert_envelope(await _recover(tenant, cart["id"], _token(data)), 409, "cart_not_open")
    tenant.backend.clock.advance(days=8)  # and a token expires
    assert_envelope(await _recover(tenant, other["id"], _token(data)), 404, "cart_not_found")


async def test_the_incentive_setting_names_a_code_campaign(tenant: Tenant) -> None:
    error = assert_envelope(await tenant.put("/api/v1/embed-config", {"recoveryIncentive": {"campaignId": "camp_x"}}),
                            422, "validation_error", "recoveryIncentive.campaignId")
    assert "no campaign" in error["message"]
    auto = await campaign(tenant, trigger="automatic", reward={"type": "percent_off", "percent": 5})
    assert_envelope(await tenant.put("/api/v1/embed-config", {"recoveryIncentive": {"campaignId": auto["id"]}}),
                    422, "validation_error", "recoveryIncentive.campaignId")
    code = await campaign(tenant, reward={"type": "percent_off", "percent": 5})
    set_ = (await tenant.put("/api/v1/embed-config", {"recoveryIncentive": {"campaignId": code["id"]}})).json()
    assert set_["recoveryIncentive"] == {"campaignId": code["id"]}
    cleared = (await tenant.put("/api/v1/embed-config", {"recoveryIncentive": None})).json()
    assert cleared["recoveryIncentive"] is None
