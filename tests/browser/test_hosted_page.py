"""The hosted checkout page `/s/{id}` in a real Chromium, top level (as a shopper opens a session's
`url`), walked with the keyboard alone; plus a minimal frame-protocol check from a second origin.
The full embedded suite (through @kassa/embed) is tests/browser/test_embedded_checkout.py."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from tests.conftest import Tenant
from tests.support import cards
from tests.support.checkout_page import (  # noqa: F401  (also imported from here by other test modules)
    AXE,
    CHALLENGE_CARD,
    DECLINED_CARD,
    DOCS_IMAGES,
    GOOD_CARD,
    NO_FUNDS_CARD,
    ROOT,
    axe_check,
    expect_step,
    fill_card,
    merchant,
    open_session,
    order_of,
    pay_by_keyboard,
    shopper_page,
    tab_to,
    type_field,
    walk_to_payment,
)
from tests.support.served import KassaWeb
from tests.support.storefront import Storefront


@pytest.mark.parametrize("width", [1280, 375])
async def test_a_shopper_pays_by_keyboard_alone_and_returns_to_the_shop(
        browser: Any, kassa: KassaWeb, storefront: Storefront, screenshot: Any, width: int) -> None:
    tenant, variant = await merchant(kassa, branding={"displayName": "Nordlicht Coffee", "primaryColor": "#0b5d4b"})
    session = await open_session(tenant, variant, storefront)
    async with shopper_page(browser, width, refusals_shown=False) as page:  # a clean walk: not one refusal
        await page.goto(session["url"])
        await expect(page.get_by_text("Nordlicht Coffee")).to_be_visible()
        await walk_to_payment(page, shots=f"hosted-{width}", screenshot=screenshot, axe=True)
        pay = page.get_by_role("button", name="Pay")
        await expect(pay).to_be_disabled()  # nothing typed yet
        await expect(pay).to_have_text("Pay €64.14")  # 2 × 24.50 + 4.90 shipping, 19 % tax on top
        await fill_card(page, GOOD_CARD)
        await expect(pay).to_be_enabled()
        await tab_to(page, "[data-pay]")
        await page.keyboard.press("Enter")
        await page.wait_for_url(session["successUrl"])
        await expect(page.get_by_role("heading", name="Thanks for your order")).to_be_visible()
    done, payments = await order_of(kassa, tenant, session["id"])
    assert done["status"] == "complete" and done["orderId"]
    assert [p["status"] for p in payments] == ["captured"] and payments[0]["cardLast4"] == "4242"
    order = (await tenant.get(f"/api/v1/orders/{done['orderId']}")).json()
    assert order["customerEmail"] == "ada@example.com" and order["total"] == 6414
    assert order["shippingAddress"]["city"] == "Berlin"
    assert (await tenant.get(f"/api/v1/carts/{session['cartId']}")).json()["status"] == "converted"


FRAMING_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title></head><body>
<h1>Shop</h1><iframe id="checkout" title="Checkout" src="__SRC__" style="width:100%;height:300px;border:0"></iframe>
<script>
window.messages = [];
window.addEventListener('message', function (e) {
  if (e.origin === '__KASSA__' && e.source === document.getElementById('checkout').contentWindow) window.messages.push(e.data);
});
window.frameLoaded = new Promise(function (r) { document.getElementById('checkout').addEventListener('load', r); });
</script></body></html>"""


async def embed_url(tenant: Tenant, session_id: str, origin: str) -> str:
    answer = await tenant.post("/api/v1/checkout-sessions/embed-token", {"sessionId": session_id, "origin": origin})
    assert answer.status_code == 201, answer.text
    return answer.json()["url"]


async def messages(page: Any, type_: str) -> list[dict[str, Any]]:
    return await page.evaluate("t => window.messages.filter(m => m.type === t)", type_)


