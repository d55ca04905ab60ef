"""The hosted page and the embedded checkout of an application that pays through Stripe, in a real
Chromium, with localstripe standing in for Stripe's cloud and its mock of Stripe.js drawing the card
fields (plain inputs named by their placeholders: number, exp_month, exp_year, cvc, postal_code; its
3-D Secure window is a dialog with "Complete authentication" and "Fail authentication").

Every request the shopper's browser makes to Kassa's origin is recorded: no card number may appear
in any of them, only the token Stripe made of the card.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from tests.conftest import Tenant
from tests.support.cards import spaced
from tests.support.checkout_page import (
    axe_check,
    events,
    expect_step,
    merchant,
    open_checkout,
    open_session,
    order_of,
    pay_by_keyboard,
    shopper_page,
    tab_to,
    wait_event,
    walk_to_payment,
)
from tests.support.localstripe import LocalStripe
from tests.support.served import KassaWeb
from tests.support.storefront import Storefront
from tests.support.stripe_shop import DECLINED, DECLINED_AT_CONFIRM, SUCCESS, THREE_D_SECURE

PAYMENT_ONLY = {"shippingAddress": False, "billingAddress": False}
CARDS = (SUCCESS, DECLINED, DECLINED_AT_CONFIRM, THREE_D_SECURE)
MOCK_FIELDS = ("number", "exp_month", "exp_year", "cvc", "postal_code")
DECLINED_TEXT = "Your payment was declined: the card was declined. Try another card."
AUTH_FAILED_TEXT = "Your payment was declined: the card's authentication failed. Try another card."


async def stripe_merchant(web: KassaWeb, localstripe: LocalStripe, **kw: Any) -> tuple[Tenant, str]:
    """A merchant (shipping methods, tax, a product at €24.50) whose payments go through Stripe."""
    tenant, variant = await merchant(web, **kw)
    answer = await tenant.put("/api/v1/payment-settings", {
        "provider": "stripe", "secretKey": localstripe.api_key, "publishableKey": localstripe.publishable_key})
    assert answer.status_code == 200, answer.text
    return tenant, variant


class Requests:
    """Every request of a browser context (its pages and all their frames), by origin."""

    def __init__(self, context: Any) -> None:
        self.seen: list[tuple[str, str, bytes]] = []
        context.on("request", lambda r: self.seen.append((r.method, r.url, r.post_data_buffer or b"")))

    def to(self, origin: str) -> list[tuple[str, str, bytes]]:
        return [r for r in self.seen if r[1].startswith(origin + "/")]

    def assert_no_card_reached(self, kassa_origin: str, stripe_origin: str) -> None:
        """No card number, in one piece or in groups of four, in any URL or body sent to Kassa; the
        card went to Stripe (the recording sees it there), and Kassa got Stripe's tokens."""
        to_kassa = self.to(kassa_origin)
        assert to_kassa, "no request to Kassa was recorded"
        for method, url, body in to_kassa:
            text = url + "\n" + body.decode("utf-8", "replace")
            for number in CARDS:
                groups = [number[i:i + 4] for i in range(0, len(number), 4)]
                for shape in (number, *(sep.join(groups) for sep in (" ", "%20", "+", "-"))):
                    assert shape not in text, f"a card number reached Kassa: {method} {url}"
        completes = [body for _, url, body in to_kassa if url.split("?")[0].endswith("/complete")]
        assert any(b'"token":"tok_' in body for body in completes), completes
        assert any(b"card[number]=" in body for _, url, body in self.to(stripe_origin) if "/v1/tokens" in url)


async def fill_stripe_card(view: Any, number: str, *, cvc: str | None = "123") -> None:
    """Type a card into Stripe.js's fields (the mock's inputs) by keyboard, after emptying them."""
    fields = view.locator("#card-element input")
    await expect(fields).to_have_count(len(MOCK_FIELDS))
    for name in reversed(MOCK_FIELDS):  # emptied last to first: the focus ends on the number
        await view.locator(f'#card-element input[placeholder="{name}"]').fill("")
    values = {"number": number, "exp_month": "12", "exp_year": "30", "cvc": cvc, "postal_code": "10117"}
    for name in MOCK_FIELDS:
        if values[name] is None:
            continue
        await tab_to(view, f'#card-element input[placeholder="{name}"]')  # the mock moves on by itself, too
        await view.keyboard.type(values[name])


def stripe_refusals(localstripe: LocalStripe) -> Any:
    """Responses a shopper's page may see refused by Stripe (a card it will not take)."""
    return lambda response: response.url.startswith(localstripe.url + "/")


# ---------------------------------------------------------------- the hosted page


