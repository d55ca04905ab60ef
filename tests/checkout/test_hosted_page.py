"""The hosted checkout page over HTTP (SQLite and PostgreSQL): what it renders for each session, who
may frame it, its assets, locales, branding, money, terminal states, and its own credential."""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kassa_checkout.hosted.money import format_money
from kassa_checkout.hosted.page import palette
from kassa_checkout.hosted.security import safe_image_url
from kassa_contract.money import CURRENCY_EXPONENTS

from tests.conftest import ADDRESS_DE, Tenant, make_tenant
from tests.support.cards import DECLINE_CARD, OK_CARD, THREE_DS_CARD
from tests.support.shop import Shop


async def page(shop: Shop, session_id: str, *, query: str = "", **headers: str) -> httpx.Response:
    return await shop.backend.client.get(f"/s/{session_id}{query}", headers=headers)


def steps_of(html: str) -> list[str]:
    return re.findall(r'<section class="step" data-step="(\w+)"', html)


def boot_of(html: str) -> dict[str, Any]:
    import json

    found = re.search(r'<script type="application/json" id="kassa-page">(.*?)</script>', html, re.S)
    assert found, "no boot data"
    return json.loads(found.group(1))


def csp(response: httpx.Response) -> dict[str, str]:
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] for d in
            (p.strip() for p in response.headers["content-security-policy"].split(";"))}


async def embed_token(shop: Shop, session_id: str, origin: str = "https://shop.example") -> dict[str, Any]:
    answer = await shop.t.post("/api/v1/checkout-sessions/embed-token", {"sessionId": session_id, "origin": origin})
    assert answer.status_code == 201, answer.text
    return answer.json()


async def shipping_method(tenant: Tenant, name: str = "Standard", amount: int = 490) -> dict[str, Any]:
    answer = await tenant.post("/api/v1/shipping-methods", {"name": name, "prices": {"EUR": amount}})
    assert answer.status_code == 201, answer.text
    return answer.json()


# ---------------------------------------------------------------- steps


@pytest.mark.parametrize(("collect", "query", "steps"), [
    (None, "", ["contact", "shipping", "shipping_method", "payment"]),
    ({"shippingAddress": True, "billingAddress": True}, "", ["contact", "shipping", "shipping_method", "billing",
                                                             "payment"]),
    ({"shippingAddress": False, "billingAddress": True}, "", ["contact", "billing", "payment"]),
    ({"shippingAddress": False, "billingAddress": False}, "", ["payment"]),
    ({"shippingAddress": False, "billingAddress": False}, "?mode=payment-only", ["payment"]),  # deprecated
    # deprecated, and skips only what the cart already holds: this empty cart walks every step
    (None, "?mode=payment-only", ["contact", "shipping", "shipping_method", "payment"]),
])
async def test_the_page_renders_the_steps_the_session_collects(shop: Shop, collect: Any, query: str,
                                                                steps: list[str]) -> None:
    session = await shop.session(**({"collect": collect} if collect else {}))
    answer = await page(shop, session["id"], query=query)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert steps_of(answer.text) == steps
    boot = boot_of(answer.text)
    assert boot["steps"] == steps and boot["current"] == steps[0] and boot["sessionId"] == session["id"]
    assert boot["credential"].startswith("kcp_") and boot["embedOrigin"] is None
    # The session's and the cart's secrets never reach the page.
    assert session["clientSecret"] not in answer.text and "_secret_" not in answer.text
    assert re.search(r'<button type="submit" class="primary pay" data-pay disabled>Pay €30\.00</button>', answer.text)


