"""Live payments through Stripe (localstripe stands in for Stripe's cloud): settings, the card in
Stripe's hands only, declines, 3-D Secure, manual capture, refunds, headless intents."""

from __future__ import annotations

import pytest

from tests.conftest import make_tenant
from tests.support.localstripe import REJECTED_KEY, LocalStripe
from tests.support.served import KassaWeb
from tests.support.stripe_shop import (
    DECLINED,
    DECLINED_AT_CONFIRM,
    NO_FUNDS,
    SUCCESS,
    THREE_D_SECURE,
    StripeShop,
)


@pytest.fixture
async def shop(stripe_kassa: KassaWeb, localstripe: LocalStripe) -> StripeShop:
    return await StripeShop.open(stripe_kassa, localstripe)


# ---------------------------------------------------------------- settings


async def test_settings_keep_secrets_sealed_and_show_their_last_four(shop: StripeShop) -> None:
    response = await shop.t.get("/api/v1/payment-settings")
    assert response.status_code == 200
    body = response.json()
    assert body["provider"] == "stripe" and body["captureMethod"] == "automatic"
    assert body["secretKeyLast4"] == shop.stripe.api_key[-4:]
    assert body["webhookSecretLast4"] == shop.webhook_secret[-4:]
    assert body["webhookUrl"] == f"{shop.web.origin}/webhooks/stripe/{shop.t.app_id}"
    assert shop.stripe.api_key not in response.text and shop.webhook_secret not in response.text
    import sqlalchemy as sa
    from kassa_checkout.tables import payment_settings

    async with shop.web.backend.runtime.db() as conn:
        stored = (await conn.execute(sa.select(payment_settings).where(
            payment_settings.c.app_id == shop.t.app_id))).one()
    assert stored.secret_key.startswith("sealed:v1:") and shop.stripe.api_key not in stored.secret_key
    assert stored.webhook_secret.startswith("sealed:v1:")
    # A later update may leave the secrets out: the stored ones stay.
    again = await shop.t.put("/api/v1/payment-settings", {"provider": "stripe", "captureMethod": "manual"})
    assert again.status_code == 200, again.text
    assert again.json()["captureMethod"] == "manual" and again.json()["secretKeyLast4"] == body["secretKeyLast4"]


async def test_keys_must_match_the_application_mode_and_stripe_must_accept_them(
        stripe_kassa: KassaWeb, localstripe: LocalStripe) -> None:
    tenant = await make_tenant(stripe_kassa.backend)
    live = {"provider": "stripe", "secretKey": "sk_live_abcdefgh1234", "publishableKey": localstripe.publishable_key}
    refused = await tenant.put("/api/v1/payment-settings", live)
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "secretKey", refused.text
    rejected = await tenant.put("/api/v1/payment-settings", {**live, "secretKey": REJECTED_KEY})
    assert rejected.status_code == 422 and rejected.json()["error"]["code"] == "payment_provider_auth_failed"
    malformed = await tenant.put("/api/v1/payment-settings", {**live, "secretKey": "hello"})
    assert malformed.status_code == 422 and malformed.json()["error"]["code"] == "validation_error"
    assert (await tenant.get("/api/v1/payment-settings")).json()["provider"] == "test"  # nothing was kept

    live_app = await make_tenant(stripe_kassa.backend, "live")
    test_keys = await live_app.put("/api/v1/payment-settings", {
        "provider": "stripe", "secretKey": localstripe.api_key, "publishableKey": localstripe.publishable_key})
    assert test_keys.status_code == 422 and test_keys.json()["error"]["field"] == "secretKey"
    no_test_provider = await live_app.put("/api/v1/payment-settings", {"provider": "test"})
    assert no_test_provider.status_code == 422 and no_test_provider.json()["error"]["field"] == "provider"
    scoped = await tenant.scoped_key(["checkout:write"])
    forbidden = await tenant.put("/api/v1/payment-settings", {"provider": "test"}, key=scoped)
    assert forbidden.status_code == 403 and forbidden.json()["error"]["details"]["scope"] == "payments:write"


# ---------------------------------------------------------------- the card, in Stripe's hands only


