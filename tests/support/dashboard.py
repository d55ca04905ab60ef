"""The merchant dashboard in a real Chromium: a merchant with orders, and a signed-in page per role.

`signed_in(browser, tenant, role=…)` opens the dashboard as a member of that role. Until the team
service's sessions are merged into this branch, the page's session and permission answers come from
`STAND_IN` below and its API calls carry a key with exactly the role's scopes, so the server still
decides what the role may do (a refused call is the server's 403, never the page's).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from playwright.async_api import expect

from tests.conftest import ADDRESS_DE, Tenant, make_tenant
from tests.support.cards import OK_CARD
from tests.support.checkout_page import AXE
from tests.support.served import KassaWeb

ROOT = Path(__file__).resolve().parents[2]
DOCS_IMAGES = ROOT / "docs" / "images" / "dashboard"
WIDTHS = {1280: {"width": 1280, "height": 860}, 375: {"width": 375, "height": 760}}

READ = ["orders:read", "carts:read", "checkout:read", "settings:read", "promotions:read", "customers:read",
        "payments:read", "application:read", "catalog:read"]
# The scopes each role's sessions carry (the team service's table decides for real).
ROLE_SCOPES: dict[str, list[str]] = {
    "admin": ["*"],
    "developer": [*READ, "webhooks:manage", "keys:read", "keys:write", "settings:write"],
    "finance": [*READ, "orders:write"],
    "viewer": READ,
}
ROLE_PERMISSIONS = {"admin": ["members:read", "members:invite"], "developer": ["members:read"],
                    "finance": ["members:read"], "viewer": ["members:read"]}


async def merchant_with_orders(kassa: KassaWeb, emails: list[str]) -> tuple[Tenant, list[dict[str, Any]]]:
    """A test application with one order per email (2 × 24.50 EUR, shipping and 19 % tax), oldest first."""
    tenant = await make_tenant(kassa.backend)
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
        done = await tenant.post(f"/api/v1/checkout-sessions/{session['id']}/complete",
                                 {"paymentMethod": OK_CARD})
        assert done.status_code == 200, done.text
        orders.append((await tenant.get(f"/api/v1/orders/{done.json()['orderId']}")).json())
    return tenant, orders


@asynccontextmanager
async def signed_in(browser: Any, kassa: KassaWeb, tenant: Tenant, *, role: str = "admin", width: int = 1280,
                    locale: str = "en-US", name: str = "Ada Lovelace") -> AsyncIterator[Any]:
    context = await browser.new_context(viewport=WIDTHS[width], locale=locale, timezone_id="Europe/Berlin")
    context.set_default_timeout(10_000)
    key = await tenant.scoped_key(ROLE_SCOPES[role])
    session = {"user": {"id": "user_standin", "email": f"{role}@example.com", "name": name}, "csrfToken": "csrf",
               "workspaces": [{"id": "ws_standin", "name": "Nordlicht GmbH", "role": role,
                               "applications": [{"id": tenant.app_id, "name": "Nordlicht (test)", "role": role}]}]}
    permissions = {"workspaceRole": role, "applicationRole": role, "scopes": ROLE_SCOPES[role],
                   "permissions": ROLE_PERMISSIONS[role]}

    async def route(request_route: Any) -> None:
        request = request_route.request
        path = request.url.split(kassa.origin, 1)[-1].split("?")[0]
        if path == "/api/v1/auth/session":
            await request_route.fulfill(status=200, content_type="application/json", body=json.dumps(session))
        elif path == "/api/v1/auth/permissions":
            await request_route.fulfill(status=200, content_type="application/json", body=json.dumps(permissions))
        else:
            await request_route.continue_(headers={**request.headers, "authorization": f"Bearer {key}"})

    await context.route(f"{kassa.origin}/api/v1/**", route)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.script_errors = errors
    try:
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
