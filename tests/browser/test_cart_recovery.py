"""The recovery link of a `cart.abandoned`, opened in a fresh browser context (another device: no
cookie, no client secret): the shop's recovery page restores the cart through Kassa with the link's
token alone, shows what changed since (a price, an item no longer sold, a sale that ended) and the
recovery incentive applied. At 375 px and 1280 px, screenshots kept, axe-core clean."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.cart.conftest import events_of, sweep_for
from tests.conftest import make_tenant
from tests.support.campaigns import campaign
from tests.support.checkout_page import axe_check
from tests.support.recovery_page import recovery_page, swatch
from tests.support.served import KassaWeb
from tests.support.storefront import Storefront

DAY = 1440
COLOR = "#1f4e79"


async def _abandoned_cart_link(kassa: KassaWeb, storefront: Storefront) -> tuple[str, dict[str, Any]]:
    """A shop whose cart was abandoned; the recovery link its `cart.abandoned` carries."""
    tenant = await make_tenant(kassa.backend)
    logo = storefront.add_page("/img/logo.svg", swatch("#f2c14e"), "image/svg+xml")
    back = await campaign(tenant, name="Welcome back", reward={"type": "fixed_off", "amounts": {"EUR": 500}})
    await tenant.put("/api/v1/embed-config", {
        "allowedOrigins": [storefront.origin],
        "cartRecoveryUrlTemplate": storefront.origin + f"/recover-{tenant.app_id}.html?cart={{cartId}}&t={{token}}",
        "branding": {"displayName": "Nordlicht Outfitters", "primaryColor": COLOR, "logoUrl": logo, "locale": "en-GB",
                     "currency": "EUR"},
        "recoveryIncentive": {"campaignId": back["id"]}})
    ends = (tenant.backend.clock.now() + timedelta(hours=2)).isoformat()
    await campaign(tenant, trigger="automatic", name="Spring sale", reward={"type": "percent_off", "percent": 10},
                   endsAt=ends)
    images = {}
    products = {}
    for name, price, color in (("Linen shirt", 4000, "#6c8ebf"), ("Wool socks", 1200, "#b85450"),
                               ("Canvas tote", 2500, "#82b366")):
        image = storefront.add_page(f"/img/{tenant.app_id}-{color[1:]}.svg", swatch(color), "image/svg+xml")
        made = (await tenant.post("/api/v1/products", {"name": name, "imageUrl": image, "variants": [
            {"sku": f"{name[:3].upper()}-{tenant.app_id[-6:]}", "prices": {"EUR": price}}]})).json()
        products[name] = made
        images[made["variants"][0]["id"]] = image
    cart = await tenant.cart(currency="EUR", lineItems=[
        {"variantId": products["Linen shirt"]["variants"][0]["id"], "quantity": 1},
        {"variantId": products["Wool socks"]["variants"][0]["id"], "quantity": 2},
        {"variantId": products["Canvas tote"]["variants"][0]["id"], "quantity": 1}])
    tenant.backend.clock.advance(minutes=DAY + 1)
    assert await sweep_for(tenant) == 1
    [event] = await events_of(tenant, "cart.abandoned", cart["id"])
    # Since the shopper left: the shirt got cheaper, the socks are no longer sold, the sale ended.
    shirt = products["Linen shirt"]
    await tenant.patch(f"/api/v1/products/{shirt['id']}/variants/{shirt['variants'][0]['id']}",
                       {"prices": {"EUR": 3500}})
    await tenant.patch(f"/api/v1/products/{products['Wool socks']['id']}", {"active": False})
    storefront.add_page(f"/recover-{tenant.app_id}.html", recovery_page(
        kassa_url=kassa.origin, publishable_key=tenant.publishable_key, store="Nordlicht Outfitters", color=COLOR,
        logo_url=logo, locale="en-GB", images=images))
    return event["data"]["checkoutUrl"], {"cart": cart, "data": event["data"]}


@pytest.mark.parametrize("width", [375, 1280])
async def test_the_recovery_link_restores_the_cart_on_another_device(
        browser: Any, kassa: KassaWeb, storefront: Storefront, width: int,
        screenshot: Callable[..., Awaitable[Path]]) -> None:
    link, known = await _abandoned_cart_link(kassa, storefront)
    # Another device: a context of its own, nothing of the first visit in it.
    context = await browser.new_context(viewport={"width": width, "height": 900}, locale="en-GB")
    try:
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(link)
        await page.wait_for_selector("body[data-ready=true]")
        recovery = await page.evaluate("window.shop.recovery")
        code = known["data"]["recoveryIncentive"]["code"]
        assert recovery["incentive"]["code"] == code and recovery["incentive"]["applied"] is True
        assert {c["type"] for c in recovery["changes"]} == {"price_changed", "unavailable", "promotion_ended"}
        # What the shopper reads.
        changes = await page.locator("#changes li").all_text_contents()
        assert "The price of Linen shirt dropped from 40.00 EUR to 35.00 EUR" in changes
        assert "Wool socks is no longer available and was removed" in changes
        assert "Spring sale no longer applies" in changes
        assert code in (await page.text_content("#incentive-text") or "")
        assert "you save €5.00" in (await page.text_content("#incentive-text") or "")
        assert await page.locator("#lines li").count() == 2  # the shirt and the tote
        assert (await page.locator("#totals dd.total").text_content()) == "€55.00"  # 35 + 25 - 5
        assert recovery["cart"]["total"] == 5500 and recovery["previousTotal"] == known["cart"]["total"]
        await screenshot(page, f"cart-recovery-{width}", full_page=True)
        await axe_check(page, f"cart recovery {width}")
        assert errors == []
        # The cart is the shopper's again, active, with the code on it.
        got = recovery["cart"]
        assert got["abandonedAt"] is None and any(d["code"] == code and d["applied"] for d in got["discounts"])
    finally:
        await context.close()