async def test_a_card_token_pays_and_the_order_names_stripe(shop: StripeShop) -> None:
    session = await shop.session(quantity=2)
    response = await shop.pay_card(session["id"])
    assert response.status_code == 200, response.text
    done = response.json()
    assert done["status"] == "complete" and done["paymentStatus"] == "paid"
    payments = (await shop.t.get(f"/api/v1/checkout/sessions/{session['id']}/payments")).json()["data"]
    assert [(p["provider"], p["status"], p["cardLast4"]) for p in payments] == [("stripe", "captured", "4242")]
    [intent] = await shop.intents_of(session["id"])
    assert intent["status"] == "succeeded" and intent["amount"] == done["amountTotal"] == 5000
    assert intent["currency"] == "eur" and intent["metadata"]["kassa_app_id"] == shop.t.app_id


async def test_a_card_number_is_refused_for_stripe_applications(shop: StripeShop) -> None:
    session = await shop.session()
    response = await shop.complete(session["id"], {"type": "card", "card": {"number": SUCCESS}})
    assert response.status_code == 422 and response.json()["error"]["field"] == "paymentMethod.card", response.text
    assert await shop.intents_of(session["id"]) == []
    assert (await shop.pay_card(session["id"])).status_code == 200  # nothing was held


# localstripe declines 4000…0002 and 4000…9995 when the card is saved, both as `card_declined` (it
# sends no decline_code, where Stripe would say `insufficient_funds`), and 4000…0341 when charged.
@pytest.mark.parametrize("number", [DECLINED, NO_FUNDS, DECLINED_AT_CONFIRM])
async def test_a_declined_card_then_another_pays(shop: StripeShop, number: str) -> None:
    session = await shop.session()
    declined = await shop.pay_card(session["id"], number)
    assert declined.status_code == 402, declined.text
    error = declined.json()["error"]
    assert error["code"] == "payment_declined" and error["details"]["reason"] == "card_declined"
    again = await shop.pay_card(session["id"])
    assert again.status_code == 200 and again.json()["status"] == "complete", again.text
    payments = (await shop.t.get(f"/api/v1/checkout/sessions/{session['id']}/payments")).json()["data"]
    assert [p["status"] for p in payments] == ["failed", "captured"]


async def test_three_d_secure_in_stripes_frame_then_kassa_finishes(shop: StripeShop) -> None:
    session = await shop.session()
    first = await shop.pay_card(session["id"], THREE_D_SECURE)
    assert first.status_code == 402, first.text
    action = first.json()["error"]["details"]["nextAction"]
    assert first.json()["error"]["code"] == "payment_action_required"
    assert action["type"] == "three_d_secure" and action["provider"] == "stripe"
    assert action["clientSecret"].startswith(action["paymentIntentId"])
    # Kassa makes no order while the bank waits, whatever the browser says.
    early = await shop.complete(session["id"], {"actionResult": "approved"})
    assert early.status_code == 402 and early.json()["error"]["code"] == "payment_action_required", early.text
    await shop.stripe.authenticate(action["paymentIntentId"], success=True)
    done = await shop.complete(session["id"], {"actionResult": "approved"})
    assert done.status_code == 200 and done.json()["status"] == "complete", done.text
    assert len(await shop.orders_of(session["id"])) == 1


async def test_three_d_secure_refused_by_the_bank_fails_the_payment(shop: StripeShop) -> None:
    session = await shop.session()
    first = await shop.pay_card(session["id"], THREE_D_SECURE)
    intent_id = first.json()["error"]["details"]["nextAction"]["paymentIntentId"]
    await shop.stripe.authenticate(intent_id, success=False)
    # The browser says "approved"; Stripe says otherwise, and Stripe is believed.
    refused = await shop.complete(session["id"], {"actionResult": "approved"})
    assert refused.status_code == 402 and refused.json()["error"]["code"] == "payment_declined", refused.text
    assert refused.json()["error"]["details"]["reason"] == "payment_intent_authentication_failure"
    assert (await shop.pay_card(session["id"])).status_code == 200


async def test_manual_capture_captures_at_completion(stripe_kassa: KassaWeb, localstripe: LocalStripe) -> None:
    shop = await StripeShop.open(stripe_kassa, localstripe, capture="manual")
    session = await shop.session()
    assert (await shop.pay_card(session["id"])).status_code == 200
    [intent] = await shop.intents_of(session["id"])
    assert intent["capture_method"] == "manual" and intent["status"] == "succeeded"


# ---------------------------------------------------------------- refunds


