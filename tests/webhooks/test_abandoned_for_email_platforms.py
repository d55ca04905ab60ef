"""`cart.abandoned` as an email platform needs it, delivered to a real receiver on loopback and verified
with svix: the customer (names, locale, consent), each line's pages, picture, categories and variant
name (null where the catalog has none), the recovery link as `checkoutUrl`, the store, the value, an
event id per abandonment and the recovery incentive. (`order.created` carries the customer already:
tests/checkout/test_orders.py.)"""

from __future__ import annotations

import uuid
from typing import Any

from kassa_contract.events import AbandonedLineItem, CartAbandonedData

from tests.cart.conftest import sweep_for
from tests.support.campaigns import campaign
from tests.webhooks.conftest import Merchant, Webhooks
from tests.webhooks.receiver import Receiver

DAY = 1440
TEMPLATE = "https://shop.example/recover/{cartId}?t={token}"
BRANDING = {"displayName": "Ana's Shop", "logoUrl": "https://cdn.shop.example/logo.png", "primaryColor": "#1A2B3C",
            "locale": "de-DE", "currency": "EUR"}
ADDRESS = {"firstName": "Anna", "lastName": "Address", "addressLine1": "Unter den Linden 1", "postalCode": "10117",
           "city": "Berlin", "countryCode": "DE"}


async def _catalog(merchant: Merchant) -> tuple[str, str, str]:
    """A product with its page and picture and a variant with a picture of its own; a product with neither."""
    dressed = (await merchant.post("/api/v1/products", {
        "name": "Linen shirt", "categories": ["shirts", "summer"], "url": "https://shop.example/p/linen-shirt",
        "imageUrl": "https://cdn.shop.example/linen.jpg",
        "variants": [{"sku": f"LIN-{uuid.uuid4().hex[:6]}", "name": "Blue / M", "prices": {"EUR": 4500},
                      "imageUrl": "https://cdn.shop.example/linen-blue.jpg"}]})).json()
    plain = (await merchant.post("/api/v1/products", {
        "name": "Socks", "variants": [{"sku": f"SOX-{uuid.uuid4().hex[:6]}", "prices": {"EUR": 900}}]})).json()
    return dressed["id"], dressed["variants"][0]["id"], plain["variants"][0]["id"]


async def _delivered(webhooks: Webhooks, merchant: Merchant, receiver: Receiver, type_: str) -> list[dict[str, Any]]:
    await webhooks.run()
    got = [r for r in receiver.received if r.event["type"] == type_]
    assert got and all(r.verified for r in got)  # svix verifies every one: the ESP can trust them
    return [r.event for r in got]


