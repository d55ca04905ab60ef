"""The embedded checkout in a real Chromium: a storefront page on a second origin mounts Kassa's
checkout with @kassa/embed loaded from Kassa's `/embed/v1/` path (storefront.CHECKOUT_PAGE, ten
lines), its backend creating the session and the embed token with the merchant's secret key.

What the parent page hears is what @kassa/embed routed to its callbacks (`window.shop.events`);
what the shopper does is typed on the keyboard into the frame. The page's own behaviour at the top
level is tests/browser/test_hosted_page.py; the helpers both use are tests/support/checkout_page.py.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from kassa_webhooks import jobs
from playwright.async_api import expect

from tests.support.browser import browser_page
from tests.support.checkout_page import (  # noqa: F401  (InFrame, events, pay_with, wait_event: imported from here too)
    CHALLENGE_CARD,
    DECLINED_CARD,
    GOOD_CARD,
    InFrame,
    assert_fits,
    axe_check,
    events,
    fill_card,
    merchant,
    open_checkout,
    pay_with,
    tab_to,
    wait_event,
    walk_to_payment,
)
from tests.support.served import KassaWeb
from tests.support.storefront import CHECKOUT_PAGE, Storefront
from tests.webhooks.receiver import Receiver

PAYMENT_ONLY = {"shippingAddress": False, "billingAddress": False}


async def deliver(kassa: KassaWeb, receiver: Receiver, event_type: str) -> dict[str, Any]:
    """Relay the outbox and deliver now, until an event of `event_type` arrived."""
    ctx = kassa.backend.runtime.job_context()
    for _ in range(10):
        await jobs.relay_outbox(ctx)
        await jobs.deliver_webhooks(ctx)
        with contextlib.suppress(TimeoutError):
            await receiver.wait_for(1, timeout=1)
        found = [d.event for d in receiver.ok() if d.event["type"] == event_type]
        if found:
            return found[0]
    raise AssertionError(f"no {event_type} delivered: {[d.event['type'] for d in receiver.ok()]}")


@pytest.mark.parametrize("width", [1280, 375])
async def test_every_step_by_keyboard_then_the_parent_hears_completed(
        browser: Any, kassa: KassaWeb, storefront: Storefront, screenshot: Any, width: int) -> None:
    tenant, variant = await merchant(kassa, branding={"displayName": "Nordlicht Coffee", "primaryColor": "#0b5d4b"})
    receiver = await Receiver().start()
    try:
        async with browser_page(browser, width) as page:
            endpoint = (await tenant.post("/api/v1/webhook-endpoints", {"url": receiver.url,
                                                                        "enabledEvents": ["order.created"]})).json()
            receiver.secrets.append(endpoint["secret"])
            view = await open_checkout(page, storefront, tenant, variant)

            async def shoot(_: Any, name: str, **__: Any) -> None:  # the storefront, with the checkout in it
                await assert_fits(view, name)
                # The whole page in the viewport (a full-page capture leaves a cross-origin frame's lower part blank).
                tall = await page.evaluate("() => document.documentElement.scrollHeight")
                await page.set_viewport_size({"width": width, "height": tall})
                await page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
                await screenshot(page, name)
                await page.set_viewport_size({"width": width, "height": 800})

            await walk_to_payment(view, shots=f"embedded-{width}", screenshot=shoot, axe=True)
            await pay_with(view, GOOD_CARD)
            completed = await wait_event(page, "completed")
            await expect(page.frame_locator("#checkout iframe").locator("[data-terminal=completed]")).to_be_visible()
            await axe_check(view, "completed")
            await shoot(page, f"embedded-{width}-completed")
            steps = [e["step"] for e in await events(page, "step")]
            assert steps == ["contact", "shipping", "shipping_method", "payment"]
            assert [e["type"] for e in await events(page)][0] == "ready"
            session_id = await page.evaluate("window.shop.sessionId")
            assert page.url.startswith(storefront.origin)  # embedded: the shop's page stays, no redirect

            session = (await tenant.get(f"/api/v1/checkout/sessions/{session_id}")).json()
            assert session["status"] == "complete" and completed["orderId"] == session["orderId"]
            assert completed["sessionId"] == session_id
            order = (await tenant.get(f"/api/v1/orders/{session['orderId']}")).json()
            assert order["customerEmail"] == "ada@example.com" and order["shippingAddress"]["city"] == "Berlin"
            assert (await tenant.get(f"/api/v1/carts/{session['cartId']}")).json()["status"] == "converted"
            event = await deliver(kassa, receiver, "order.created")
            assert event["data"]["orderId"] == session["orderId"] and event["data"]["sessionId"] == session_id
    finally:
        await receiver.stop()
    assert not page.script_errors, page.script_errors


async def test_a_declined_card_shows_the_reason_and_a_good_card_then_pays_once(
        page: Any, kassa: KassaWeb, storefront: Storefront) -> None:
    tenant, variant = await merchant(kassa)
    view = await open_checkout(page, storefront, tenant, variant, collect=PAYMENT_ONLY)
    await pay_with(view, DECLINED_CARD)
    error = await wait_event(page, "error")
    assert error["code"] == "payment_declined"
    reason = view.locator("#payment-error")
    await expect(reason).to_be_visible()
    await expect(reason).to_contain_text("declined")
    await axe_check(view, "declined")
    await pay_with(view, GOOD_CARD)
    completed = await wait_event(page, "completed")
    session_id = await page.evaluate("window.shop.sessionId")
    payments = (await tenant.get(f"/api/v1/checkout/sessions/{session_id}/payments")).json()["data"]
    assert [p["status"] for p in payments] == ["failed", "captured"]
    orders = (await tenant.get("/api/v1/orders")).json()["data"]
    assert [o["id"] for o in orders] == [completed["orderId"]]


async def test_the_second_step_card_passes_its_challenge(page: Any, kassa: KassaWeb, storefront: Storefront) -> None:
    tenant, variant = await merchant(kassa)
    view = await open_checkout(page, storefront, tenant, variant, collect=PAYMENT_ONLY)
    await pay_with(view, CHALLENGE_CARD)
    approve = view.locator("[data-challenge-approve]")
    await expect(approve).to_be_visible()
    await axe_check(view, "challenge")
    await tab_to(view, "[data-challenge-approve]")
    await view.keyboard.press("Enter")
    completed = await wait_event(page, "completed")
    session_id = await page.evaluate("window.shop.sessionId")
    session = (await tenant.get(f"/api/v1/checkout/sessions/{session_id}")).json()
    assert session["status"] == "complete" and session["orderId"] == completed["orderId"]
    assert await events(page, "error") == []


async def test_billing_adds_its_step_and_a_payment_only_session_shows_payment_alone(
        page: Any, kassa: KassaWeb, storefront: Storefront) -> None:
    tenant, variant = await merchant(kassa)
    view = await open_checkout(page, storefront, tenant, variant,
                               collect={"shippingAddress": True, "billingAddress": True})
    await walk_to_payment(view, billing=True, axe=True)
    assert [e["step"] for e in await events(page, "step")] == ["contact", "shipping", "shipping_method", "billing",
                                                                "payment"]

    view = await open_checkout(page, storefront, tenant, variant, collect=PAYMENT_ONLY)
    assert await view.locator("[data-step]").evaluate_all("els => els.map(e => e.dataset.step)") == ["payment"]
    assert [e["step"] for e in await events(page, "step")] == ["payment"]
    await expect(view.locator('[data-step="payment"] form')).to_be_visible()
    await axe_check(view, "payment only")


async def test_the_parents_submit_disabled_holds_a_complete_form_back(
        page: Any, kassa: KassaWeb, storefront: Storefront) -> None:
    tenant, variant = await merchant(kassa)
    view = await open_checkout(page, storefront, tenant, variant, collect=PAYMENT_ONLY)
    pay = view.get_by_role("button", name="Pay")
    await page.evaluate("() => window.shop.checkout.setSubmitDisabled(true)")
    await fill_card(view, GOOD_CARD)
    await expect(pay).to_be_disabled()  # complete, but the shop says not yet
    await view.locator("#card-cvc").press("Enter")  # submitting by keyboard does not get around it
    await page.evaluate("() => window.shop.checkout.setSubmitDisabled(false)")
    await expect(pay).to_be_enabled()
    assert await events(page, "completed") == []
    await page.evaluate("() => window.shop.checkout.setSubmitDisabled(true)")
    await expect(pay).to_be_disabled()
    await view.locator("#card-number").fill("4242")  # incomplete: the page's own rule
    await page.evaluate("() => window.shop.checkout.setSubmitDisabled(false)")
    await expect(pay).to_be_disabled()


# A page of another origin, inside the shop's page, that tries to talk to both sides.
FORGER = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Ad</title></head><body><p>Ad</p><script>
const sid = new URLSearchParams(location.search).get('session');
const checkout = parent.frames[0];
checkout.postMessage({ type: 'kassa.submitDisabled', sessionId: sid, disabled: true }, '*');
for (const type of ['kassa.completed', 'kassa.step.changed', 'kassa.resize', 'kassa.error'])
  parent.postMessage({ type, sessionId: sid, orderId: 'ord_forged', step: 'billing', height: 5, code: 'x', message: 'x' }, '*');
parent.postMessage('forger-done', '*');
</script></body></html>"""