async def test_partial_then_full_refunds_go_through_stripe_once_each(shop: StripeShop) -> None:
    session = await shop.session(quantity=2)
    done = (await shop.pay_card(session["id"])).json()
    order_id = done["orderId"]
    partial = await shop.t.post(f"/api/v1/orders/{order_id}/refunds", {"amount": 1000},
                                headers={"Idempotency-Key": "refund-1"})
    assert partial.status_code == 201 and partial.json()["status"] == "succeeded", partial.text
    replay = await shop.t.post(f"/api/v1/orders/{order_id}/refunds", {"amount": 1000},
                               headers={"Idempotency-Key": "refund-1"})
    assert replay.json()["id"] == partial.json()["id"]
    rest = await shop.t.post(f"/api/v1/orders/{order_id}/refunds", {})
    assert rest.status_code == 201 and rest.json()["amount"] == 4000, rest.text
    [intent] = await shop.intents_of(session["id"])
    refunds = await shop.stripe.get("/v1/refunds", payment_intent=intent["id"])
    assert sorted(r["amount"] for r in refunds["data"]) == [1000, 4000]
    order = (await shop.t.get(f"/api/v1/orders/{order_id}")).json()
    assert order["status"] == "refunded" and order["amountRefunded"] == 5000
    too_much = await shop.t.post(f"/api/v1/orders/{order_id}/refunds", {"amount": 1})
    assert too_much.status_code == 422 and too_much.json()["error"]["code"] == "refund_exceeds_amount"


# ---------------------------------------------------------------- headless: the storefront confirms


async def test_a_headless_checkout_confirms_its_intent_and_kassa_checks_it(shop: StripeShop) -> None:
    session = await shop.session()
    handle = await shop.t.post(f"/api/v1/checkout-sessions/{session['id']}/payment-intent")
    assert handle.status_code == 200, handle.text
    intent = handle.json()
    assert intent["amount"] == 2500 and intent["publishableKey"] == shop.stripe.publishable_key
    again = await shop.t.post(f"/api/v1/checkout-sessions/{session['id']}/payment-intent")
    assert again.json()["paymentIntentId"] == intent["paymentIntentId"]  # one intent per session
    # Before the storefront confirmed it, it pays for nothing.
    early = await shop.complete(session["id"], {"type": "stripe", "paymentIntentId": intent["paymentIntentId"]})
    assert early.status_code == 402, early.text
    await shop.confirm_headless(intent["paymentIntentId"])
    done = await shop.complete(session["id"], {"type": "stripe", "paymentIntentId": intent["paymentIntentId"]})
    assert done.status_code == 200 and done.json()["status"] == "complete", done.text


async def test_an_intent_kassa_did_not_make_for_the_session_never_completes_it(shop: StripeShop) -> None:
    session, other = await shop.session(), await shop.session()
    foreign = (await shop.t.post(f"/api/v1/checkout-sessions/{other['id']}/payment-intent")).json()
    await shop.confirm_headless(foreign["paymentIntentId"])
    response = await shop.complete(session["id"], {"type": "stripe", "paymentIntentId": foreign["paymentIntentId"]})
    assert response.status_code == 422 and response.json()["error"]["code"] == "payment_intent_invalid", response.text
    async with shop.stripe.client() as client:
        made_elsewhere = await client.v1.payment_intents.create_async({"amount": 2500, "currency": "eur"})
    elsewhere = await shop.complete(session["id"], {"type": "stripe", "paymentIntentId": made_elsewhere.id})
    assert elsewhere.status_code == 422 and elsewhere.json()["error"]["code"] == "payment_intent_invalid"
    assert (await shop.t.get(f"/api/v1/checkout/sessions/{session['id']}")).json()["status"] == "open"


async def test_an_intent_for_another_amount_is_refunded_and_makes_no_order(shop: StripeShop) -> None:
    session = await shop.session()
    intent = (await shop.t.post(f"/api/v1/checkout-sessions/{session['id']}/payment-intent")).json()
    await shop.t.post(f"/api/v1/carts/{session['cartId']}/line-items",
                      {"variantId": shop.variant, "quantity": 1})  # the cart changed after the intent was made
    await shop.confirm_headless(intent["paymentIntentId"])  # the storefront paid the old amount
    response = await shop.complete(session["id"], {"type": "stripe", "paymentIntentId": intent["paymentIntentId"]})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "payment_intent_invalid" and response.json()["error"]["details"]["refunded"]
    refunds = await shop.stripe.get("/v1/refunds", payment_intent=intent["paymentIntentId"])
    assert [r["amount"] for r in refunds["data"]] == [2500]
    assert await shop.orders_of(session["id"]) == []
    events = await shop.events("payment.refunded")
    assert [e["data"]["reason"] for e in events] == ["amount_mismatch"]