async def test_the_deprecated_payment_only_mode_shows_what_the_cart_holds(shop: Shop) -> None:
    """`?mode=payment-only` on a session that collects shipping: the payment step alone once the cart
    holds the contact, the address and the method (the storefront asked for them), its summary the
    cart's shipping line with its price, on the page and in every answer to the page's calls; never a
    shipping line "calculated at the next step" with no such step. A cart without them walks the steps:
    a payment alone would be refused (`address_required`)."""
    ship = await shipping_method(shop.t)
    camp = (await shop.t.post("/api/v1/campaigns", {"name": "Ten off", "reward": {"type": "fixed_off",
                                                                                   "amounts": {"EUR": 1000}}})).json()
    assert (await shop.t.post(f"/api/v1/campaigns/{camp['id']}/codes", {"code": "TEN"})).status_code == 201
    later = "Calculated at the next step"

    empty = await shop.session()
    html = (await page(shop, empty["id"], query="?mode=payment-only")).text
    assert steps_of(html) == ["contact", "shipping", "shipping_method", "payment"]
    assert boot_of(html)["current"] == "contact" and later in html  # the step that prices it is on the page

    cart = await shop.cart(customerEmail="ada@example.com", shippingAddress=ADDRESS_DE)
    chosen = await shop.t.put(f"/api/v1/carts/{cart['id']}/shipping-method", {"shippingMethodId": ship["id"]})
    assert chosen.status_code == 200, chosen.text
    session = await shop.session(cart["id"])
    html = (await page(shop, session["id"], query="?mode=payment-only")).text
    assert steps_of(html) == ["payment"] and boot_of(html)["steps"] == ["payment"]
    assert re.search(r"Shipping <span class=\"muted\">\(Standard\)</span></dt><dd>€4\.90</dd>", html)
    assert later not in html and "Pay €34.90" in html
    headers = await credential(shop, session["id"])
    applied = await shop.backend.client.post(f"/s/{session['id']}/discount-codes", json={"code": "TEN"},
                                             headers=headers)
    assert applied.status_code == 200, applied.text
    summary = applied.json()["summaryHtml"]
    assert "(Standard)</span></dt><dd>€4.90</dd>" in summary and later not in summary
    assert applied.json()["payLabel"] == "Pay €24.90"
    paid = await shop.backend.client.post(f"/s/{session['id']}/complete", json={"paymentMethod": OK_CARD},
                                          headers=headers)
    assert paid.status_code == 200 and paid.json()["status"] == "complete", paid.text


async def test_a_returning_shopper_starts_at_the_first_step_not_yet_done(shop: Shop) -> None:
    await shipping_method(shop.t)
    cart = await shop.cart(customerEmail="ada@example.com", shippingAddress=ADDRESS_DE)
    session = await shop.session(cart["id"])
    answer = await page(shop, session["id"])
    assert boot_of(answer.text)["current"] == "shipping_method"
    assert 'value="ada@example.com"' in answer.text and 'value="Unter den Linden 1"' in answer.text
    assert re.search(r'data-step="contact" data-state="done"', answer.text)


async def test_fields_are_labelled_with_autocomplete_tokens(shop: Shop) -> None:
    session = await shop.session(collect={"shippingAddress": True, "billingAddress": True})
    html = (await page(shop, session["id"])).text
    for token in ("email", "shipping address-line1", "shipping postal-code", "shipping country", "billing address-line1",
                  "billing postal-code", "billing country", "cc-number", "cc-exp", "cc-csc", "cc-name"):
        assert f'autocomplete="{token}"' in html, token
    ids = re.findall(r'<(?:input|select) id="([\w-]+)"', html)
    assert ids and all(f'<label for="{i}">' in html for i in ids if i != "billing-same") and 'for="billing-same"' in html
    for i in ids:  # every field points at its error slot
        if i != "billing-same":
            assert f'id="{i}-error"' in html and re.search(f'id="{i}"[^>]*aria-describedby="{i}-error', html), i


# ---------------------------------------------------------------- not found, framing


async def test_unknown_and_malformed_ids_get_a_plain_404_page(shop: Shop) -> None:
    for session_id in ("cs_doesnotexist", "nope", "cs_" + "x" * 60):
        answer = await page(shop, session_id)
        assert answer.status_code == 404 and "Checkout not found" in answer.text
        assert "<script" not in answer.text and csp(answer)["frame-ancestors"] == "'none'"