async def test_foreign_origins_can_neither_frame_the_checkout_nor_talk_to_either_side(
        page: Any, kassa: KassaWeb, storefront: Storefront) -> None:
    tenant, variant = await merchant(kassa)
    view = await open_checkout(page, storefront, tenant, variant, collect=PAYMENT_ONLY)
    session_id = await page.evaluate("window.shop.sessionId")
    await fill_card(view, GOOD_CARD)
    pay = view.get_by_role("button", name="Pay")
    await expect(pay).to_be_enabled()
    before = await events(page)
    height = await page.evaluate("() => document.querySelector('#checkout iframe').style.height")

    # Messages from a foreign origin, both ways: the parent ignores them, and so does the checkout.
    storefront.add_page("/forger.html", FORGER)
    await page.evaluate("""([src]) => { window.forgerDone = false;
        addEventListener('message', (e) => { if (e.data === 'forger-done') window.forgerDone = true; });
        const f = document.createElement('iframe'); f.src = src; f.title = 'Ad'; document.body.append(f); }""",
                        [f"{storefront.foreign_origin}/forger.html?session={session_id}"])
    await page.wait_for_function("() => window.forgerDone")
    # Every message sent to the checkout before now has been handled once its own queue is flushed.
    await view.frame.evaluate("() => new Promise((r) => { addEventListener('message', r, {once: true}); postMessage('flush', location.origin); })")
    assert await events(page) == before
    assert await page.evaluate("() => document.querySelector('#checkout iframe').style.height") == height
    await expect(pay).to_be_enabled()

    # The checkout framed by a page whose origin the token does not name: the browser refuses it.
    async def token_for_the_shop(body: dict[str, Any], _origin: str) -> tuple[int, Any]:
        answer = await tenant.post("/api/v1/checkout-sessions/embed-token",
                                   {"sessionId": body["sessionId"], "origin": storefront.origin})
        return answer.status_code, answer.json()

    other = await tenant.cart(lineItems=[{"variantId": variant, "quantity": 1}])
    storefront.allow_cart(other["id"], tenant.secret_key)
    storefront.routes["/embed-token"] = token_for_the_shop
    try:
        await page.add_init_script("""window.frameLoads = 0;
            document.addEventListener('load', (e) => { if (e.target.tagName === 'IFRAME') window.frameLoads++; }, true);""")
        await page.goto(storefront.checkout_url(origin=storefront.foreign_origin, cart=other["id"]))
        await page.wait_for_function("() => window.frameLoads > 0")
    finally:
        del storefront.routes["/embed-token"]
    assert await page.evaluate("() => window.shop.events") == []  # no ready, nothing
    framed = [f.url for f in page.frames[1:]]
    assert framed and not any(url.startswith(kassa.origin) for url in framed), framed


