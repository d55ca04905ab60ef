"""The merchant dashboard in a real Chromium: a team's merchant with orders, and a page signed in
through the dashboard's own sign-in form as a member of a role (tests/support/team.py makes them)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kassa_platform.auth import create_key
from kassa_platform.db import transaction
from playwright.async_api import expect

from tests.conftest import ADDRESS_DE, Tenant
from tests.support.cards import OK_CARD
from tests.support.checkout_page import AXE
from tests.support.served import KassaWeb
from tests.support.team import Person, Team, add_person, make_team

ROOT = Path(__file__).resolve().parents[2]
DOCS_IMAGES = ROOT / "docs" / "images" / "dashboard"
WIDTHS = {1280: {"width": 1280, "height": 860}, 375: {"width": 375, "height": 760}}


@dataclass
class Merchant:
    team: Team
    tenant: Tenant  # the team's application, with a secret key for setting up data

    async def person(self, application_role: str) -> Person:
        """A workspace member with this role on the application (or the owner for `owner`)."""
        if application_role == "owner":
            return self.team.owner
        return await add_person(self.tenant.backend, self.team, "member", application_role, sign=False)


async def merchant_with_orders(kassa: KassaWeb, emails: list[str]) -> tuple[Merchant, list[dict[str, Any]]]:
    """A workspace (its owner, a test application) with one order per email (2 × 24.50 EUR, 4.90
    shipping and 19 % tax), oldest first."""
    team = await make_team(kassa.backend, sign=False)
    now = kassa.backend.clock.now()
    async with transaction(kassa.backend.runtime.db) as conn:
        secret = await create_key(conn, team.app_id, kind="secret", scopes=["*"], now=now)
        publishable = await create_key(conn, team.app_id, kind="publishable", scopes=None, now=now)
    tenant = Tenant(kassa.backend, team.app_id, secret, publishable)
    await tenant.post("/api/v1/shipping-methods", {"name": "Standard", "prices": {"EUR": 490}, "countries": ["DE"]})
    await tenant.post("/api/v1/tax-rates", {"countryCode": "DE", "rate": "19", "name": "MwSt"})
    variant = (await tenant.product({"EUR": 2450}))["variants"][0]["id"]
    orders = []
    for email in emails:
        address = {**ADDRESS_DE, "firstName": "Ada", "lastName": "Lovelace", "postalCode": "10117"}
        cart = await tenant.cart(lineItems=[{"variantId": variant, "quantity": 2}], customerEmail=email,
                                 shippingAddress=address)
        [method] = (await tenant.get(f"/api/v1/carts/{cart['id']}/shipping-methods")).json()["data"]
        chosen = await tenant.put(f"/api/v1/carts/{cart['id']}/shipping-method", {"shippingMethodId": method["id"]})
        assert chosen.status_code == 200, chosen.text
        session = (await tenant.post("/api/v1/checkout/sessions", {"cartId": cart["id"]})).json()
        done = await tenant.post(f"/api/v1/checkout-sessions/{session['id']}/complete", {"paymentMethod": OK_CARD})
        assert done.status_code == 200, done.text
        orders.append((await tenant.get(f"/api/v1/orders/{done.json()['orderId']}")).json())
    return Merchant(team, tenant), orders


async def sign_in_page(page: Any, kassa: KassaWeb, person: Person) -> None:
    """Signs in through the dashboard's form, as a person does."""
    await page.goto(f"{kassa.origin}/dashboard/")
    await expect(page.get_by_role("heading", name="Sign in to your dashboard")).to_be_visible()
    await page.get_by_label("Email").fill(person.email)
    await page.get_by_label("Password").fill(person.password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()


async def new_page(browser: Any, *, width: int = 1280, locale: str = "en-US") -> tuple[Any, Any]:
    context = await browser.new_context(viewport=WIDTHS[width], locale=locale, timezone_id="Europe/Berlin")
    context.set_default_timeout(10_000)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.script_errors = errors
    return context, page


@asynccontextmanager
async def signed_in(browser: Any, kassa: KassaWeb, person: Person, *, width: int = 1280,
                    locale: str = "en-US") -> AsyncIterator[Any]:
    context, page = await new_page(browser, width=width, locale=locale)
    try:
        if locale.startswith("de"):  # the form speaks the browser's language
            await page.goto(f"{kassa.origin}/dashboard/")
            await page.get_by_label("E-Mail").fill(person.email)
            await page.get_by_label("Passwort").fill(person.password)
            await page.get_by_role("button", name="Anmelden").click()
            await expect(page.get_by_role("button", name="Abmelden")).to_be_visible()
        else:
            await sign_in_page(page, kassa, person)
        yield page
    finally:
        await context.close()


async def open_page(page: Any, kassa: KassaWeb, path: str, heading: str) -> None:
    await page.goto(f"{kassa.origin}/dashboard{path}")
    await expect(page.get_by_role("heading", level=1, name=heading)).to_be_visible()


async def axe_check(page: Any, label: str) -> None:
    """axe-core in the page: no serious or critical violation."""
    if not await page.evaluate("() => !!window.axe"):
        await page.evaluate(AXE.read_text() + "\n;void 0")  # through DevTools: the page's CSP does not govern it
    result = await page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
                                 ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target)}))")
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    assert not bad, f"axe at {label}: {json.dumps(bad, indent=1)}"


async def shoot(page: Any, name: str, width: int) -> Path:
    """The page as a merchant sees it, kept for docs/dashboard.md."""
    DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
    path = DOCS_IMAGES / f"{name}-{width}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