async def test_without_a_token_the_page_cannot_be_framed(shop: Shop) -> None:
    answer = await page(shop, (await shop.session())["id"])
    policy = csp(answer)
    assert policy["frame-ancestors"] == "'none'" and answer.headers["x-frame-options"] == "DENY"
    assert policy["script-src"] == "'self'" and policy["default-src"] == "'none'"
    assert "unsafe-inline" not in answer.headers["content-security-policy"]
    assert "unsafe-eval" not in answer.headers["content-security-policy"]
    assert answer.headers["referrer-policy"] == "no-referrer" and answer.headers["cache-control"] == "no-store"


async def test_a_valid_token_allows_exactly_its_origin(shop: Shop) -> None:
    session = await shop.session()
    token = await embed_token(shop, session["id"])
    assert token["url"] == f"{session['url']}?embed={token['token']}"
    answer = await page(shop, session["id"], query=f"?embed={token['token']}")
    assert answer.status_code == 200 and csp(answer)["frame-ancestors"] == "https://shop.example"
    assert "x-frame-options" not in answer.headers
    assert boot_of(answer.text)["embedOrigin"] == "https://shop.example"
    assert 'class="embedded"' in answer.text


async def test_forged_expired_and_other_session_tokens_get_an_unframable_error_page(shop: Shop) -> None:
    session, other = await shop.session(), await shop.session()
    token = (await embed_token(shop, session["id"]))["token"]
    body, mac = token.split(".")
    foreign_shop = Shop(await make_tenant(shop.backend), "")
    foreign_session = await Shop(foreign_shop.t, await foreign_shop.t.variant({"EUR": 100})).session()
    foreign_token = (await embed_token(foreign_shop, foreign_session["id"]))["token"]
    cases = [
        (session["id"], body + "." + mac[::-1], 403),  # forged
        (session["id"], "garbage", 400),  # malformed
        (other["id"], token, 403),  # another session's token
        (session["id"], foreign_token, 403),  # another application's session's token
    ]
    for session_id, bad, status in cases:
        answer = await page(shop, session_id, query=f"?embed={bad}")
        assert answer.status_code == status, (bad, answer.text)
        assert "<script" not in answer.text and "kcp_" not in answer.text
        assert csp(answer)["frame-ancestors"] == "'none'" and answer.headers["x-frame-options"] == "DENY"
    shop.backend.clock.advance(minutes=16)  # embed tokens live 15 minutes
    try:
        answer = await page(shop, session["id"], query=f"?embed={token}")
    finally:
        shop.backend.clock.advance(minutes=-16)
    assert answer.status_code == 403 and csp(answer)["frame-ancestors"] == "'none'"


# ---------------------------------------------------------------- the payment provider: test or Stripe

TEST_PROVIDER_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
                        "form-action 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'")


async def takes_stripe(shop: Shop, publishable_key: str = "pk_test_page_0123456789") -> None:
    """The application's settings name Stripe (written as the settings API stores them, without asking
    Stripe, which this test's Kassa cannot reach: the page only shows Stripe's fields)."""
    from kassa_checkout.payment_settings import SEALING_PURPOSE
    from kassa_checkout.service import module_of
    from kassa_platform.sealing import Sealer

    runtime = shop.backend.runtime
    sealer = Sealer(runtime.settings.signing_key, SEALING_PURPOSE)
    settings = module_of(runtime).payment_settings
    await settings.rows.save(shop.t.app_id, {
        "provider": "stripe", "capture_method": "automatic", "secret_key": sealer.seal("sk_test_page_0123456789"),
        "secret_key_last4": "6789", "publishable_key": publishable_key}, shop.backend.clock.now(),
        lambda row: settings._view(shop.t.app_id, row))


async def test_the_test_providers_page_keeps_its_own_card_fields_and_policy(shop: Shop) -> None:
    session = await shop.session(collect={"shippingAddress": False, "billingAddress": False})
    answer = await page(shop, session["id"])
    assert answer.headers["content-security-policy"] == TEST_PROVIDER_POLICY
    assert 'autocomplete="cc-number"' in answer.text and "stripe" not in answer.text.lower()
    assert "stripe" not in boot_of(answer.text)