async def test_a_checkout_that_never_loads_is_reported_after_the_load_timeout(
        page: Any, kassa: KassaWeb, storefront: Storefront, screenshot: Any) -> None:
    """A shop whose own CSP leaves Kassa out of `frame-src` never hears `kassa.ready`: after
    `loadTimeoutMs` the embed tells the shop (`onError`: `embed_load_timeout`, once), so the shop can
    say so instead of leaving an empty box."""
    tenant, variant = await merchant(kassa)
    cart = await tenant.cart(lineItems=[{"variantId": variant, "quantity": 1}])
    storefront.allow_cart(cart["id"], tenant.secret_key, collect=PAYMENT_ONLY)
    strict = CHECKOUT_PAGE.replace("__KASSA__", storefront.kassa_origin).replace(
        "<head>", """<head><meta http-equiv="Content-Security-Policy" content="frame-src 'self'">""")
    url = storefront.add_page("/checkout-strict.html", strict)
    await page.goto(f"{url}?cart={cart['id']}&loadTimeoutMs=1500")
    error = await wait_event(page, "error")
    assert error == {"type": "error", "code": "embed_load_timeout",
                     "message": "The checkout did not load within 1500 ms"}
    await screenshot(page, "embed-load-timeout")
    await page.wait_for_timeout(300)
    assert [e["type"] for e in await events(page)] == ["error"]  # once, and never ready
    assert storefront.token_requests.count(await page.evaluate("window.shop.sessionId")) == 1

    # The same shop without the CSP mistake, and the same short limit: ready in time, no error.
    cart = await tenant.cart(lineItems=[{"variantId": variant, "quantity": 1}])
    storefront.allow_cart(cart["id"], tenant.secret_key, collect=PAYMENT_ONLY)
    await page.goto(storefront.checkout_url(cart=cart["id"], loadTimeoutMs="10000"))
    await wait_event(page, "ready")
    await page.wait_for_timeout(300)
    assert "error" not in [e["type"] for e in await events(page)]