async def test_the_frame_talks_to_the_token_origin_only(page: Any, kassa: KassaWeb, storefront: Storefront) -> None:
    """The page framed by the token's origin: kassa.ready, step changes, heights, the parent's
    submitDisabled composing with the page's own rule, kassa.completed without a redirect. The same
    URL framed by another origin is refused by the browser."""
    tenant, variant = await merchant(kassa)
    session = await open_session(tenant, variant, storefront, collect={"shippingAddress": False,
                                                                       "billingAddress": False})
    url = await embed_url(tenant, session["id"], storefront.origin)
    assert url.startswith(session["url"] + "?embed=")
    html = FRAMING_PAGE.replace("__SRC__", url).replace("__KASSA__", kassa.origin)
    await page.goto(storefront.add_page(f"/frame-{session['id']}", html))
    wait = page.wait_for_function
    await wait("() => window.messages.some(m => m.type === 'kassa.ready')")
    await wait("() => window.messages.some(m => m.type === 'kassa.resize' && m.height > 200)")
    assert [m["step"] for m in await messages(page, "kassa.step.changed")] == ["payment"]  # payment-only
    assert all(m["sessionId"] == session["id"] for m in await page.evaluate("window.messages"))

    frame = page.frame_locator("#checkout")
    pay = frame.get_by_role("button", name="Pay")
    await frame.locator("#card-number").fill(DECLINED_CARD)
    await frame.locator("#card-exp").fill("12/30")
    await frame.locator("#card-cvc").fill("123")
    await pay.click()
    await wait("() => window.messages.some(m => m.type === 'kassa.error')")
    error = (await messages(page, "kassa.error"))[0]
    assert error["code"] == "payment_declined" and "declined" in error["message"]
    await frame.locator("#card-number").fill(GOOD_CARD)
    await frame.locator("#card-exp").fill("12/30")
    await frame.locator("#card-cvc").fill("123")
    await expect(pay).to_be_enabled()
    post = ("d => document.getElementById('checkout').contentWindow.postMessage("
            "{type: 'kassa.submitDisabled', sessionId: d.sid, disabled: d.disabled}, d.origin)")
    await page.evaluate(post, {"sid": session["id"], "disabled": True, "origin": kassa.origin})
    await expect(pay).to_be_disabled()  # the parent's flag holds the complete form back
    await page.evaluate(post, {"sid": "cs_other", "disabled": False, "origin": kassa.origin})
    await expect(pay).to_be_disabled()  # another session's message changes nothing
    await page.evaluate(post, {"sid": session["id"], "disabled": False, "origin": kassa.origin})
    await expect(pay).to_be_enabled()
    await pay.click()
    await wait("() => window.messages.some(m => m.type === 'kassa.completed')")
    completed = (await messages(page, "kassa.completed"))[0]
    await expect(frame.get_by_role("heading", name="Thank you for your order")).to_be_visible()
    assert page.frames[1].url == url  # embedded: no redirect to successUrl
    done = (await tenant.get(f"/api/v1/checkout/sessions/{session['id']}")).json()
    assert completed["orderId"] == done["orderId"] and done["status"] == "complete"

    # The same URL framed by an origin the token does not name: the browser refuses to show it.
    foreign = FRAMING_PAGE.replace("__SRC__", url).replace("__KASSA__", kassa.origin)
    storefront.add_page(f"/foreign-{session['id']}", foreign)
    await page.goto(f"{storefront.foreign_origin}/foreign-{session['id']}")
    await page.evaluate("() => window.frameLoaded")
    assert await page.evaluate("window.messages") == []
    assert not page.frames[1].url.startswith(kassa.origin)


async def test_the_page_names_an_icon_of_its_own_origin_that_loads(page: Any, kassa: KassaWeb,
                                                                      storefront: Storefront) -> None:
    """No shopper's browser asks for `/favicon.ico` and logs a 404: every page (the steps, a terminal
    page, the not-found page) names its icon, served from Kassa's origin as its CSP allows."""
    tenant, variant = await merchant(kassa, branding={"displayName": "Nordlicht Coffee", "primaryColor": "#0b5d4b"})
    session = await open_session(tenant, variant, storefront)
    cancelled = await open_session(tenant, variant, storefront)
    await tenant.delete(f"/api/v1/checkout/sessions/{cancelled['id']}")
    failed: list[str] = []
    # A request the next navigation cancels (net::ERR_ABORTED: an icon asked for again as the page is left)
    # is no failure a shopper sees; any other is.
    page.on("requestfailed", lambda r: None if "ERR_ABORTED" in (r.failure or "") else failed.append(
        f"failed {r.url} {r.failure}"))
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    # Chromium's own request for `/favicon.ico` (when a page names no icon) is no event of the page's:
    # its 404 shows as the console error every shopper would see.
    page.on("console", lambda m: failed.append(f"console {m.text} {m.location.get('url')}")
            if m.type in ("error", "warning") else None)
    for url, status in ((session["url"], 200), (cancelled["url"], 200), (f"{kassa.origin}/s/cs_nope", 404)):
        async with page.expect_response(lambda r: "favicon" in r.url, timeout=5_000) as icon:
            assert (await page.goto(url)).status == status
        answer = await icon.value
        assert answer.url.startswith(kassa.origin + "/static/checkout/favicon."), answer.url
        assert answer.status == 200 and answer.headers["content-type"].startswith("image/svg+xml")
        declared = await page.evaluate("() => [...document.querySelectorAll('link[rel=icon]')].map(l => l.href)")
        assert declared == [answer.url]
    await page.wait_for_timeout(300)  # a late console message would land by now
    assert not [f for f in failed if not f.endswith("/s/cs_nope")], failed  # (that page's own 404 is meant)