async def test_a_stripe_application_gets_stripes_card_fields_and_exactly_stripes_origins(shop: Shop) -> None:
    await takes_stripe(shop)
    session = await shop.session(allowedMethods=["card", "paypal"])
    answer = await page(shop, session["id"])
    assert answer.status_code == 200, answer.text
    html = answer.text
    # Stripe.js (before the page's script, both deferred: it runs first) and a place for its card fields.
    assert re.search(r'<script src="https://js\.stripe\.com/v3/" defer></script>\s*<script src="/static/checkout/'
                     r'checkout\.\w+\.js" defer>', html)
    assert 'id="card-element"' in html and 'aria-labelledby="card-label"' in html
    assert boot_of(html)["stripe"] == {"publishableKey": "pk_test_page_0123456789"}
    # Kassa's own card inputs are gone: no card number can be typed into Kassa's page; cards only.
    for gone in ('autocomplete="cc-number"', 'id="card-number"', 'id="card-cvc"', 'name="method" value="paypal"'):
        assert gone not in html, gone
    assert 'type="hidden" name="method" value="card"' in html
    assert "sk_test_page" not in html
    policy = csp(answer)
    assert policy["script-src"] == "'self' https://js.stripe.com"
    assert policy["frame-src"] == "https://js.stripe.com https://hooks.stripe.com"
    assert policy["connect-src"] == "'self' https://api.stripe.com"
    assert policy["default-src"] == "'none'" and policy["style-src"] == "'self'" and policy["img-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and answer.headers["x-frame-options"] == "DENY"
    assert "unsafe-inline" not in answer.headers["content-security-policy"]

    # Framed: the same fields and origins, and the token's origin may frame it.
    token = await embed_token(shop, session["id"])
    framed = await page(shop, session["id"], query=f"?embed={token['token']}")
    assert csp(framed)["frame-ancestors"] == "https://shop.example"
    assert csp(framed)["frame-src"] == policy["frame-src"] and 'id="card-element"' in framed.text

    # A page that takes no payment any more loads no script at all, Stripe's included.
    await shop.t.delete(f"/api/v1/checkout/sessions/{session['id']}")
    over = await page(shop, session["id"])
    assert 'data-terminal="cancelled"' in over.text and "<script" not in over.text
    assert "frame-src" not in csp(over) and csp(over)["script-src"] == "'self'"


async def test_another_applications_stripe_settings_change_nothing_for_this_one(shop: Shop) -> None:
    other = Shop(await make_tenant(shop.backend), "")
    await takes_stripe(other)
    session = await shop.session(collect={"shippingAddress": False, "billingAddress": False})
    headers = await credential(shop, session["id"])
    paid = await shop.backend.client.post(f"/s/{session['id']}/complete", json={"paymentMethod": OK_CARD},
                                          headers=headers)
    assert paid.status_code == 200 and paid.json()["status"] == "complete", paid.text


async def test_stripe_js_from_elsewhere_is_allowed_by_its_origin_alone(stripe_kassa: Any, localstripe: Any) -> None:
    from tests.support.stripe_shop import StripeShop

    shop = await StripeShop.open(stripe_kassa, localstripe)
    session = await shop.session()
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.get(session["url"])
    assert answer.status_code == 200, answer.text
    origin = localstripe.url  # http://127.0.0.1:PORT
    policy = csp(answer)
    assert policy["script-src"] == f"'self' {origin}" and policy["connect-src"] == f"'self' {origin}"
    assert policy["frame-src"] == origin
    assert f'<script src="{localstripe.js_url}" defer>' in answer.text
    assert boot_of(answer.text)["stripe"] == {"publishableKey": localstripe.publishable_key}
    assert localstripe.api_key not in answer.text


# ---------------------------------------------------------------- assets


async def test_assets_have_hashed_names_and_are_cached_forever(shop: Shop) -> None:
    html = (await page(shop, (await shop.session())["id"])).text
    urls = re.findall(r'(?:src|href)="(/static/checkout/[^"]+)"', html)
    assert {u.rsplit(".", 1)[1] for u in urls} == {"js", "css", "svg"}
    # the page names its icon (a browser would otherwise ask for /favicon.ico and log the 404)
    assert re.search(r'<link rel="icon" href="/static/checkout/favicon\.[0-9a-f]{12}\.svg" type="image/svg\+xml">',
                     html)
    for url in urls:
        answer = await shop.backend.client.get(url, headers={"accept-encoding": "identity"})
        assert answer.status_code == 200 and "content-encoding" not in answer.headers
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
        digest = url.rsplit("/", 1)[1].split(".")[1]
        assert hashlib.sha256(answer.content).hexdigest()[:12] == digest
        assert answer.headers["content-type"].startswith(
            {"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml"}[url.rsplit(".", 1)[1]])
        zipped = await shop.backend.client.get(url, headers={"accept-encoding": "gzip"})
        assert zipped.headers["content-encoding"] == "gzip" and zipped.content == answer.content  # httpx inflates
    missing = await shop.backend.client.get("/static/checkout/checkout.000000000000.js")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "route_not_found"


# ---------------------------------------------------------------- locales and branding


@pytest.mark.parametrize(("query", "accept", "lang", "heading"), [
    ("", "", "en", "Checkout"),
    ("?locale=de", "", "de", "Kasse"),
    ("", "de-DE,de;q=0.9,en;q=0.8", "de", "Kasse"),
    ("", "fr-FR,fr;q=0.9,en;q=0.5", "en", "Checkout"),
    ("?locale=en", "de", "en", "Checkout"),
    ("?locale=xx", "de", "de", "Kasse"),  # an unknown locale falls back to the browser's
])
async def test_the_locale_comes_from_the_query_or_the_browser(shop: Shop, query: str, accept: str, lang: str,
                                                             heading: str) -> None:
    session = await shop.session()
    answer = await page(shop, session["id"], query=query, **({"accept-language": accept} if accept else {}))
    assert f'<html lang="{lang}"' in answer.text and f'<h1 class="page-title">{heading}</h1>' in answer.text
    assert boot_of(answer.text)["locale"] == lang
    if lang == "de":
        assert "Bezahlen 30,00\xa0€" in answer.text and "Deutschland" in answer.text


async def test_branding_colours_and_logo_are_sanitized(shop: Shop) -> None:
    await shop.t.put("/api/v1/embed-config", {"branding": {"displayName": "Nordlicht <Coffee>",
                                                           "primaryColor": "#FFD500",
                                                           "logoUrl": "https://cdn.example/logo.png"}})
    answer = await page(shop, (await shop.session())["id"])
    assert "Nordlicht &lt;Coffee&gt;" in answer.text
    nonce = re.search(r'<style nonce="([^"]+)">:root\{--brand:#ffd500;--on-brand:#111111;--brand-ink:#1f2328\}',
                      answer.text)
    assert nonce, "brand colours"
    policy = csp(answer)
    assert policy["style-src"] == f"'self' 'nonce-{nonce.group(1)}'" and policy["img-src"] == "'self' https://cdn.example"
    assert '<img class="logo" src="https://cdn.example/logo.png"' in answer.text



@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:image/png;base64,AAAA", "/static/x.png", "//evil.example/x",
                                 'https://cdn.example/x.png" onerror="alert(1)', "https:///nohost", "ftp://x.example/a"])
