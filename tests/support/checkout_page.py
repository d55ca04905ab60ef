"""What the browser tests of the checkout page share: a merchant and its sessions, walking the steps
by keyboard, axe-core, a shopper's page that fails on any script error or unexpected refusal, and
the checkout framed by a storefront through @kassa/embed (`InFrame`, `open_checkout`, its events)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from playwright.async_api import expect

from tests.conftest import Tenant, make_tenant
from tests.support import cards
from tests.support.browser import browser_page
from tests.support.cards import spaced
from tests.support.served import KassaWeb
from tests.support.storefront import Storefront

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "sdk" / "js" / "node_modules" / "axe-core" / "axe.min.js"
DOCS_IMAGES = ROOT / "docs" / "images" / "checkout"
# As shoppers type them on the page.
GOOD_CARD, DECLINED_CARD, NO_FUNDS_CARD, CHALLENGE_CARD = (spaced(cards.GOOD), spaced(cards.DECLINED),
                                                          spaced(cards.NO_FUNDS), spaced(cards.CHALLENGE))


async def merchant(kassa: KassaWeb, *, branding: dict[str, Any] | None = None) -> tuple[Tenant, str]:
    tenant = await make_tenant(kassa.backend)
    for name, price in (("Standard", 490), ("Express", 990)):
        answer = await tenant.post("/api/v1/shipping-methods", {"name": name, "prices": {"EUR": price},
                                                                "countries": ["DE"]})
        assert answer.status_code == 201, answer.text
    await tenant.post("/api/v1/tax-rates", {"countryCode": "DE", "rate": "19", "name": "MwSt"})
    if branding is not None:
        answer = await tenant.put("/api/v1/embed-config", {"branding": branding})
        assert answer.status_code == 200, answer.text
    product = await tenant.product({"EUR": 2450})
    return tenant, product["variants"][0]["id"]


async def open_session(tenant: Tenant, variant: str, storefront: Storefront | None = None, **body: Any) -> dict[str, Any]:
    cart = await tenant.cart(lineItems=[{"variantId": variant, "quantity": 2}])
    if storefront is not None:
        body.setdefault("successUrl", storefront.add_page(f"/thanks-{cart['id']}", "<!doctype html><title>Thanks"
                                                          "</title><h1>Thanks for your order</h1>"))
        body.setdefault("cancelUrl", storefront.origin + "/cart")
    answer = await tenant.post("/api/v1/checkout/sessions", {"cartId": cart["id"], **body})
    assert answer.status_code == 201, answer.text
    return answer.json()


async def tab_to(page: Any, selector: str, *, limit: int = 40) -> None:
    """Press Tab until `selector` has the focus (as a keyboard user moves through the page)."""
    for _ in range(limit):
        if await page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return
        await page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


async def type_field(page: Any, selector: str, text: str) -> None:
    await tab_to(page, selector)
    await page.keyboard.type(text)


async def axe_check(page: Any, label: str) -> None:
    """axe-core in the page: no serious or critical violation."""
    if not await page.evaluate("() => !!window.axe"):
        # Evaluated through the DevTools protocol, which the page's CSP (no inline script) does not govern.
        await page.evaluate(AXE.read_text() + "\n;void 0")
    result = await page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
                                 ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target)}))")
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    assert not bad, f"axe at {label}: {json.dumps(bad, indent=1)}"


async def expect_step(page: Any, step: str) -> None:
    await expect(page.locator(f'[data-step="{step}"]')).to_have_attribute("data-state", "current")


async def fill_address(page: Any, prefix: str) -> None:
    await type_field(page, f"#{prefix}-first-name", "Ada")
    await type_field(page, f"#{prefix}-last-name", "Lovelace")
    await type_field(page, f"#{prefix}-line1", "Unter den Linden 1")
    await type_field(page, f"#{prefix}-postal-code", "10117")
    await type_field(page, f"#{prefix}-city", "Berlin")
    await tab_to(page, f"#{prefix}-country")
    await page.keyboard.type("Germany")  # a focused select picks the option typed
    await expect(page.locator(f"#{prefix}-country")).to_have_value("DE")
    await tab_to(page, f'[data-form="{"shipping" if prefix == "shipping" else "billing"}"] button[type=submit]')
    await page.keyboard.press("Enter")


async def fill_card(page: Any, number: str) -> None:
    await page.locator("#card-number").fill("")
    await type_field(page, "#card-number", number)
    await page.locator("#card-exp").fill("")
    await type_field(page, "#card-exp", "12 / 30")
    await page.locator("#card-cvc").fill("")
    await type_field(page, "#card-cvc", "123")


async def walk_to_payment(page: Any, *, shots: str | None = None, screenshot: Any = None, axe: bool = False,
                          billing: bool = False) -> None:
    """Contact → shipping → shipping method (→ billing) by keyboard, checking each step."""
    async def checkpoint(step: str) -> None:
        await expect_step(page, step)
        if axe:
            await axe_check(page, step)
        if shots:
            await screenshot(page, f"{shots}-{step}", full_page=True)

    await checkpoint("contact")
    await type_field(page, "#email", "ada@example.com")
    await page.keyboard.press("Enter")
    await checkpoint("shipping")
    await fill_address(page, "shipping")
    await expect_step(page, "shipping_method")
    await expect(page.get_by_label("Standard")).to_be_visible()
    await checkpoint("shipping_method")
    await tab_to(page, "input[name=shippingMethodId]")
    await page.keyboard.press("Space")
    await expect(page.locator("#summary")).to_contain_text("Standard")
    await tab_to(page, '[data-form="shipping_method"] button[type=submit]')
    await page.keyboard.press("Enter")
    if billing:
        await checkpoint("billing")
        await tab_to(page, "#billing-same")
        await page.keyboard.press("Space")  # a billing address of its own
        await fill_address(page, "billing")
    await checkpoint("payment")


async def order_of(kassa: KassaWeb, tenant: Tenant, session_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    session = (await tenant.get(f"/api/v1/checkout/sessions/{session_id}")).json()
    payments = (await tenant.get(f"/api/v1/checkout/sessions/{session_id}/payments")).json()["data"]
    return session, payments


@asynccontextmanager
async def shopper_page(browser: Any, width: int = 1280, locale: str = "en-US", *,
                       refusals_shown: bool = True, allowed: Callable[[Any], bool] | None = None) -> AsyncIterator[Any]:
    """A page in a context of its own; closed afterwards, and then no script error and no failed
    request may have happened (except, when `refusals_shown`, the 402/422 refusals the page shows,
    and the responses `allowed` accepts)."""
    async with browser_page(browser, width, locale=locale) as page:
        errors: list[str] = page.script_errors
        page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
                if r.status >= 400
                and not (refusals_shown and r.status in (402, 422) and "/s/" in r.url)
                and not (allowed is not None and allowed(r)) else None)
        yield page
    assert not errors, errors


async def pay_by_keyboard(page: Any) -> None:
    await tab_to(page, "[data-pay]")
    await page.keyboard.press("Enter")


class InFrame:
    """The checkout frame with the top page's keyboard: what test_hosted_page's helpers use of a page."""

    def __init__(self, page: Any, frame: Any) -> None:
        self.page, self.frame, self.keyboard = page, frame, page.keyboard

    def __getattr__(self, name: str) -> Any:
        return getattr(self.frame, name)


async def open_checkout(page: Any, storefront: Storefront, tenant: Tenant, variant: str, **session: Any) -> InFrame:
    """A cart of two, the shop's checkout page for it, and the frame once the checkout said ready."""
    cart = await tenant.cart(lineItems=[{"variantId": variant, "quantity": 2}])
    storefront.allow_cart(cart["id"], tenant.secret_key, **session)
    await page.goto(storefront.checkout_url(cart=cart["id"]))
    await page.wait_for_function("() => window.shop && window.shop.events.some(e => e.type === 'ready')")
    frame = page.frame_locator("#checkout iframe")
    await expect(frame.locator("[data-step]").first).to_be_visible()
    return InFrame(page, next(f for f in page.frames if f.url.startswith(storefront.kassa_origin + "/s/")))


