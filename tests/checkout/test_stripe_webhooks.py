"""Stripe's events in: one order, ever, whatever arrives first, twice, or late; signatures checked."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from typing import Any

import pytest

from tests.support.localstripe import LocalStripe
from tests.support.served import KassaWeb
from tests.support.stripe_shop import StripeShop

SUCCEEDED = ["payment_intent.succeeded", "payment_intent.payment_failed"]


@pytest.fixture
async def shop(stripe_kassa: KassaWeb, localstripe: LocalStripe) -> Any:
    shop = await StripeShop.open(stripe_kassa, localstripe)
    async with localstripe.webhook(f"we-{uuid.uuid4().hex[:12]}", shop.webhook_url, shop.webhook_secret, SUCCEEDED):
        yield shop


async def _intent(shop: StripeShop, session_id: str) -> str:
    response = await shop.t.post(f"/api/v1/checkout-sessions/{session_id}/payment-intent")
    assert response.status_code == 200, response.text
    return response.json()["paymentIntentId"]


async def test_the_webhook_alone_makes_the_order_when_the_tab_was_closed(shop: StripeShop) -> None:
    session = await shop.session()
    await shop.confirm_headless(await _intent(shop, session["id"]))  # paid, then the shopper left
    done = await shop.wait_for_order(session["id"])
    assert done["paymentStatus"] == "paid" and len(await shop.orders_of(session["id"])) == 1


async def test_the_webhook_first_then_the_page_gets_the_finished_session(shop: StripeShop) -> None:
    session = await shop.session()
    intent_id = await _intent(shop, session["id"])
    await shop.confirm_headless(intent_id)
    done = await shop.wait_for_order(session["id"])
    late = await shop.complete(session["id"], {"type": "stripe", "paymentIntentId": intent_id})
    assert late.status_code == 200 and late.json()["orderId"] == done["orderId"], late.text


async def test_fifty_page_completions_racing_their_webhooks_make_fifty_orders(shop: StripeShop) -> None:
    sessions = [await shop.session() for _ in range(50)]
    intents = [await _intent(shop, s["id"]) for s in sessions]

    async def pay(session: dict[str, Any], intent_id: str) -> None:
        await shop.confirm_headless(intent_id)  # localstripe sends the webhook about a second later
        await asyncio.sleep(random.uniform(0.7, 1.3))  # the page's own completion lands around then
        response = await shop.complete(session["id"], {"type": "stripe", "paymentIntentId": intent_id})
        assert response.status_code in (200, 409), response.text  # 409: the webhook holds the claim right now

    await asyncio.gather(*(pay(s, i) for s, i in zip(sessions, intents)))
    for session in sessions:
        await shop.wait_for_order(session["id"])
    orders = [o for s in sessions for o in await shop.orders_of(s["id"])]
    assert len(orders) == 50 and len({o["sessionId"] for o in orders}) == 50
    succeeded = [i for s in sessions for i in await shop.intents_of(s["id"]) if i["status"] == "succeeded"]
    assert len(succeeded) == 50
    for intent_id in intents:
        assert (await shop.stripe.get("/v1/refunds", payment_intent=intent_id))["data"] == []


async def test_the_same_event_three_times_is_one_order(stripe_kassa: KassaWeb, localstripe: LocalStripe) -> None:
    shop = await StripeShop.open(stripe_kassa, localstripe)  # no webhook registered: we deliver it ourselves
    session = await shop.session()
    intent_id = await _intent(shop, session["id"])
    await shop.confirm_headless(intent_id)
    events = await localstripe.get("/v1/events", type="payment_intent.succeeded", limit=100)
    [event] = [e for e in events["data"] if e["data"]["object"]["id"] == intent_id]
    answers = await asyncio.gather(*(shop.post_event(event) for _ in range(3)))
    assert sorted(a.status_code for a in answers) in ([200, 200, 200], [200, 200, 409]), [a.text for a in answers]
    assert sum(1 for a in answers if a.json().get("duplicate")) >= 1
    assert (await shop.post_event(event)).json() == {"received": True, "duplicate": True}
    assert len(await shop.orders_of(session["id"])) == 1


async def test_a_stale_tampered_or_foreign_signature_is_refused_and_changes_nothing(
        stripe_kassa: KassaWeb, localstripe: LocalStripe) -> None:
    shop = await StripeShop.open(stripe_kassa, localstripe)
    session = await shop.session()
    intent_id = await _intent(shop, session["id"])
    await shop.confirm_headless(intent_id)
    events = await localstripe.get("/v1/events", type="payment_intent.succeeded", limit=100)
    [event] = [e for e in events["data"] if e["data"]["object"]["id"] == intent_id]
    stale = await shop.post_event(event, at=int(time.time()) - 6 * 60)
    foreign = await shop.post_event(event, secret="whsec_" + uuid.uuid4().hex)
    signed = shop.signed(event)
    import httpx

    async with httpx.AsyncClient(timeout=10) as http:
        tampered = await http.post(shop.webhook_url, content=signed["content"].replace("2500", "1"),
                                   headers={"Stripe-Signature": signed["Stripe-Signature"]})
        unsigned = await http.post(shop.webhook_url, content=signed["content"])
    for answer in (stale, foreign, tampered, unsigned):
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "webhook_signature_invalid", answer.text
    assert (await shop.t.get(f"/api/v1/checkout/sessions/{session['id']}")).json()["status"] == "open"
    assert (await shop.post_event(event)).status_code == 200  # the real one still counts afterwards
    assert len(await shop.orders_of(session["id"])) == 1


async def test_a_payment_after_the_session_ended_is_refunded_and_told(shop: StripeShop) -> None:
    session = await shop.session()
    intent_id = await _intent(shop, session["id"])
    cancelled = await shop.t.delete(f"/api/v1/checkout/sessions/{session['id']}")
    assert cancelled.status_code == 200, cancelled.text
    await shop.confirm_headless(intent_id)  # the shopper's tab still had the old session
    deadline = time.monotonic() + 15
    refunds: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not refunds:
        refunds = (await shop.stripe.get("/v1/refunds", payment_intent=intent_id))["data"]
        await asyncio.sleep(0.05)  # waiting on localstripe's delivery
    assert [r["amount"] for r in refunds] == [2500]
    assert await shop.orders_of(session["id"]) == []
    told = await shop.events("payment.refunded")
    assert [(e["data"]["reason"], e["data"]["providerRef"]) for e in told] == [("session_not_open", intent_id)]


async def _expire(shop: StripeShop) -> None:
    from kassa_checkout.service import module_of

    shop.web.backend.clock.advance(minutes=31)
    await module_of(shop.web.backend.runtime).sessions.expire_due()


async def test_a_payment_that_succeeds_after_its_session_expired_still_becomes_its_order(shop: StripeShop) -> None:
    session = await shop.session(expiresInMinutes=30)
    intent_id = await _intent(shop, session["id"])
    await _expire(shop)
    assert (await shop.t.get(f"/api/v1/checkout/sessions/{session['id']}")).json()["status"] == "expired"
    await shop.confirm_headless(intent_id)  # the bank took its time; the cart is as it was
    done = await shop.wait_for_order(session["id"])
    assert done["status"] == "complete" and len(await shop.orders_of(session["id"])) == 1
    assert (await shop.stripe.get("/v1/refunds", payment_intent=intent_id))["data"] == []


async def test_a_late_payment_for_a_cart_that_changed_is_refunded(shop: StripeShop) -> None:
    session = await shop.session(expiresInMinutes=30)
    intent_id = await _intent(shop, session["id"])
    await _expire(shop)
    added = await shop.t.post(f"/api/v1/carts/{session['cartId']}/line-items", {"variantId": shop.variant, "quantity": 1})
    assert added.status_code in (200, 201), added.text
    await shop.confirm_headless(intent_id)
    deadline = time.monotonic() + 15
    refunds: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not refunds:
        refunds = (await shop.stripe.get("/v1/refunds", payment_intent=intent_id))["data"]
        await asyncio.sleep(0.05)  # waiting on localstripe's delivery
    assert [r["amount"] for r in refunds] == [2500] and await shop.orders_of(session["id"]) == []
    assert [e["data"]["reason"] for e in await shop.events("payment.refunded")] == ["amount_mismatch"]


async def test_a_dispute_marks_the_order_and_tells_the_merchant_once(
        stripe_kassa: KassaWeb, localstripe: LocalStripe) -> None:
    shop = await StripeShop.open(stripe_kassa, localstripe)
    session = await shop.session()
    done = (await shop.pay_card(session["id"])).json()
    [intent] = await shop.intents_of(session["id"])
    dispute = {"id": "du_" + uuid.uuid4().hex[:14], "object": "dispute", "amount": 2500, "currency": "eur",
               "payment_intent": intent["id"], "reason": "fraudulent", "status": "needs_response"}
    event = {"id": "evt_" + uuid.uuid4().hex[:14], "object": "event", "type": "charge.dispute.created",
             "data": {"object": dispute}}
    assert (await shop.post_event(event)).status_code == 200
    assert (await shop.post_event(event)).json()["duplicate"] is True
    [told] = await shop.events("order.disputed")
    assert told["data"]["orderId"] == done["orderId"]
    assert told["data"]["dispute"]["reason"] == "fraudulent" and told["data"]["dispute"]["amount"] == 2500


async def test_an_authorization_for_an_ended_session_is_let_go_of_not_captured(
        stripe_kassa: KassaWeb, localstripe: LocalStripe) -> None:
    shop = await StripeShop.open(stripe_kassa, localstripe, capture="manual")
    session = await shop.session()
    intent_id = await _intent(shop, session["id"])
    assert (await shop.t.delete(f"/api/v1/checkout/sessions/{session['id']}")).status_code == 200
    held = await shop.confirm_headless(intent_id)
    assert held["status"] == "requires_capture"
    # localstripe sends no event for an authorization; Stripe's would look like this.
    event = {"id": "evt_" + uuid.uuid4().hex[:14], "object": "event", "type": "payment_intent.amount_capturable_updated",
             "data": {"object": held}}
    assert (await shop.post_event(event)).status_code == 200
    assert (await shop.stripe.get(f"/v1/payment_intents/{intent_id}"))["status"] == "canceled"
    assert (await shop.stripe.get("/v1/refunds", payment_intent=intent_id))["data"] == []
    assert await shop.orders_of(session["id"]) == [] and await shop.events("payment.refunded") == []