def test_logo_urls_other_than_absolute_http_are_dropped(url: str) -> None:
    assert safe_image_url(url) is None
    assert safe_image_url("https://cdn.example/logo.png") == "https://cdn.example/logo.png"


def test_brand_palettes_keep_text_readable() -> None:
    assert palette("#0B5D4B") == {"brand": "#0b5d4b", "on_brand": "#ffffff", "ink": "#0b5d4b"}
    assert palette("#ffd500")["on_brand"] == "#111111" and palette("#ffd500")["ink"] == "#1f2328"


# ---------------------------------------------------------------- money


@pytest.mark.parametrize(("amount", "currency", "locale", "text"), [
    (123456, "EUR", "en", "€1,234.56"), (123456, "EUR", "de", "1.234,56\xa0€"),
    (1234, "JPY", "en", "¥1,234"), (1234, "JPY", "de", "1.234\xa0¥"),
    (1234, "KWD", "en", "KWD\xa01.234"), (1234, "KWD", "de", "1,234\xa0KWD"),
    (-500, "EUR", "en", "-€5.00"), (0, "USD", "en", "$0.00"),
])
def test_money_is_formatted_by_exponent_and_locale(amount: int, currency: str, locale: str, text: str) -> None:
    assert format_money(amount, currency, locale) == text