async def test_cart_abandoned_carries_what_an_email_platform_needs(webhooks: Webhooks, merchant: Merchant,
                                                                   receiver: Receiver) -> None:
    await merchant.endpoint(receiver, enabledEvents=["cart.abandoned"])
    incentive = await campaign(merchant, name="Come back: 10% off", reward={"type": "percent_off", "percent": 10})
    await merchant.put("/api/v1/embed-config", {"cartRecoveryUrlTemplate": TEMPLATE, "branding": BRANDING,
                                                "recoveryIncentive": {"campaignId": incentive["id"]}})
    email = f"ana.{uuid.uuid4().hex[:6]}@example.com"
    customer = (await merchant.post("/api/v1/customers", {
        "email": email, "firstName": "Ana", "lastName": "Lima", "locale": "pt-BR",
        "marketingConsent": {"email": "granted", "source": "checkout"}})).json()
    product_id, shirt, socks = await _catalog(merchant)
    made = await merchant.post("/api/v1/carts", {
        "currency": "EUR", "customerId": customer["id"], "shippingAddress": ADDRESS,
        "lineItems": [{"variantId": shirt, "quantity": 2}, {"variantId": socks, "quantity": 1},
                      {"sku": "GIFT-WRAP", "name": "Gift wrap", "unitPrice": 300, "quantity": 1}]})
    assert made.status_code == 201, made.text
    cart = made.json()
    merchant.backend.clock.advance(minutes=DAY + 1)
    assert await sweep_for(merchant) == 1

    [event] = await _delivered(webhooks, merchant, receiver, "cart.abandoned")
    data = event["data"]
    assert set(CartAbandonedData.__struct_encode_fields__) <= set(data)  # every field of the contract type
    assert data["customer"] == {"id": customer["id"], "email": email, "firstName": "Ana", "lastName": "Lima",
                                "locale": "pt-BR", "marketingConsent": {
                                    "email": "granted", "updatedAt": customer["marketingConsent"]["updatedAt"],
                                    "source": "checkout"}}
    assert data["checkoutUrl"] == data["recoveryUrl"]
    assert data["checkoutUrl"].startswith(f"https://shop.example/recover/{cart['id']}?t=")
    assert data["store"] == {"displayName": "Ana's Shop", "logoUrl": "https://cdn.shop.example/logo.png",
                             "primaryColor": "#1a2b3c", "locale": "de-DE", "currency": "EUR"}
    assert data["value"] == cart["total"] == data["total"] and data["currency"] == "EUR"
    assert data["eventId"] == event["id"]  # one id per abandonment: ESPs dedupe on it
    assert data["recoveryIncentive"]["campaignId"] == incentive["id"]
    assert data["recoveryIncentive"]["code"].startswith("BACK-")

    by_sku = {line["sku"]: line for line in data["lineItems"]}
    extra = [f for f in AbandonedLineItem.__struct_encode_fields__ if f not in ("id",)]
    for line in data["lineItems"]:
        assert set(extra) <= set(line), line  # every field present, null where unknown: never missing
    shirt_line = next(line for line in data["lineItems"] if line["variantId"] == shirt)
    assert shirt_line["productUrl"] == "https://shop.example/p/linen-shirt"
    assert shirt_line["imageUrl"] == "https://cdn.shop.example/linen-blue.jpg"  # the variant's own wins
    assert shirt_line["variantName"] == "Blue / M" and shirt_line["productName"] == "Linen shirt"
    assert shirt_line["categories"] == ["shirts", "summer"] and shirt_line["productId"] == product_id
    assert shirt_line["unitPrice"] == 4500 and shirt_line["quantity"] == 2
    assert shirt_line["lineTotal"] == shirt_line["total"] == 9000
    socks_line = next(line for line in data["lineItems"] if line["variantId"] == socks)
    assert (socks_line["productUrl"], socks_line["imageUrl"], socks_line["variantName"]) == (None, None, None)
    assert socks_line["productName"] == "Socks"
    wrap = by_sku["GIFT-WRAP"]  # a custom line: nothing in the catalog
    assert (wrap["productUrl"], wrap["imageUrl"], wrap["variantName"], wrap["productName"]) == (None, None, None, None)
    assert wrap["unitPrice"] == 300 and wrap["lineTotal"] == wrap["total"] == 300

    # Abandoned again after a change: a new event with an id of its own, and a new single-use code.
    await merchant.patch(f"/api/v1/carts/{cart['id']}", {"metadata": {"seen": "1"}})
    merchant.backend.clock.advance(minutes=DAY + 1)
    assert await sweep_for(merchant) == 1
    events = await _delivered(webhooks, merchant, receiver, "cart.abandoned")
    assert len({e["data"]["eventId"] for e in events}) == 2
    assert len({e["data"]["recoveryIncentive"]["code"] for e in events}) == 2


async def test_a_guest_takes_the_name_of_the_cart_address_and_null_store_fields(
        webhooks: Webhooks, merchant: Merchant, receiver: Receiver) -> None:
    await merchant.endpoint(receiver, enabledEvents=["cart.abandoned"])
    variant = await merchant.variant({"EUR": 1200})
    cart = await merchant.cart(currency="EUR", customerEmail="guest@example.com", billingAddress=ADDRESS,
                               lineItems=[{"variantId": variant, "quantity": 1}])
    merchant.backend.clock.advance(minutes=DAY + 1)
    assert await sweep_for(merchant) == 1
    [event] = await _delivered(webhooks, merchant, receiver, "cart.abandoned")
    data = event["data"]
    assert data["cartId"] == cart["id"]
    assert data["customer"] == {"id": None, "email": "guest@example.com", "firstName": "Anna", "lastName": "Address",
                                "locale": None, "marketingConsent": None}
    # No branding, no template, no incentive: the fields are there, null (the currency is the cart's).
    assert data["store"] == {"displayName": None, "logoUrl": None, "primaryColor": None, "locale": None,
                             "currency": "EUR"}
    assert data["checkoutUrl"] is None and data["recoveryIncentive"] is None
    line = data["lineItems"][0]
    assert "productUrl" in line and line["productUrl"] is None and line["imageUrl"] is None
    assert line["variantName"] is None  # a variant named after its SKU has no name of its own

