"""Completing a session: addresses, payment outcomes, the order, metadata, events, promotions."""

from __future__ import annotations

import sqlalchemy as sa
from kassa_checkout.tables import test_payment_intents

from tests.conftest import ADDRESS_DE
from tests.support.cards import DECLINE_CARD, ERROR_CARD, NO_FUNDS_CARD, OK_CARD, THREE_DS_CARD
from tests.support.envelopes import assert_envelope
from tests.support.shop import Shop

ADDRESS_FR = {"addressLine1": "1 Rue de Rivoli", "city": "Paris", "countryCode": "FR", "firstName": "Ana"}


async def _charges(shop: Shop, session_id: str) -> int:
    async with shop.backend.runtime.db() as conn:
        return (await conn.execute(sa.select(test_payment_intents.c.charges)
                                   .where(test_payment_intents.c.key == session_id))).scalar_one_or_none() or 0


async def test_missing_addresses_that_the_session_collects_are_named(shop: Shop) -> None:
    session = await shop.session(collect={"shippingAddress": True, "billingAddress": True})
    path = f"/api/v1/checkout-sessions/{session['id']}/complete"
    assert_envelope(await shop.t.post(path, {"paymentMethod": OK_CARD}), 422, "address_required", "shippingAddress")
    assert_envelope(await shop.t.post(path, {"paymentMethod": OK_CARD, "shippingAddress": ADDRESS_DE}),
                    422, "address_required", "billingAddress")
    # a wrong address shape is refused before anything happens, naming the canonical key
    bad = await shop.t.post(path, {"paymentMethod": OK_CARD, "shippingAddress": {**ADDRESS_DE, "zip": "10117"}})
    assert assert_envelope(bad, 422, "validation_error")["field"].startswith("shippingAddress")
    assert (await shop.get_cart(session["cartId"]))["status"] == "open"
    done = await shop.t.post(path, {"paymentMethod": OK_CARD, "shippingAddress": ADDRESS_DE,
                                    "billingSameAsShipping": True})
    assert done.status_code == 200, done.text
    order = (await shop.t.get(f"/api/v1/orders/{done.json()['orderId']}")).json()
    assert order["billingAddress"] == order["shippingAddress"] == (await shop.get_cart(session["cartId"]))["shippingAddress"]


async def test_the_carts_stored_addresses_stand_unless_the_body_gives_others(shop: Shop) -> None:
    """Addresses are validated when the cart stores them, so that checkout can use them: a complete
    needs to send them only to change them, and is refused only when neither exists."""
    cart = await shop.cart()
    patched = await shop.t.patch(f"/api/v1/carts/{cart['id']}", {"shippingAddress": ADDRESS_DE})
    assert patched.status_code == 200, patched.text
    session = await shop.session(cart["id"], collect={"shippingAddress": True, "billingAddress": True})
    path = f"/api/v1/checkout-sessions/{session['id']}/complete"
    # the cart has a shipping address but no billing address
    assert_envelope(await shop.t.post(path, {"paymentMethod": OK_CARD}), 422, "address_required", "billingAddress")
    assert (await shop.get_cart(cart["id"]))["status"] == "open"
    done = await shop.t.post(path, {"paymentMethod": OK_CARD, "billingSameAsShipping": True})
    assert done.status_code == 200, done.text
    order = (await shop.t.get(f"/api/v1/orders/{done.json()['orderId']}")).json()
    stored = patched.json()["shippingAddress"]
    assert order["shippingAddress"] == order["billingAddress"] == stored

    # a body address overrides the stored one
    cart = await shop.cart(shippingAddress=ADDRESS_DE, billingAddress=ADDRESS_DE)
    session = await shop.session(cart["id"], collect={"shippingAddress": True, "billingAddress": True})
    done = await shop.t.post(f"/api/v1/checkout-sessions/{session['id']}/complete",
                             {"paymentMethod": OK_CARD, "shippingAddress": ADDRESS_FR})
    assert done.status_code == 200, done.text
    order = (await shop.t.get(f"/api/v1/orders/{done.json()['orderId']}")).json()
    assert order["shippingAddress"]["countryCode"] == "FR" and order["billingAddress"]["countryCode"] == "DE"


async def test_a_session_that_collects_nothing_completes_without_addresses(shop: Shop) -> None:
    session = await shop.session(collect={"shippingAddress": False, "billingAddress": False})
    done = await shop.t.post(f"/api/v1/checkout-sessions/{session['id']}/complete", {"paymentMethod": OK_CARD})
    assert done.status_code == 200, done.text
    order = (await shop.t.get(f"/api/v1/orders/{done.json()['orderId']}")).json()
    assert order["shippingAddress"] is None and order["billingAddress"] is None