@settings(max_examples=300, deadline=None)
@given(amount=st.integers(min_value=-10**12, max_value=10**12), currency=st.sampled_from(sorted(CURRENCY_EXPONENTS)),
       locale=st.sampled_from(["en", "de"]))
def test_formatted_money_shows_every_minor_unit_and_nothing_else(amount: int, currency: str, locale: str) -> None:
    text = format_money(amount, currency, locale)
    exponent = CURRENCY_EXPONENTS[currency]
    decimal = "." if locale == "en" else ","
    number = re.search(r"-?[\d.,]+\d|\d", text.replace("\xa0", " ")).group(0)  # type: ignore[union-attr]
    whole, _, fraction = number.rpartition(decimal) if exponent else (number, "", "")
    assert len(fraction) == exponent
    digits = re.sub(r"\D", "", whole + fraction)
    assert Decimal(digits) == abs(amount) and (amount < 0) == text.startswith("-")


# ---------------------------------------------------------------- terminal states


async def test_terminal_states_show_their_page_and_no_credential(shop: Shop) -> None:
    done = await shop.session(successUrl="https://shop.example/thanks")
    assert (await shop.complete(done["id"])).status_code == 200
    order_id = (await shop.t.get(f"/api/v1/checkout/sessions/{done['id']}")).json()["orderId"]
    answer = await page(shop, done["id"])
    assert answer.status_code == 200 and 'data-terminal="completed"' in answer.text and order_id in answer.text
    assert 'href="https://shop.example/thanks"' in answer.text
    assert "kcp_" not in answer.text and "data-pay" not in answer.text and "<script" not in answer.text

    cancelled = await shop.session(cancelUrl="https://shop.example/cart")
    await shop.t.delete(f"/api/v1/checkout/sessions/{cancelled['id']}")
    answer = await page(shop, cancelled["id"])
    assert 'data-terminal="cancelled"' in answer.text and "Back to the shop" in answer.text
    assert 'href="https://shop.example/cart"' in answer.text

    expiring = await shop.session(expiresInMinutes=30)
    shop.backend.clock.advance(minutes=31)
    try:
        answer = await page(shop, expiring["id"])
    finally:
        shop.backend.clock.advance(minutes=-31)
    assert 'data-terminal="expired"' in answer.text and "kcp_" not in answer.text


# ---------------------------------------------------------------- the page's own calls


