"""The merchant dashboard (/dashboard/) in a real Chromium against a real Kassa: each page with each
role it serves, axe-core on every page, the refund flow by keyboard alone, screenshots for the docs."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from tests.support.dashboard import axe_check, merchant_with_orders, open_page, shoot, signed_in
from tests.support.served import KassaWeb


async def test_the_page_loads_only_its_own_hashed_gzip_assets_under_a_strict_policy(kassa: KassaWeb) -> None:
    async with httpx.AsyncClient(base_url=kassa.origin) as client:
        page = await client.get("/dashboard/orders/ord_x")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "style-src 'self';" in policy and "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy and page.headers["x-frame-options"] == "DENY"
        assert "<script>" not in page.text and "style=" not in page.text  # nothing inline
        script = page.text.split('src="', 1)[1].split('"', 1)[0]
        assert script.startswith("/dashboard/assets/dashboard.") and script.endswith(".js")
        asset = await client.get(script, headers={"accept-encoding": "gzip"})
        assert asset.status_code == 200 and asset.headers["content-encoding"] == "gzip"
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert (await client.get("/dashboard/assets/dashboard.000000000000.js")).status_code == 404


async def test_a_finance_user_finds_an_order_and_refunds_part_of_it(browser: Any, kassa: KassaWeb) -> None:
    merchant, orders = await merchant_with_orders(kassa, ["ada@example.com", "bob@example.com", "cy@example.com"])
    tenant, bob = merchant.tenant, orders[1]
    async with signed_in(browser, kassa, await merchant.person("finance")) as page:
        await open_page(page, kassa, "/orders", "Orders")
        await expect(page.get_by_role("navigation", name="Main").get_by_role("link")).to_have_text(
            ["Overview", "Orders", "Abandoned carts", "Campaigns", "Team", "Settings"])  # no webhooks, developers: not the finance role's
        await expect(page.get_by_role("note")).to_contain_text("Test mode")
        rows = page.locator("table tbody tr")
        await expect(rows).to_have_count(3)
        await page.get_by_label("Order id or customer email").fill("BOB@example.com")
        await page.get_by_role("button", name="Search").click()
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text("€64.14")
        await rows.first.get_by_role("link").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Order of €64.14")
        await page.get_by_role("button", name="Refund").click()
        dialog = page.get_by_role("dialog", name="Refund this order")
        await dialog.get_by_label("Part of it").check()
        await dialog.get_by_label("Amount (EUR)").fill("10.50")
        await dialog.get_by_label("Reason").fill("Damaged in transit")
        await dialog.get_by_role("button", name="Refund").click()
        await expect(page.get_by_role("status")).to_have_text("€10.50 refunded.")
        await expect(page.locator(".page-head .badge")).to_have_text("Partially refunded")
        await expect(page.get_by_role("region", name="Refunds")).to_contain_text("Damaged in transit")
        assert page.script_errors == []
    seen = (await tenant.get(f"/api/v1/orders/{bob['id']}")).json()
    assert (seen["status"], seen["amountRefunded"]) == ("partially_refunded", 1050)


async def test_a_viewer_sees_no_refund_button_and_is_refused_if_they_post_anyway(browser: Any, kassa: KassaWeb) -> None:
    merchant, [order] = await merchant_with_orders(kassa, ["ada@example.com"])
    tenant = merchant.tenant
    async with signed_in(browser, kassa, await merchant.person("viewer")) as page:
        await open_page(page, kassa, f"/orders/{order['id']}", "Order of €64.14")
        await expect(page.get_by_role("button", name="Refund")).to_have_count(0)
        # The form posted anyway, as the page would (session cookie, application, CSRF token): the server refuses.
        answer = await page.evaluate("""async ([id, app]) => {
            const session = await (await fetch('/api/v1/auth/session')).json();
            const response = await fetch(`/api/v1/orders/${id}/refunds`, {method: 'POST', headers: {
                'Content-Type': 'application/json', 'Idempotency-Key': crypto.randomUUID(), 'Kassa-Application': app,
                'X-CSRF-Token': session.csrfToken}, body: JSON.stringify({amount: 100})});
            return [response.status, (await response.json()).error.code]; }""", [order["id"], tenant.app_id])
        assert answer == [403, "forbidden"]
    assert (await tenant.get(f"/api/v1/orders/{order['id']}")).json()["amountRefunded"] == 0


async def test_the_refund_flow_by_keyboard_alone(browser: Any, kassa: KassaWeb) -> None:
    merchant, [order] = await merchant_with_orders(kassa, ["ada@example.com"])
    tenant = merchant.tenant
    async with signed_in(browser, kassa, await merchant.person("finance")) as page:
        await open_page(page, kassa, f"/orders/{order['id']}", "Order of €64.14")

        async def tab_to(locator: Any, limit: int = 40) -> None:
            for _ in range(limit):
                await page.keyboard.press("Tab")
                if await locator.evaluate("el => el === document.activeElement"):
                    return
            raise AssertionError(f"never reached {locator}")

        await tab_to(page.get_by_role("button", name="Refund"))
        await page.keyboard.press("Enter")
        dialog = page.get_by_role("dialog", name="Refund this order")
        await expect(dialog).to_be_visible()
        await expect(dialog.get_by_label("Everything left (€64.14)")).to_be_focused()  # the dialog takes focus
        await page.keyboard.press("Escape")  # Escape closes it, and nothing happened
        await expect(dialog).to_have_count(0)
        await tab_to(page.get_by_role("button", name="Refund"))
        await page.keyboard.press("Enter")
        await tab_to(dialog.get_by_role("button", name="Refund"))
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("status")).to_have_text("€64.14 refunded.")
        await expect(page.locator(".page-head .badge")).to_have_text("Refunded")
        await expect(page.get_by_role("button", name="Refund")).to_have_count(0)  # nothing left to refund
    assert (await tenant.get(f"/api/v1/orders/{order['id']}")).json()["status"] == "refunded"


@pytest.mark.parametrize("width", [1280, 375])
async def test_every_page_passes_axe_and_is_pictured(browser: Any, kassa: KassaWeb, width: int) -> None:
    merchant, orders = await merchant_with_orders(kassa, ["ada@example.com", "bob@example.com"])
    tenant = merchant.tenant
    await tenant.post(f"/api/v1/orders/{orders[0]['id']}/refunds", {"amount": 1000})
    await tenant.post("/api/v1/webhook-endpoints", {"url": "https://shop.example.com/hooks/kassa",
                                                    "enabledEvents": ["order.*", "cart.abandoned"],
                                                    "description": "ERP"})
    pages = [("", "Overview", "overview"), ("/orders", "Orders", "orders"),
             (f"/orders/{orders[1]['id']}", "Order of €64.14", "order"), ("/carts", "Abandoned carts", "carts"),
             ("/webhooks", "Webhooks", "webhooks"), ("/developers", "Developers", "developers"),
             ("/team", "Team", "team"), ("/settings", "Settings", "settings")]
    async with signed_in(browser, kassa, merchant.team.owner, width=width) as page:
        for path, heading, name in pages:
            await open_page(page, kassa, path, heading)
            await page.wait_for_load_state("networkidle")
            await axe_check(page, f"{name} at {width}px")
            if name != "settings":  # pictured with Stripe connected, by the payment settings test
                await shoot(page, name, width)
        await open_page(page, kassa, f"/orders/{orders[1]['id']}", "Order of €64.14")
        await page.get_by_role("button", name="Refund").click()
        await page.get_by_role("dialog").get_by_label("Part of it").check()
        await axe_check(page, f"refund dialog at {width}px")
        await shoot(page, "refund", width)
        assert page.script_errors == []


async def test_german_viewers_get_german_words_and_german_money(browser: Any, kassa: KassaWeb) -> None:
    merchant, [order] = await merchant_with_orders(kassa, ["ada@example.com"])
    async with signed_in(browser, kassa, await merchant.person("finance"), locale="de-DE") as page:
        await open_page(page, kassa, f"/orders/{order['id']}", "Bestellung über 64,14 €")
        await page.get_by_role("button", name="Erstatten").click()
        dialog = page.get_by_role("dialog", name="Diese Bestellung erstatten")
        await dialog.get_by_label("Einen Teil").check()
        await dialog.get_by_label("Betrag (EUR)").fill("1.234,5")  # German grouping and decimal comma
        await dialog.get_by_role("button", name="Erstatten").click()
        await expect(dialog.get_by_role("alert")).to_have_text("Höchstens 64,14 € können erstattet werden.")
        await dialog.get_by_label("Betrag (EUR)").fill("4,5")
        await dialog.get_by_role("button", name="Erstatten").click()
        await expect(page.get_by_role("status")).to_have_text("4,50 € erstattet.")
        await page.get_by_label("Sprache").select_option("en")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Order of 64,14 €")  # words English, money German
        await shoot(page, "order-de", 1280)


async def test_a_developer_creates_an_endpoint_sees_a_failed_delivery_and_resends_it(browser: Any,
                                                                                      kassa: KassaWeb) -> None:
    from tests.webhooks.receiver import Receiver

    merchant, _ = await merchant_with_orders(kassa, [])
    receiver = await Receiver(respond=lambda _: (500, {}, b"nope: database down")).start()
    try:
        async with signed_in(browser, kassa, await merchant.person("developer")) as page:
            await open_page(page, kassa, "/webhooks", "Webhooks")
            await page.get_by_role("button", name="Add endpoint").click()
            await page.get_by_label("Endpoint URL").fill(receiver.url)
            await page.get_by_label("Description").fill("Our ERP")
            await page.get_by_label("All order events").check()
            await page.get_by_label("webhook_endpoint.test").check()
            await axe_check(page, "endpoint form")
            await page.get_by_role("button", name="Save").click()
            secret = await page.locator(".secret").text_content()
            assert secret and secret.startswith("whsec_")
            receiver.secrets.append(secret)
            await page.get_by_role("link", name=receiver.url).click()
            await expect(page.get_by_role("heading", level=1, name="Webhook endpoint")).to_be_visible()
            await page.get_by_role("button", name="Send test event").click()
            await expect(page.get_by_role("status")).to_have_text("Test event sent.")
            await receiver.wait_for(1)
            delivery = page.locator(".deliveries > li").first
            await expect(delivery).to_contain_text("Retrying")  # the page looks again while it is on its way
            await expect(delivery).to_contain_text("HTTP 500")
            await delivery.get_by_role("button", name="Attempts (1)").click()
            await expect(delivery.locator(".response")).to_have_text("nope: database down")
            await axe_check(page, "deliveries")
            await shoot(page, "webhook", 1280)

            receiver.respond = None  # the receiver is fixed: 200
            await delivery.get_by_role("button", name="Resend webhook_endpoint.test delivery").click()
            await expect(page.get_by_role("status")).to_have_text("Delivery queued again.")
            await receiver.wait_for(2)
            # The page polls only while a delivery is due by the browser's clock; the shared test server's
            # clock runs ahead of it once other tests moved it, so the merchant's reload shows the outcome.
            await page.reload()
            delivery = page.locator(".deliveries > li").first
            await expect(delivery.locator(".badge").first).to_have_text("Succeeded")
            assert page.script_errors == []
    finally:
        await receiver.stop()
    assert [r.event["type"] for r in receiver.ok()] == ["webhook_endpoint.test"] * 2
    assert receiver.ok()[0].event_id == receiver.ok()[1].event_id  # the same event, delivered again


async def test_an_owner_invites_a_member_by_mail_who_joins(browser: Any, testrun_uid: str) -> None:
    from tests.conftest import worker_id
    from tests.support.dashboard import new_page
    from tests.support.served import serve_kassa
    from tests.support.smtp import smtp_server

    with smtp_server() as smtp:
        async with serve_kassa(f"kassa_dash_invite_{testrun_uid[:8]}_{worker_id()}", **smtp.settings()) as site:
            merchant, _ = await merchant_with_orders(site, [])
            runner = site.backend.runtime.runner
            assert runner is not None
            async with signed_in(browser, site, merchant.team.owner) as page:
                await open_page(page, site, "/team", "Team")
                await page.get_by_label("Email").fill("new.colleague@example.com")
                await page.get_by_label("Role").select_option(label="Finance of Store")
                await page.get_by_role("button", name="Send invitation").click()
                await expect(page.get_by_role("status")).to_have_text("Invitation sent to new.colleague@example.com.")
                invitations = page.get_by_role("region", name="Invitations")
                await expect(invitations).to_contain_text("Finance (Store)")
                await axe_check(page, "team")
                await runner.drain()  # the mail goes out after the change, from a job
                [mail] = smtp.to("new.colleague@example.com")
                link = mail.link("/dashboard/invitations/accept")

                context, invitee = await new_page(browser)
                try:
                    await invitee.goto(link)
                    await expect(invitee.get_by_role("heading", name="Join your team on Kassa")).to_be_visible()
                    await axe_check(invitee, "invitation")
                    await shoot(invitee, "invitation", 1280)
                    await invitee.get_by_label("Name").fill("Grace Hopper")
                    await invitee.get_by_label("New password").fill("a long enough passphrase")
                    await invitee.get_by_role("button", name="Create account and join").click()
                    await expect(invitee.get_by_role("button", name="Sign out")).to_be_visible()
                    await expect(invitee.get_by_role("heading", level=1)).to_have_text("Overview")
                    await expect(invitee.get_by_role("navigation", name="Main").get_by_role("link")).to_have_text(
                        ["Overview", "Orders", "Abandoned carts", "Campaigns", "Team", "Settings"])  # a finance member's pages
                    assert invitee.script_errors == []
                finally:
                    await context.close()

                await page.reload()
                members = page.get_by_role("region", name="Members")
                await expect(members).to_contain_text("Grace Hopper")
                await expect(members).to_contain_text("Finance (Store)")
                await expect(page.get_by_role("region", name="Invitations")).to_contain_text("No open invitations.")
                await shoot(page, "team", 1280)


async def test_an_owner_sets_the_abandonment_threshold_and_branding_a_viewer_only_reads(browser: Any,
                                                                                      kassa: KassaWeb) -> None:
    merchant, _ = await merchant_with_orders(kassa, [])
    async with signed_in(browser, kassa, merchant.team.owner) as page:
        await open_page(page, kassa, "/settings", "Settings")
        await expect(page.get_by_label("A cart counts as abandoned after (hours)")).to_have_value("24")
        await page.get_by_label("A cart counts as abandoned after (hours)").fill("2")
        await page.get_by_label("Recovery link").fill("https://shop.example.com/cart/{cartId}")
        await page.get_by_role("form", name="Abandoned carts").get_by_role("button", name="Save").click()
        await expect(page.get_by_role("status")).to_have_text("Abandoned carts: saved.")
        await page.get_by_label("Shop name").fill("Nordlicht Coffee")
        await expect(page.locator(".preview-name")).to_have_text("Nordlicht Coffee")  # the preview follows the form
        await page.get_by_role("form", name="Checkout branding").get_by_role("button", name="Save").click()
        await expect(page.get_by_role("status")).to_have_text("Checkout branding: saved.")
    config = (await merchant.tenant.get("/api/v1/embed-config")).json()
    assert config["cartAbandonmentThresholdMinutes"] == 120
    assert config["cartRecoveryUrlTemplate"] == "https://shop.example.com/cart/{cartId}"
    assert config["branding"]["displayName"] == "Nordlicht Coffee"
    async with signed_in(browser, kassa, await merchant.person("viewer")) as page:
        await open_page(page, kassa, "/settings", "Settings")
        await expect(page.get_by_label("A cart counts as abandoned after (hours)")).to_have_value("2")
        await expect(page.get_by_role("button", name="Save")).to_have_count(0)


async def test_an_owner_switches_to_stripe_a_refused_key_is_shown_a_viewer_only_reads(
        browser: Any, stripe_kassa: KassaWeb, localstripe: Any) -> None:
    from tests.support.localstripe import REJECTED_KEY

    merchant, _ = await merchant_with_orders(stripe_kassa, [])
    async with signed_in(browser, stripe_kassa, merchant.team.owner) as page:
        await open_page(page, stripe_kassa, "/settings", "Settings")
        form = page.get_by_role("form", name="Payments")
        await expect(form.get_by_role("radio", name="Test provider (no real money)")).to_be_checked()
        await form.get_by_role("radio", name="Stripe").check()
        secret = form.get_by_label("Stripe secret key")
        await expect(secret).to_have_attribute("type", "password")
        await secret.fill(REJECTED_KEY)  # localstripe answers 401 to it, as Stripe does to a revoked key
        await form.get_by_label("Stripe publishable key").fill(localstripe.publishable_key)
        await form.get_by_role("button", name="Save").click()
        alert = form.get_by_role("alert")
        await expect(alert).to_contain_text("Stripe refused the key")
        await expect(secret).to_have_attribute("aria-invalid", "true")
        assert "payments-error" in (await secret.get_attribute("aria-describedby") or "")
        await axe_check(page, "payment settings, a refused key")
        assert (await merchant.tenant.get("/api/v1/payment-settings")).json()["provider"] == "test"

        await secret.fill(localstripe.api_key)
        await form.get_by_label("Webhook signing secret (optional)").fill("whsec_kassa_dashboard_4321")
        await form.get_by_label("Capture").select_option(label="Later, by you")
        await form.get_by_role("button", name="Save").click()
        await expect(form.get_by_role("status")).to_have_text("Payments: saved.")
        await expect(alert).to_have_text("")
        await expect(secret).not_to_have_attribute("aria-invalid", "true")
        await expect(secret).to_have_value("")  # a secret is never shown back, only its last four
        await expect(form).to_contain_text("…" + localstripe.api_key[-4:])
        await expect(form).to_contain_text("…4321")
        webhook_url = f"/webhooks/stripe/{merchant.tenant.app_id}"
        await expect(form).to_contain_text(webhook_url)
        await expect(form).to_contain_text("Register this URL as a webhook endpoint")
        await axe_check(page, "payment settings, Stripe")
        for width in (1280, 375):
            await page.set_viewport_size({"width": width, "height": 860 if width == 1280 else 760})
            await shoot(page, "settings", width)
        assert page.script_errors == []
    saved = (await merchant.tenant.get("/api/v1/payment-settings")).json()
    assert (saved["provider"], saved["captureMethod"], saved["secretKeyLast4"]) == (
        "stripe", "manual", localstripe.api_key[-4:])
    assert saved["webhookUrl"].endswith(webhook_url)

    async with signed_in(browser, stripe_kassa, await merchant.person("viewer")) as page:
        await open_page(page, stripe_kassa, "/settings", "Settings")
        payments = page.get_by_role("region", name="Payments")
        await expect(payments).to_contain_text("Stripe")
        await expect(payments).to_contain_text("…" + localstripe.api_key[-4:])
        await expect(payments.get_by_role("textbox")).to_have_count(0)
        await expect(payments.get_by_role("radio")).to_have_count(0)
        await expect(page.get_by_role("form", name="Payments")).to_have_count(0)

    async with signed_in(browser, stripe_kassa, merchant.team.owner) as page:  # and back to the test provider
        await open_page(page, stripe_kassa, "/settings", "Settings")
        form = page.get_by_role("form", name="Payments")
        await form.get_by_role("radio", name="Test provider (no real money)").check()
        await expect(form.get_by_label("Stripe secret key")).to_have_count(0)
        await form.get_by_role("button", name="Save").click()
        await expect(form.get_by_role("status")).to_have_text("Payments: saved.")
    assert (await merchant.tenant.get("/api/v1/payment-settings")).json()["provider"] == "test"