async def test_the_order_copies_the_locked_cart_and_merges_metadata(shop: Shop) -> None:
    await shop.t.post("/api/v1/tax-rates", {"countryCode": "FR", "taxClass": "standard", "rate": "20", "name": "TVA"})
    method = (await shop.t.post("/api/v1/shipping-methods", {"name": "Post", "prices": {"EUR": 490}})).json()
    cart = await shop.cart(3, metadata={"source": "cart", "channel": "web"}, customerEmail="ana@example.com")
    await shop.t.put(f"/api/v1/carts/{cart['id']}/shipping-method", {"shippingMethodId": method["id"]})
    session = await shop.session(cart["id"], metadata={"source": "session", "customerEmail": "spoof@example.com"})
    done = await shop.complete(session["id"], shippingAddress=ADDRESS_FR, billingAddress=ADDRESS_DE)
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["status"], body["paymentStatus"]) == ("complete", "paid") and body["completedAt"]
    order = (await shop.t.get(f"/api/v1/orders/{body['orderId']}")).json()
    locked = await shop.get_cart(cart["id"])
    assert locked["status"] == "converted"
    for key in ("lineItems", "shippingMethod", "shippingAddress", "billingAddress", "subtotal", "discountTotal",
                "shippingTotal", "taxTotal", "total", "itemCount", "currency", "customerEmail", "taxLines"):
        assert order[key] == locked[key], key
    assert order["shippingAddress"]["countryCode"] == "FR" and order["taxTotal"] > 0  # repriced at the lock
    assert order["metadata"] == {"source": "session", "channel": "web", "customerEmail": "ana@example.com"}
    assert (order["status"], order["sessionId"], order["cartId"]) == ("paid", session["id"], cart["id"])
    payment = (await shop.t.get(f"/api/v1/checkout/sessions/{session['id']}/payments")).json()["data"]
    assert [(p["status"], p["amount"], p["cardLast4"], p["cardBrand"]) for p in payment] == \
        [("captured", order["total"], "4242", "visa")]
    created = await shop.events("order.created")
    captured = await shop.events("payment.captured")
    completed = await shop.events("checkout.session.completed")
    assert created[0]["data"]["metadata"] == captured[0]["data"]["metadata"] == order["metadata"]
    assert created[0]["data"]["order"]["id"] == order["id"] and captured[0]["data"]["orderId"] == order["id"]
    assert completed[0]["data"]["orderId"] == order["id"]


async def test_completing_again_returns_the_same_order(shop: Shop) -> None:
    session = await shop.session()
    first = (await shop.complete(session["id"])).json()
    second = await shop.complete(session["id"], DECLINE_CARD)
    assert second.status_code == 200 and second.json()["orderId"] == first["orderId"]
    assert len((await shop.t.get("/api/v1/orders")).json()["data"]) == 1
    assert await _charges(shop, session["id"]) == 1


async def test_a_decline_reopens_the_cart_and_keeps_the_session_open(shop: Shop) -> None:
    session = await shop.session()
    declined = await shop.complete(session["id"], DECLINE_CARD)
    error = assert_envelope(declined, 402, "payment_declined")
    assert error["details"]["reason"] == "card_declined" and error["details"]["retryable"] is False
    assert (await shop.get_cart(session["cartId"]))["status"] == "open"
    seen = (await shop.t.get(f"/api/v1/checkout/sessions/{session['id']}")).json()
    assert seen["status"] == "open" and seen["lastPaymentError"]["code"] == "card_declined"
    failed = await shop.events("payment.failed")
    assert [e["data"]["payment"]["failureCode"] for e in failed] == ["card_declined"]
    no_funds = assert_envelope(await shop.complete(session["id"], NO_FUNDS_CARD), 402, "payment_declined")
    assert no_funds["details"]["reason"] == "insufficient_funds"
    flaky = assert_envelope(await shop.complete(session["id"], ERROR_CARD), 402, "payment_failed")
    assert flaky["details"] == {**flaky["details"], "reason": "processing_error", "retryable": True}
    done = await shop.complete(session["id"])
    assert done.status_code == 200 and done.json()["lastPaymentError"] is None
    attempts = (await shop.t.get(f"/api/v1/checkout/sessions/{session['id']}/payments")).json()["data"]
    assert [(p["attempt"], p["status"]) for p in attempts] == \
        [(1, "failed"), (2, "failed"), (3, "failed"), (4, "captured")]
    assert await _charges(shop, session["id"]) == 1