@pytest.mark.parametrize("width", [1280, 375])
async def test_a_card_pays_through_stripes_fields_and_kassa_never_sees_it(
        browser: Any, stripe_kassa: KassaWeb, localstripe: LocalStripe, stripe_storefront: Storefront,
        screenshot: Any, width: int) -> None:
    tenant, variant = await stripe_merchant(stripe_kassa, localstripe,
                                            branding={"displayName": "Nordlicht Coffee", "primaryColor": "#0b5d4b"})
    session = await open_session(tenant, variant, stripe_storefront)
    async with shopper_page(browser, width, refusals_shown=False) as page:  # not one refusal on the way
        requests = Requests(page.context)
        await page.goto(session["url"])
        await walk_to_payment(page, axe=width == 1280)
        card = page.get_by_role("group", name="Card details")
        await expect(card.locator("input")).to_have_count(len(MOCK_FIELDS))  # Stripe.js drew its fields
        await expect(page.locator("#card-number")).to_have_count(0)  # and Kassa has none of its own
        await expect(page.get_by_text("Your card details go straight to our payment provider, Stripe")).to_be_visible()
        pay = page.get_by_role("button", name="Pay")
        await expect(pay).to_be_disabled()  # nothing typed yet
        await expect(pay).to_have_text("Pay €64.14")
        await axe_check(page, "stripe payment")
        await screenshot(page, f"stripe-payment-{width}", full_page=True)
        await fill_stripe_card(page, SUCCESS)
        await expect(pay).to_be_enabled()
        await pay_by_keyboard(page)
        await page.wait_for_url(session["successUrl"])
    requests.assert_no_card_reached(stripe_kassa.origin, localstripe.url)
    done, payments = await order_of(stripe_kassa, tenant, session["id"])
    assert done["status"] == "complete" and done["orderId"]
    assert [p["status"] for p in payments] == ["captured"] and payments[0]["cardLast4"] == "4242"


async def test_declined_cards_show_why_and_the_next_card_pays_once(
        browser: Any, stripe_kassa: KassaWeb, localstripe: LocalStripe, stripe_storefront: Storefront,
        screenshot: Any) -> None:
    tenant, variant = await stripe_merchant(stripe_kassa, localstripe)
    session = await open_session(tenant, variant, stripe_storefront, collect=PAYMENT_ONLY)
    async with shopper_page(browser, allowed=stripe_refusals(localstripe)) as page:
        requests = Requests(page.context)
        await page.goto(session["url"])
        await expect_step(page, "payment")
        alert = page.locator("#payment-error")
        await expect(alert).to_have_attribute("role", "alert")
        # An incomplete card: Stripe refuses to make a token, and the page says so where errors go.
        await fill_stripe_card(page, spaced(SUCCESS[:8]), cvc=None)
        await pay_by_keyboard(page)
        await expect(alert).to_have_text("Check your card details and try again.")
        await expect(page.locator("#announcer")).to_have_text("Check your card details and try again.")
        await expect(page.locator('#card-element input[placeholder="number"]')).to_be_focused()
        await expect(page.locator("#card-element")).to_have_class("card-element invalid")
        await page.keyboard.type("4")  # correcting the card takes its error away
        await expect(alert).to_be_hidden()
        # Declined when the card is checked, then when it is charged.
        for number in (DECLINED, DECLINED_AT_CONFIRM):
            await fill_stripe_card(page, number)
            await pay_by_keyboard(page)
            await expect(alert).to_have_text(DECLINED_TEXT)
            await expect(alert).to_be_focused()
        await screenshot(page, "stripe-declined-1280", full_page=True)
        await axe_check(page, "stripe declined")
        await fill_stripe_card(page, SUCCESS)
        await pay_by_keyboard(page)
        await page.wait_for_url(session["successUrl"])
    requests.assert_no_card_reached(stripe_kassa.origin, localstripe.url)
    done, payments = await order_of(stripe_kassa, tenant, session["id"])
    assert [p["status"] for p in payments] == ["failed", "failed", "captured"]
    assert [o["id"] for o in (await tenant.get("/api/v1/orders")).json()["data"]] == [done["orderId"]]


async def test_three_d_secure_in_stripes_window_then_the_order(
        browser: Any, stripe_kassa: KassaWeb, localstripe: LocalStripe, stripe_storefront: Storefront,
        screenshot: Any) -> None:
    tenant, variant = await stripe_merchant(stripe_kassa, localstripe)
    session = await open_session(tenant, variant, stripe_storefront, collect=PAYMENT_ONLY)
    async with shopper_page(browser) as page:
        requests = Requests(page.context)
        await page.goto(session["url"])
        await fill_stripe_card(page, THREE_D_SECURE)
        await pay_by_keyboard(page)
        complete = page.get_by_role("button", name="Complete authentication")
        await expect(complete).to_be_focused()  # Stripe's window takes the focus
        pay = page.locator("[data-pay]")
        await expect(pay).to_be_disabled()
        await expect(pay).to_have_text("Confirm the payment in your bank's window…")
        await expect(page.locator("#announcer")).to_have_text("Confirm the payment in your bank's window…")
        await screenshot(page, "stripe-3ds-1280")
        await axe_check(page, "stripe 3-D Secure")
        await page.keyboard.press("Enter")
        await page.wait_for_url(session["successUrl"])
    requests.assert_no_card_reached(stripe_kassa.origin, localstripe.url)
    done, payments = await order_of(stripe_kassa, tenant, session["id"])
    assert done["status"] == "complete" and [p["status"] for p in payments] == ["captured"]


