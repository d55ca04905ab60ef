"""Faults between Kassa and Stripe, through a real proxy in front of localstripe: a lost answer after
Stripe acted, Stripe answering 500, Stripe not answering. Never a second charge, never an order
without a succeeded intent, never a succeeded intent without an order or a release."""

from __future__ import annotations

from typing import Any

import pytest
from kassa_checkout.service import module_of

from tests.support.fault_proxy import FaultProxy
from tests.support.localstripe import LocalStripe
from tests.support.served import KassaWeb
from tests.support.stripe_shop import StripeShop

CONFIRM = r"^/v1/payment_intents/[^/]+/confirm$"
CREATE = r"^/v1/payment_intents$"


@pytest.fixture
async def shop(proxied_stripe_kassa: KassaWeb, localstripe: LocalStripe, stripe_proxy: FaultProxy) -> Any:
    stripe_proxy.rules.clear()
    yield await StripeShop.open(proxied_stripe_kassa, localstripe)
    stripe_proxy.rules.clear()


async def _reconcile(shop: StripeShop) -> None:
    """The reconcile job, once the lapsed claim is due (the clock moves; nobody sleeps)."""
    shop.web.backend.clock.advance(seconds=61)
    await module_of(shop.web.backend.runtime).saga.reconcile()


async def test_a_lost_confirm_answer_is_asked_again_with_its_key_and_charges_once(
        shop: StripeShop, stripe_proxy: FaultProxy) -> None:
    session = await shop.session()
    stripe_proxy.drop_answer("POST", CONFIRM)
    response = await shop.pay_card(session["id"])
    assert response.status_code == 200 and response.json()["status"] == "complete", response.text
    [intent] = await shop.intents_of(session["id"])
    assert intent["status"] == "succeeded"
    confirms = stripe_proxy.seen("POST", f"^/v1/payment_intents/{intent['id']}/confirm$")
    assert len(confirms) == 2 and confirms[0].idempotency_key == confirms[1].idempotency_key


async def test_a_lost_create_answer_leaves_no_second_charge(shop: StripeShop, stripe_proxy: FaultProxy) -> None:
    session = await shop.session()
    stripe_proxy.drop_answer("POST", CREATE)
    response = await shop.pay_card(session["id"])
    assert response.status_code == 200, response.text
    creates = [s for s in stripe_proxy.seen("POST", CREATE) if session["id"] in s.body.decode()]
    assert len(creates) == 2 and creates[0].idempotency_key == creates[1].idempotency_key
    # localstripe does not honour the key (Stripe does): its second intent is the one confirmed, the
    # first one was never confirmed, so it never charged.
    statuses = sorted(i["status"] for i in await shop.intents_of(session["id"]))
    assert statuses.count("succeeded") == 1 and len(await shop.orders_of(session["id"])) == 1


async def test_stripe_answering_500_is_retryable_and_no_order_is_made(
        shop: StripeShop, stripe_proxy: FaultProxy) -> None:
    session = await shop.session()
    stripe_proxy.fail("POST", CONFIRM, status=500)
    response = await shop.pay_card(session["id"])
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "payment_provider_unavailable" and error["details"]["retryable"] is True
    assert response.headers["Retry-After"] == "5"
    assert await shop.orders_of(session["id"]) == []
    # The reconcile job asks Stripe: the intent was never confirmed, so the attempt is released.
    await _reconcile(shop)
    again = await shop.t.get(f"/api/v1/checkout/sessions/{session['id']}")
    assert again.json()["status"] == "open" and again.json()["paymentStatus"] == "unpaid"
    assert (await shop.pay_card(session["id"])).status_code == 200
    assert [i["status"] for i in await shop.intents_of(session["id"])].count("succeeded") == 1


async def test_stripe_acting_but_never_answering_becomes_an_order_through_reconcile(
        shop: StripeShop, stripe_proxy: FaultProxy) -> None:
    session = await shop.session()
    stripe_proxy.drop_answer("POST", CONFIRM, times=2)  # the first answer and the retry's are both lost
    response = await shop.pay_card(session["id"])
    assert response.status_code == 503, response.text
    assert await shop.orders_of(session["id"]) == []  # Kassa does not know yet: no order on a guess
    await _reconcile(shop)
    assert len(await shop.orders_of(session["id"])) == 1
    assert [i["status"] for i in await shop.intents_of(session["id"])] == ["succeeded"]


async def test_stripe_timing_out_is_retryable(shop: StripeShop, stripe_proxy: FaultProxy) -> None:
    session = await shop.session()
    stripe_proxy.hang("POST", CONFIRM, times=2)
    response = await shop.pay_card(session["id"])
    stripe_proxy.release()
    assert response.status_code == 503 and response.json()["error"]["code"] == "payment_provider_unavailable"
    await _reconcile(shop)
    assert (await shop.pay_card(session["id"])).status_code == 200


async def test_a_refund_stripe_refuses_is_failed_with_its_reason_and_restores_nothing(
        shop: StripeShop, stripe_proxy: FaultProxy) -> None:
    session = await shop.session()
    order_id = (await shop.pay_card(session["id"])).json()["orderId"]
    refused = (b'{"error": {"type": "invalid_request_error", "code": "charge_disputed", '
               b'"message": "This charge is disputed and cannot be refunded."}}')
    stripe_proxy.fail("POST", r"^/v1/refunds$", status=400, body=refused)
    response = await shop.t.post(f"/api/v1/orders/{order_id}/refunds", {})
    assert response.status_code == 422 and response.json()["error"]["code"] == "refund_failed", response.text
    assert response.json()["error"]["details"]["reason"] == "charge_disputed"
    [refund] = (await shop.t.get(f"/api/v1/orders/{order_id}/refunds")).json()["data"]
    assert refund["status"] == "failed" and refund["failureCode"] == "charge_disputed"
    assert refund["failureMessage"] == "This charge is disputed and cannot be refunded."
    assert refund["promotionsRestored"] is False
    order = (await shop.t.get(f"/api/v1/orders/{order_id}")).json()
    assert order["status"] == "paid" and order["amountRefunded"] == 0


async def test_a_pending_refund_settles_when_stripe_says_so(shop: StripeShop, stripe_proxy: FaultProxy) -> None:
    session = await shop.session()
    order_id = (await shop.pay_card(session["id"])).json()["orderId"]
    [intent] = await shop.intents_of(session["id"])
    pending = (b'{"id": "re_pending_1", "object": "refund", "amount": 2500, "currency": "eur", '
               b'"payment_intent": "' + intent["id"].encode() + b'", "status": "pending"}')
    stripe_proxy.fail("POST", r"^/v1/refunds$", status=200, body=pending)
    response = await shop.t.post(f"/api/v1/orders/{order_id}/refunds", {})
    assert response.status_code == 201 and response.json()["status"] == "pending", response.text
    refund_id = response.json()["id"]
    updated = {"id": "evt_refund_" + refund_id, "object": "event", "type": "refund.updated",
               "data": {"object": {"id": "re_pending_1", "object": "refund", "amount": 2500, "currency": "eur",
                                   "status": "succeeded", "metadata": {"kassa_refund_id": refund_id}}}}
    assert (await shop.post_event(updated)).status_code == 200
    [refund] = (await shop.t.get(f"/api/v1/orders/{order_id}/refunds")).json()["data"]
    assert refund["status"] == "succeeded"
    assert (await shop.t.get(f"/api/v1/orders/{order_id}")).json()["status"] == "refunded"