async def test_a_payment_with_a_second_step(shop: Shop) -> None:
    session = await shop.session()
    waiting = assert_envelope(await shop.complete(session["id"], THREE_DS_CARD), 402, "payment_action_required")
    assert waiting["details"]["nextAction"] == {"type": "three_d_secure"}
    seen = (await shop.t.get(f"/api/v1/checkout/sessions/{session['id']}")).json()
    assert (seen["status"], seen["paymentStatus"]) == ("open", "requires_action")
    assert (await shop.get_cart(session["cartId"]))["status"] == "checkout"
    # asking again without the result keeps waiting; a declined challenge fails the attempt
    assert (await shop.complete(session["id"], THREE_DS_CARD)).status_code == 402
    failed = await shop.complete(session["id"], {**THREE_DS_CARD, "actionResult": "declined"})
    assert assert_envelope(failed, 402, "payment_declined")["details"]["reason"] == "authentication_failed"
    assert (await shop.get_cart(session["cartId"]))["status"] == "open"
    assert (await shop.complete(session["id"], THREE_DS_CARD)).status_code == 402
    done = await shop.complete(session["id"], {**THREE_DS_CARD, "actionResult": "approved"})
    assert done.status_code == 200, done.text
    attempts = (await shop.t.get(f"/api/v1/checkout/sessions/{session['id']}/payments")).json()["data"]
    assert [p["status"] for p in attempts] == ["failed", "captured"]


async def test_the_second_step_is_finished_by_the_action_result_alone(shop: Shop) -> None:
    session = await shop.session()
    path = f"/api/v1/checkout-sessions/{session['id']}/complete"
    # nothing waits for a second step yet: an action result alone is not a payment method
    assert_envelope(await shop.t.post(path, {"paymentMethod": {"actionResult": "approved"}}),
                    422, "validation_error", "paymentMethod.type")
    waiting = assert_envelope(await shop.complete(session["id"], THREE_DS_CARD), 402, "payment_action_required")
    declined = await shop.t.post(path, {"paymentMethod": {"actionResult": "declined"}})
    assert assert_envelope(declined, 402, "payment_declined")["details"]["reason"] == "authentication_failed"
    assert (await shop.get_cart(session["cartId"]))["status"] == "open"
    assert_envelope(await shop.t.post(path, {"paymentMethod": {"actionResult": "approved"}}),
                    422, "validation_error", "paymentMethod.type")  # the declined attempt is over
    again = assert_envelope(await shop.complete(session["id"], THREE_DS_CARD), 402, "payment_action_required")
    assert again["details"]["paymentId"] != waiting["details"]["paymentId"]
    done = await shop.t.post(path, {"paymentMethod": {"actionResult": "approved"}})  # no card number, no address
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["paymentStatus"]) == ("complete", "paid")
    attempts = (await shop.t.get(f"/api/v1/checkout/sessions/{session['id']}/payments")).json()["data"]
    assert [(p["status"], p["method"], p["cardLast4"]) for p in attempts] == \
        [("failed", "card", "3184"), ("captured", "card", "3184")]
    assert await _charges(shop, session["id"]) == 1


async def test_the_second_step_may_keep_the_type_of_the_method_it_finishes(shop: Shop) -> None:
    """A client that sends the method's `type` with `actionResult` finishes the waiting payment; another
    method's type (or another card) is refused naming the field, and the waiting payment stands."""
    session = await shop.session()
    path = f"/api/v1/checkout-sessions/{session['id']}/complete"
    # nothing waits for a second step: a card without its number cannot start a payment
    assert_envelope(await shop.t.post(path, {"paymentMethod": {"type": "card", "actionResult": "approved"}}),
                    422, "validation_error", "paymentMethod.card")
    assert_envelope(await shop.complete(session["id"], THREE_DS_CARD), 402, "payment_action_required")
    declined = await shop.t.post(path, {"paymentMethod": {"type": "card", "actionResult": "declined"}})
    assert assert_envelope(declined, 402, "payment_declined")["details"]["reason"] == "authentication_failed"
    waiting = assert_envelope(await shop.complete(session["id"], THREE_DS_CARD), 402, "payment_action_required")
    for other, field in (({"type": "paypal", "actionResult": "approved"}, "paymentMethod.type"),
                         ({"type": "paypal", "token": "tok_ok", "actionResult": "approved"}, "paymentMethod.type"),
                         ({**OK_CARD, "actionResult": "approved"}, "paymentMethod.card.number")):
        refused = assert_envelope(await shop.t.post(path, {"paymentMethod": other}), 422, "validation_error", field)
        assert "card" in refused["message"]
    seen = (await shop.t.get(f"/api/v1/checkout/sessions/{session['id']}")).json()
    assert (seen["status"], seen["paymentStatus"]) == ("open", "requires_action")
    assert (await shop.get_cart(session["cartId"]))["status"] == "checkout"
    done = await shop.t.post(path, {"paymentMethod": {"type": "card", "actionResult": "approved"}})
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["paymentStatus"]) == ("complete", "paid")
    attempts = (await shop.t.get(f"/api/v1/checkout/sessions/{session['id']}/payments")).json()["data"]
    assert [(p["id"], p["status"], p["method"], p["cardLast4"]) for p in attempts][-1] == \
        (waiting["details"]["paymentId"], "captured", "card", "3184")
    assert [p["status"] for p in attempts] == ["failed", "captured"]
    assert await _charges(shop, session["id"]) == 1