async def test_a_failed_authentication_is_shown_and_another_card_pays(
        browser: Any, stripe_kassa: KassaWeb, localstripe: LocalStripe, stripe_storefront: Storefront) -> None:
    tenant, variant = await stripe_merchant(stripe_kassa, localstripe)
    session = await open_session(tenant, variant, stripe_storefront, collect=PAYMENT_ONLY)
    async with shopper_page(browser) as page:
        requests = Requests(page.context)
        await page.goto(session["url"])
        await fill_stripe_card(page, THREE_D_SECURE)
        await pay_by_keyboard(page)
        await expect(page.get_by_role("button", name="Complete authentication")).to_be_focused()
        await page.keyboard.press("Tab")
        await expect(page.get_by_role("button", name="Fail authentication")).to_be_focused()
        await page.keyboard.press("Enter")
        alert = page.get_by_role("alert")
        await expect(alert).to_have_text(AUTH_FAILED_TEXT)
        await expect(alert).to_be_focused()
        await expect(page.locator("[data-pay]")).to_have_text("Pay €49.00")
        await axe_check(page, "stripe authentication failed")
        await fill_stripe_card(page, SUCCESS)
        await pay_by_keyboard(page)
        await page.wait_for_url(session["successUrl"])
    requests.assert_no_card_reached(stripe_kassa.origin, localstripe.url)
    done, payments = await order_of(stripe_kassa, tenant, session["id"])
    assert done["status"] == "complete" and [p["status"] for p in payments] == ["failed", "captured"]


# ---------------------------------------------------------------- embedded through @kassa/embed


async def test_the_embedded_checkout_takes_stripe_cards_and_its_three_d_secure(
        page: Any, stripe_kassa: KassaWeb, localstripe: LocalStripe, stripe_storefront: Storefront,
        screenshot: Any) -> None:
    tenant, variant = await stripe_merchant(stripe_kassa, localstripe)
    requests = Requests(page.context)
    view = await open_checkout(page, stripe_storefront, tenant, variant, collect=PAYMENT_ONLY)
    await expect(view.get_by_role("group", name="Card details").locator("input")).to_have_count(len(MOCK_FIELDS))
    await axe_check(view, "embedded stripe payment")
    pay = view.get_by_role("button", name="Pay")

    # Declined: the parent hears why; then the bank's check fails; then it passes.
    await fill_stripe_card(view, DECLINED)
    await pay_by_keyboard(view)
    error = await wait_event(page, "error")
    assert error["code"] == "payment_declined" and error["message"] == DECLINED_TEXT
    await fill_stripe_card(view, THREE_D_SECURE)
    await pay_by_keyboard(view)
    await expect(view.get_by_role("button", name="Complete authentication")).to_be_focused()
    # The frame grows while Stripe's window is open: the whole window shows, inside the frame.
    for name in ("Complete authentication", "Fail authentication"):
        await expect(view.get_by_role("button", name=name)).to_be_in_viewport(ratio=1)
    await view.get_by_role("button", name="Fail authentication").click()
    await expect(view.get_by_role("alert")).to_have_text(AUTH_FAILED_TEXT)
    assert (await events(page, "error"))[-1]["message"] == AUTH_FAILED_TEXT
    await expect(pay).to_be_enabled()
    await pay_by_keyboard(view)  # the same card again: Stripe's window again, passed this time
    await expect(view.get_by_role("button", name="Complete authentication")).to_be_focused()
    shown = await page.evaluate("() => document.documentElement.scrollHeight")
    await page.set_viewport_size({"width": 1280, "height": shown})  # the whole frame in one picture
    await screenshot(page, "stripe-embedded-3ds-1280")
    await page.keyboard.press("Enter")
    completed = await wait_event(page, "completed")
    await expect(view.locator("[data-terminal=completed]")).to_be_visible()
    session_id = await page.evaluate("window.shop.sessionId")
    assert page.url.startswith(stripe_storefront.origin)  # embedded: no redirect
    requests.assert_no_card_reached(stripe_kassa.origin, localstripe.url)
    done, payments = await order_of(stripe_kassa, tenant, session_id)
    assert done["status"] == "complete" and completed["orderId"] == done["orderId"]
    assert [p["status"] for p in payments] == ["failed", "failed", "captured"]
    assert page.script_errors == []