async def credential(shop: Shop, session_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {boot_of((await page(shop, session_id)).text)['credential']}"}


async def test_the_page_credential_makes_the_pages_calls_on_its_own_session_only(shop: Shop) -> None:
    ship = await shipping_method(shop.t)
    session = await shop.session()
    headers = await credential(shop, session["id"])
    client = shop.backend.client
    base = f"/s/{session['id']}"

    answer = await client.patch(f"{base}/cart", json={"customerEmail": "ada@example.com",
                                                      "shippingAddress": ADDRESS_DE}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["recaps"]["contact"] == "ada@example.com"
    options = (await client.get(f"{base}/shipping-methods", headers=headers)).json()
    assert options["optionCount"] == 1 and ship["id"] in options["optionsHtml"] and "€4.90" in options["optionsHtml"]
    chosen = await client.put(f"{base}/shipping-method?locale=de", json={"shippingMethodId": ship["id"]},
                              headers=headers)
    assert chosen.status_code == 200 and chosen.json()["payLabel"] == "Bezahlen 34,90\xa0€"
    cart = await shop.get_cart(session["cartId"])
    assert cart["customerEmail"] == "ada@example.com" and cart["shippingMethod"]["id"] == ship["id"]

    # Only the page's calls: not the public API, not another session's page, nothing it may not change.
    assert (await client.get(f"/api/v1/carts/{session['cartId']}", headers=headers)).status_code == 403
    assert (await client.get(f"/api/v1/checkout/sessions/{session['id']}", headers=headers)).status_code == 403
    other = await shop.session()
    refused = await client.patch(f"/s/{other['id']}/cart", json={"customerEmail": "x@example.com"}, headers=headers)
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "checkout_session_not_found"
    extra = await client.patch(f"{base}/cart", json={"metadata": {"a": 1}}, headers=headers)
    assert extra.status_code in (400, 422) and extra.json()["error"]["field"] == "metadata"
    forged = {"Authorization": headers["Authorization"][:-3] + "abc"}
    assert (await client.patch(f"{base}/cart", json={}, headers=forged)).status_code == 401
    secret = await client.patch(f"{base}/cart", json={}, headers=shop.t.headers())
    assert secret.status_code == 404  # an API key is not the page

    paid = await client.post(f"{base}/complete", json={"paymentMethod": OK_CARD}, headers=headers)
    assert paid.status_code == 200 and paid.json()["status"] == "complete" and paid.json()["orderId"].startswith("ord_")
    late = await client.patch(f"{base}/cart", json={"customerEmail": "late@example.com"}, headers=headers)
    assert late.status_code == 409 and late.json()["error"]["code"] == "checkout_session_not_open"


async def test_discount_codes_through_the_page_show_in_the_summary(shop: Shop) -> None:
    camp = (await shop.t.post("/api/v1/campaigns", {"name": "Ten off", "reward": {"type": "fixed_off",
                                                                                   "amounts": {"EUR": 1000}}})).json()
    assert (await shop.t.post(f"/api/v1/campaigns/{camp['id']}/codes", {"code": "TEN"})).status_code == 201
    session = await shop.session()
    headers = await credential(shop, session["id"])
    client = shop.backend.client
    applied = await client.post(f"/s/{session['id']}/discount-codes", json={"code": "ten"}, headers=headers)
    assert applied.status_code == 200, applied.text
    summary = applied.json()["summaryHtml"]
    assert "Ten off" in summary and '<span class="code">TEN</span>' in summary and "-€10.00" in summary
    assert applied.json()["payLabel"] == "Pay €20.00"
    unknown = await client.post(f"/s/{session['id']}/discount-codes", json={"code": "NOPE"}, headers=headers)
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "code"
    removed = await client.delete(f"/s/{session['id']}/discount-codes/TEN", headers=headers)
    assert removed.status_code == 200 and "TEN" not in removed.json()["summaryHtml"]


async def test_declines_and_the_second_step_through_the_page(shop: Shop) -> None:
    session = await shop.session(collect={"shippingAddress": False, "billingAddress": False})
    headers = await credential(shop, session["id"])
    path = f"/s/{session['id']}/complete"
    declined = await shop.backend.client.post(path, json={"paymentMethod": DECLINE_CARD}, headers=headers)
    assert declined.status_code == 402 and declined.json()["error"]["details"]["reason"] == "card_declined", declined.text
    challenged = await shop.backend.client.post(path, json={"paymentMethod": THREE_DS_CARD}, headers=headers)
    assert challenged.json()["error"]["code"] == "payment_action_required"
    done = await shop.backend.client.post(path, json={"paymentMethod": {"actionResult": "approved"}}, headers=headers)
    assert done.status_code == 200 and done.json()["status"] == "complete"
    payments = (await shop.t.get(f"/api/v1/checkout/sessions/{session['id']}/payments")).json()["data"]
    assert [p["status"] for p in payments] == ["failed", "captured"]


async def test_a_completed_embedded_session_shows_its_order_to_the_token_origin(shop: Shop) -> None:
    session = await shop.session(successUrl="https://shop.example/thanks")
    token = (await embed_token(shop, session["id"]))["token"]
    completed = await shop.complete(session["id"])
    assert completed.status_code == 200, completed.text
    answer = await page(shop, session["id"], query=f"?embed={token}")
    assert answer.status_code == 200 and 'data-terminal="completed"' in answer.text
    assert csp(answer)["frame-ancestors"] == "https://shop.example"
    assert "https://shop.example/thanks" not in answer.text  # embedded: the parent decides where to go


async def test_the_page_credential_ends_with_its_session(shop: Shop) -> None:
    session = await shop.session(expiresInMinutes=30)
    headers = await credential(shop, session["id"])
    shop.backend.clock.advance(minutes=31)
    try:
        late = await shop.backend.client.patch(f"/s/{session['id']}/cart", json={"customerEmail": "a@example.com"},
                                               headers=headers)
    finally:
        shop.backend.clock.advance(minutes=-31)
    assert late.status_code == 401 and late.json()["error"]["code"] == "unauthorized"


# ---------------------------------------------------------------- kept fragments


async def test_kept_fragments_render_the_same_page_as_the_templates(shop: Shop) -> None:
    """The page from kept fragments (hosted/fragments.py) is byte for byte the page the templates
    render, apart from the per-response nonce and credential: for carts with and without addresses,
    with values that need escaping, in both locales, each rendered after others filled the cache."""
    from kassa_checkout.hosted import fragments

    odd = {"firstName": "Zoë <b>", "lastName": "O'Brien & \"Sons\"", "addressLine1": "Rue <script>x</script> 1",
           "city": "Köln", "postalCode": "50667", "countryCode": "FR"}
    carts = [
        {},
        {"customerEmail": "a@example.com", "shippingAddress": ADDRESS_DE},
        {"customerEmail": "a@example.com", "shippingAddress": {**ADDRESS_DE, "countryCode": "AT"}},
        {"customerEmail": "b@example.com", "shippingAddress": odd, "billingAddress": {**ADDRESS_DE, "lastName": "B"}},
        {"customerEmail": "c&d@example.com", "shippingAddress": {**odd, "addressLine2": "Hinterhaus", "company": "X"},
         "billingAddress": odd},
    ]
    collects = [None, {"shippingAddress": True, "billingAddress": True}, {"shippingAddress": False, "billingAddress": True}]
    await shop.t.put("/api/v1/embed-config", {"branding": {"displayName": "Nordlicht <Coffee> & Co",
                                                           "primaryColor": "#FFD500",
                                                           "logoUrl": "https://cdn.example/logo.png?a=1&b=2"}})
    pages = []
    for i, body in enumerate(carts):
        for j, collect in enumerate(collects):
            cart = await shop.cart(**body)
            urls = {"successUrl": "https://shop.example/thanks?o=1&x=<y>", "cancelUrl": "https://shop.example/cart"}
            session = await shop.session(cart["id"], **({"collect": collect} if collect else {}),
                                         **(urls if (i + j) % 2 else {}))
            for query in ("", "?locale=de"):
                pages.append(f"/s/{session['id']}{query}")
            if i == j:
                pages.append(f"/s/{session['id']}?embed={(await embed_token(shop, session['id']))['token']}")

    def same_parts(html: str) -> str:
        html = re.sub(r'"credential":\s*"[^"]*"', '"credential":"-"', html)
        return re.sub(r'nonce="[^"]*"', 'nonce="-"', html)

    async def render(path: str) -> str:
        answer = await shop.backend.client.get(path)
        assert answer.status_code == 200, answer.text
        return same_parts(answer.text)

    assert fragments.ENABLED
    kept = [await render(path) for path in pages] + [await render(path) for path in reversed(pages)]
    fragments.ENABLED = False
    try:
        plain = [await render(path) for path in pages]
    finally:
        fragments.ENABLED = True
    assert kept[:len(pages)] == plain and kept[len(pages):] == plain[::-1]
    everything = "".join(plain)
    assert "Zo\u00eb &lt;b&gt;" in everything and "O&#39;Brien &amp; &#34;Sons&#34;" in everything
    assert "Nordlicht &lt;Coffee&gt; &amp; Co" in everything and 'class="embedded"' in everything
    assert "https://shop.example/thanks?o=1&amp;x=&lt;y&gt;" in everything