async def test_wallet_methods_and_bad_payment_input(shop: Shop) -> None:
    session = await shop.session()
    declined = await shop.complete(session["id"], {"type": "paypal", "token": "tok_decline"})
    assert_envelope(declined, 402, "payment_declined")
    assert_envelope(await shop.complete(session["id"], {"type": "card"}), 422, "validation_error", "paymentMethod.card")
    assert_envelope(await shop.complete(session["id"], {"type": "card", "card": {"number": "abc"}}),
                    422, "validation_error", "paymentMethod.card.number")
    assert_envelope(await shop.complete(session["id"], {"type": "cash"}), 422, "validation_error", "paymentMethod.type")
    assert_envelope(await shop.complete(session["id"], {"type": "paypal"}), 422, "validation_error",
                    "paymentMethod.token")
    assert (await shop.get_cart(session["cartId"]))["status"] == "open"
    assert (await shop.complete(session["id"], {"type": "paypal", "token": "tok_ok"})).status_code == 200


async def test_a_cart_changed_or_taken_elsewhere_is_reported(shop: Shop) -> None:
    cart = await shop.cart()
    first = await shop.session(cart["id"])
    second = await shop.session(cart["id"])
    assert (await shop.complete(first["id"])).status_code == 200
    assert_envelope(await shop.complete(second["id"]), 409, "cart_not_open")
    assert (await shop.t.get(f"/api/v1/checkout/sessions/{second['id']}")).json()["status"] == "open"


async def test_a_shipping_method_is_required_when_one_is_offered(shop: Shop) -> None:
    await shop.t.post("/api/v1/shipping-methods", {"name": "Post", "prices": {"EUR": 490}})
    session = await shop.session()
    assert_envelope(await shop.complete(session["id"]), 422, "shipping_method_required", "shippingMethod")
    assert (await shop.get_cart(session["cartId"]))["status"] == "open"


async def test_promotions_are_reserved_confirmed_and_released(shop: Shop) -> None:
    t = shop.t
    camp = (await t.post("/api/v1/campaigns", {"name": "Once", "usageLimit": 1,
                                               "reward": {"type": "fixed_off", "amounts": {"EUR": 500}}})).json()
    await t.post(f"/api/v1/campaigns/{camp['id']}/codes", {"code": "ONCE"})
    session = await shop.session(discountCode="ONCE")
    assert_envelope(await shop.complete(session["id"], DECLINE_CARD), 402, "payment_declined")
    rows = (await t.get("/api/v1/redemptions", params={"campaignId": camp["id"]})).json()["data"]
    assert [r["status"] for r in rows] == ["released"]  # the decline gave the use back
    done = await shop.complete(session["id"])
    assert done.status_code == 200
    order_id = done.json()["orderId"]
    rows = (await t.get("/api/v1/redemptions", params={"campaignId": camp["id"], "status": "confirmed"})).json()["data"]
    assert [(r["orderId"], r["amount"]) for r in rows] == [(order_id, 500)]
    order = (await t.get(f"/api/v1/orders/{order_id}")).json()
    assert order["discountTotal"] == 500 and [d["code"] for d in order["discounts"]] == ["ONCE"]
    stats = (await t.get(f"/api/v1/campaigns/{camp['id']}/stats")).json()
    assert stats["uses"] == 1
    # the only use is spent: another cart cannot have it
    other = await shop.cart()
    assert_envelope(await t.post("/api/v1/checkout/sessions", {"cartId": other["id"], "discountCode": "ONCE"}),
                    422, "discount_invalid")


async def test_first_order_offers_know_the_customers_earlier_orders(shop: Shop) -> None:
    t = shop.t
    await t.post("/api/v1/campaigns", {"name": "Welcome", "trigger": "automatic", "rules": {"firstOrderOnly": True},
                                       "reward": {"type": "fixed_off", "amounts": {"EUR": 700}}})
    anonymous = await shop.cart()
    assert anonymous["discountTotal"] == 0  # unknown customer: first-order offers fail closed
    first = await shop.cart(customerEmail="Newbie@example.com")
    assert first["discountTotal"] == 700
    session = await shop.session(first["id"])
    assert (await shop.complete(session["id"])).status_code == 200
    again = await shop.cart(customerEmail="newbie@example.com")
    assert again["discountTotal"] == 0
    assert "not_first_order" not in str(again["discounts"])  # automatic misses stay private
    other = await shop.cart(customerEmail="someone@example.com")
    assert other["discountTotal"] == 700