async def test_a_declined_card_shows_why_and_the_next_card_pays_once(
        browser: Any, kassa: KassaWeb, storefront: Storefront, screenshot: Any) -> None:
    tenant, variant = await merchant(kassa)
    session = await open_session(tenant, variant, storefront, collect={"shippingAddress": False,
                                                                       "billingAddress": False})
    async with shopper_page(browser) as page:
        await page.goto(session["url"])
        await expect_step(page, "payment")
        alert = page.get_by_role("alert")
        await fill_card(page, DECLINED_CARD)
        await pay_by_keyboard(page)
        await expect(alert).to_have_text("Your payment was declined: the card was declined. Try another card.")
        await expect(page.locator("#payment-error")).to_be_focused()
        await screenshot(page, "hosted-1280-declined", full_page=True)
        await axe_check(page, "declined")
        await fill_card(page, NO_FUNDS_CARD)
        await pay_by_keyboard(page)
        await expect(alert).to_contain_text("insufficient funds")
        await fill_card(page, GOOD_CARD)
        await pay_by_keyboard(page)
        await page.wait_for_url(session["successUrl"])
    done, payments = await order_of(kassa, tenant, session["id"])
    assert [p["status"] for p in payments] == ["failed", "failed", "captured"]
    orders = (await tenant.get("/api/v1/orders")).json()["data"]
    assert [o["id"] for o in orders] == [done["orderId"]]


async def test_the_second_step_card_passes_its_challenge(
        browser: Any, kassa: KassaWeb, storefront: Storefront, screenshot: Any) -> None:
    tenant, variant = await merchant(kassa)
    session = await open_session(tenant, variant, storefront, collect={"shippingAddress": False,
                                                                       "billingAddress": False})
    async with shopper_page(browser) as page:
        await page.goto(session["url"])
        await fill_card(page, CHALLENGE_CARD)
        await pay_by_keyboard(page)
        await expect(page.get_by_role("heading", name="Confirm this payment")).to_be_focused()
        await screenshot(page, "hosted-1280-challenge", full_page=True)
        await axe_check(page, "challenge")
        await page.keyboard.press("Tab")
        await expect(page.get_by_role("button", name="Confirm payment")).to_be_focused()
        await page.keyboard.press("Enter")
        await page.wait_for_url(session["successUrl"])
    done, payments = await order_of(kassa, tenant, session["id"])
    assert done["status"] == "complete" and [p["status"] for p in payments] == ["captured"]


@pytest.mark.parametrize("width", [1280, 375])
async def test_the_billing_step_takes_an_address_of_its_own(
        browser: Any, kassa: KassaWeb, storefront: Storefront, screenshot: Any, width: int) -> None:
    tenant, variant = await merchant(kassa)
    session = await open_session(tenant, variant, storefront, collect={"shippingAddress": True,
                                                                       "billingAddress": True})
    async with shopper_page(browser, width) as page:
        await page.goto(session["url"])
        await walk_to_payment(page, billing=True, shots=f"hosted-{width}", screenshot=screenshot, axe=width == 1280)
        await expect(page.locator('[data-recap="billing"]')).to_contain_text("Ada Lovelace, Unter den Linden 1")
        await fill_card(page, GOOD_CARD)
        await pay_by_keyboard(page)
        await page.wait_for_url(session["successUrl"])
    done, _ = await order_of(kassa, tenant, session["id"])
    order = (await tenant.get(f"/api/v1/orders/{done['orderId']}")).json()
    assert order["billingAddress"]["addressLine1"] == "Unter den Linden 1"


@pytest.mark.parametrize("width", [1280, 375])
async def test_a_payment_only_session_shows_the_payment_step_alone(
        browser: Any, kassa: KassaWeb, storefront: Storefront, screenshot: Any, width: int) -> None:
    tenant, variant = await merchant(kassa)
    session = await open_session(tenant, variant, storefront, collect={"shippingAddress": False,
                                                                       "billingAddress": False})
    async with shopper_page(browser, width) as page:
        await page.goto(session["url"])
        await expect_step(page, "payment")
        await expect(page.locator("section.step")).to_have_count(1)
        await axe_check(page, "payment-only")
        await screenshot(page, f"hosted-{width}-payment-only", full_page=True)
        await fill_card(page, GOOD_CARD)
        await pay_by_keyboard(page)
        await page.wait_for_url(session["successUrl"])