async def events(page: Any, type_: str | None = None) -> list[dict[str, Any]]:
    found = await page.evaluate("() => window.shop.events")
    return [e for e in found if type_ is None or e["type"] == type_]


async def wait_event(page: Any, type_: str) -> dict[str, Any]:
    # (window.shop exists once the page's backend made the session)
    await page.wait_for_function("t => window.shop && window.shop.events.some(e => e.type === t)", arg=type_)
    return (await events(page, type_))[-1]


async def pay_with(view: InFrame, card: str) -> None:
    await fill_card(view, card)
    await expect(view.get_by_role("button", name="Pay")).to_be_enabled()
    await tab_to(view, "[data-pay]")
    await view.keyboard.press("Enter")


async def assert_fits(view: InFrame, label: str) -> None:
    """The iframe is as tall as the checkout's content: nothing scrolls inside it, nothing is left blank."""
    content = "() => Math.ceil(document.documentElement.getBoundingClientRect().height)"
    height = await view.frame.evaluate(content)
    # kassa.resize is applied by the parent as it arrives: wait for the content's current height.
    await view.page.wait_for_function(
        "h => Math.abs(document.querySelector('#checkout iframe').getBoundingClientRect().height - h) <= 1", arg=height)
    assert await view.frame.evaluate(content) == height, f"{label}: the content moved while measured"
    scroll = await view.frame.evaluate("() => [document.documentElement.scrollHeight, innerHeight,"
                                       " document.documentElement.scrollWidth, innerWidth]")
    assert scroll[0] <= scroll[1], f"{label}: the frame scrolls ({scroll[0]} > {scroll[1]} px)"
    assert scroll[2] <= scroll[3], f"{label}: the frame scrolls sideways ({scroll[2]} > {scroll[3]} px)"
