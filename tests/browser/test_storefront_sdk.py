"""A storefront on another loopback origin, written with @kassa/js and @kassa/react (the example app
of sdk/js/examples/storefront, bundled as a shop would bundle it), builds a cart with a publishable
key and mounts the embedded checkout; Kassa's browser access is enforced per application."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Tenant, make_tenant
from tests.sdk_js.conftest import JS, js_build  # noqa: F401 - the fixture: packages built once per run
from tests.support.served import KassaWeb
from tests.support.storefront import Storefront

ADDRESS = {"firstName": "Ada", "addressLine1": "Unter den Linden 1", "postalCode": "10117", "city": "Berlin",
           "countryCode": "DE"}
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Example shop</title></head>
<body><div id="root"></div>
<script type="application/json" id="shop-config">__CONFIG__</script>
<script type="module" src="/example-shop.js"></script>
</body></html>"""


@pytest.fixture(scope="session")
def example_app(js_build: Path) -> bytes:  # noqa: F811
    """The example storefront bundled for the browser (esbuild, as a shop's bundler would)."""
    done = subprocess.run([str(JS / "node_modules" / ".bin" / "esbuild"), "examples/storefront/src/main.tsx",
                           "--bundle", "--minify", "--format=esm", "--platform=browser", "--target=es2020",
                           "--jsx=automatic", '--define:process.env.NODE_ENV="production"', "--log-level=error"],
                          cwd=JS, capture_output=True, check=True)
    return done.stdout


async def open_shop(page: Any, storefront: Storefront, example_app: bytes, tenant: Tenant, *, origin: str,
                    variant: str) -> None:
    """Serve the example shop for `tenant` (its backend creates sessions and embed tokens with the
    tenant's secret key) and open it on `origin`."""
    backend = f"/backend/{tenant.app_id}"
    client = storefront.client
    assert client is not None
    headers = {"Authorization": f"Bearer {tenant.secret_key}"}

    async def session(body: dict[str, Any], _origin: str) -> tuple[int, dict[str, Any]]:
        answer = await client.post("/api/v1/checkout/sessions", json={"cartId": body["cartId"]}, headers=headers)
        return answer.status_code, answer.json()

    async def embed_token(body: dict[str, Any], page_origin: str) -> tuple[int, dict[str, Any]]:
        answer = await client.post("/api/v1/checkout-sessions/embed-token", headers=headers,
                                   json={"sessionId": body["sessionId"], "origin": page_origin})
        return answer.status_code, answer.json()

    storefront.routes[f"{backend}/session"] = session
    storefront.routes[f"{backend}/embed-token"] = embed_token
    storefront.add_page("/example-shop.js", example_app, "text/javascript; charset=utf-8")
    config = {"kassaUrl": storefront.kassa_origin, "publishableKey": tenant.publishable_key, "backendUrl": backend,
              "variantId": variant, "address": ADDRESS}
    path = f"/shop-{tenant.app_id}.html"
    storefront.add_page(path, PAGE.replace("__CONFIG__", json.dumps(config)))
    await page.goto(origin + path)


async def text(page: Any, selector: str) -> str:
    return (await page.text_content(selector)) or ""


async def merchant(kassa: KassaWeb, environment: str = "test") -> tuple[Tenant, str]:
    tenant = await make_tenant(kassa.backend, environment)
    await tenant.post("/api/v1/shipping-methods", {"name": "DHL", "prices": {"EUR": 490}, "countries": ["DE"]})
    return tenant, await tenant.variant({"EUR": 1800})


async def test_a_storefront_builds_its_cart_in_the_browser_and_mounts_the_checkout(
        page: Any, kassa: KassaWeb, storefront: Storefront, example_app: bytes) -> None:
    tenant, variant = await merchant(kassa)
    await tenant.put("/api/v1/embed-config", {"allowedOrigins": [storefront.origin]})
    await open_shop(page, storefront, example_app, tenant, origin=storefront.origin, variant=variant)

    await page.click("#add")
    await page.wait_for_function("document.querySelector('#items')?.textContent === '2'")
    await page.click("#address")
    await page.click("[data-method]")
    await page.wait_for_function("document.querySelector('#shipping')?.textContent === 'DHL'")
    cart_id = await page.evaluate("sessionStorage.getItem('shop.cart')")
    cart = (await tenant.get(f"/api/v1/carts/{cart_id}")).json()
    assert cart["itemCount"] == 2 and cart["shippingMethod"]["name"] == "DHL"
    assert await text(page, "#total") == f"€{cart['total'] / 100:,.2f}"  # the page shows the server's figure

    # What the browser itself allows: a browser route with a key passed its preflight (the calls
    # above); a secret-key route's preflight is refused, so the call never leaves the browser.
    refused = await page.evaluate("""async ([base, key]) => {
        try { await fetch(base + '/api/v1/orders', {headers: {Authorization: 'Bearer ' + key}}); return 'sent'; }
        catch (e) { return e.name; } }""", [kassa.origin, tenant.publishable_key])
    assert refused == "TypeError"

    await page.click("#pay")  # the shop's backend creates the session with its secret key
    await page.wait_for_selector("#session")
    session = (await tenant.get(f"/api/v1/checkout/sessions/{await text(page, '#session')}")).json()
    assert session["cartId"] == cart_id and session["status"] == "open"
    assert page.script_errors == []


async def test_a_foreign_origin_is_refused_on_the_actual_request(page: Any, kassa: KassaWeb, storefront: Storefront,
                                                                example_app: bytes) -> None:
    tenant, variant = await merchant(kassa)
    await tenant.put("/api/v1/embed-config", {"allowedOrigins": [storefront.origin]})
    await open_shop(page, storefront, example_app, tenant, origin=storefront.foreign_origin, variant=variant)
    await page.wait_for_selector("#error")
    assert await text(page, "#error") == "origin_not_allowed"


async def test_a_live_application_without_origins_answers_no_browser(page: Any, kassa: KassaWeb,
                                                                     storefront: Storefront, example_app: bytes) -> None:
    live, variant = await merchant(kassa, "live")
    await open_shop(page, storefront, example_app, live, origin=storefront.origin, variant=variant)
    await page.wait_for_selector("#error")
    assert await text(page, "#error") == "origin_not_allowed"
    # The preflight of a browser route passes (it cannot know the application); the request itself
    # is refused before it runs, with an answer the page can read.
    answer = await page.evaluate("""async ([base, key]) => {
        const r = await fetch(base + '/api/v1/carts', {method: 'POST', headers: {Authorization: 'Bearer ' + key,
            'Content-Type': 'application/json', 'Idempotency-Key': crypto.randomUUID()}, body: '{"currency":"EUR"}'});
        return [r.status, (await r.json()).error.code, r.headers.get('x-request-id') !== null]; }""",
                                 [kassa.origin, live.publishable_key])
    assert answer == [403, "origin_not_allowed", True]