async def test_german_shoppers_get_german_labels_errors_and_money(
        browser: Any, kassa: KassaWeb, storefront: Storefront, screenshot: Any) -> None:
    tenant, variant = await merchant(kassa)
    session = await open_session(tenant, variant, storefront)
    async with shopper_page(browser, 1280, locale="de-DE") as page:
        await page.goto(session["url"])
        await expect(page.get_by_role("heading", name="Kasse", exact=True)).to_be_visible()
        email = page.get_by_label("E-Mail")
        await tab_to(page, "#email")
        await page.keyboard.type("nicht-gueltig")
        await page.keyboard.press("Enter")
        # The error sits by its field, is tied to it, and is announced.
        await expect(email).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("#email-error")).to_have_text("Bitte eine E-Mail-Adresse wie name@example.com angeben")
        await expect(page.locator("#announcer")).to_contain_text("Bitte eine E-Mail-Adresse")
        await expect(email).to_be_focused()
        await screenshot(page, "hosted-1280-de-error", full_page=True)
        await email.fill("")
        await page.keyboard.type("ada@example.com")
        await page.keyboard.press("Enter")
        await expect_step(page, "shipping")
        await expect(page.locator("#shipping-country")).to_have_value("DE")
        await expect(page.locator("#announcer")).to_have_text("Schritt: Lieferadresse")
        await expect(page.locator("[data-pay]")).to_have_text("Bezahlen 49,00\xa0€")  # tax once the country is known
        await axe_check(page, "de")


async def test_discount_codes_apply_and_come_off_by_keyboard(
        browser: Any, kassa: KassaWeb, storefront: Storefront) -> None:
    tenant, variant = await merchant(kassa)
    camp = (await tenant.post("/api/v1/campaigns", {"name": "Welcome", "reward": {"type": "fixed_off",
                                                                                   "amounts": {"EUR": 500}}})).json()
    assert (await tenant.post(f"/api/v1/campaigns/{camp['id']}/codes", {"code": "WELCOME5"})).status_code == 201
    session = await open_session(tenant, variant, storefront, collect={"shippingAddress": False,
                                                                       "billingAddress": False})
    async with shopper_page(browser) as page:
        await page.goto(session["url"])
        pay = page.get_by_role("button", name="Pay")
        await type_field(page, "#discount-code", "nope")
        await page.keyboard.press("Enter")
        await expect(page.locator("#discount-code")).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("#discount-code-error")).not_to_be_empty()
        await page.locator("#discount-code").fill("")
        await page.keyboard.type("welcome5")
        await page.keyboard.press("Enter")
        await expect(page.locator("#summary")).to_contain_text("WELCOME5")
        await expect(page.locator("#summary .discount")).to_contain_text("-€5.00")
        await expect(pay).to_have_text("Pay €44.00")
        await tab_to(page, "[data-remove-code]")
        await page.keyboard.press("Enter")
        await expect(page.locator("#summary")).not_to_contain_text("WELCOME5")
        await expect(page.locator("#discount-code")).to_be_focused()


async def test_terminal_pages(browser: Any, kassa: KassaWeb, storefront: Storefront, screenshot: Any) -> None:
    tenant, variant = await merchant(kassa)
    done = await open_session(tenant, variant, storefront, collect={"shippingAddress": False, "billingAddress": False})
    paid = await tenant.post(f"/api/v1/checkout-sessions/{done['id']}/complete", {
        "paymentMethod": cards.card_payment(cards.GOOD)})
    assert paid.status_code == 200, paid.text
    cancelled = await open_session(tenant, variant, storefront)
    await tenant.delete(f"/api/v1/checkout/sessions/{cancelled['id']}")
    for width in (1280, 375):
        async with shopper_page(browser, width) as page:
            await page.goto(done["url"])
            await expect(page.get_by_role("heading", name="Thank you for your order")).to_be_visible()
            await expect(page.get_by_text(paid.json()["orderId"])).to_be_visible()
            await screenshot(page, f"hosted-{width}-completed", full_page=True)
            await axe_check(page, "completed")
            await page.goto(cancelled["url"])
            await expect(page.get_by_role("link", name="Back to the shop").first).to_have_attribute(
                "href", cancelled["cancelUrl"])
            await screenshot(page, f"hosted-{width}-cancelled", full_page=True)
            await axe_check(page, "cancelled")
