"""Erasure (GDPR art. 17) on both databases, across the three services in one process as `kassa serve`
runs them: a customer with everything a shopper leaves behind, erased, then every column of every
table searched for their strings. Plus the guest-by-email path, repeats, bad input, the event."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import sqlalchemy as sa
from kassa_cart import abandonment, erasure_rows

from tests.conftest import Backend
from tests.support.campaigns import campaign, code
from tests.support.cards import OK_CARD
from tests.support.envelopes import assert_envelope
from tests.support.erasure import Person, strings_in
from tests.webhooks.conftest import Merchant, Webhooks
from tests.webhooks.receiver import Receiver

DAY = 1440


async def find_everywhere(backend: Backend, strings: list[str]) -> list[str]:
    async with backend.runtime.db() as conn:
        return await strings_in(conn, strings)


async def _checkout(m: Merchant, method: str, path: str, body: Any = None) -> httpx.Response:
    """The checkout service's API (the backend's router holds the cart and checkout apps)."""
    return await m.backend.client.request(method, path, json=body, headers=m.headers())


async def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()


async def _shopper_everywhere(m: Merchant, wh: Webhooks, receiver: Receiver, p: Person) -> dict[str, Any]:
    """A customer and all they leave behind; the ids of what was made."""
    await _ok(await m.put("/api/v1/customer-settings", {"personalMetadataKeys": ["deliveryNote"]}))
    await m.endpoint(receiver)
    receiver.respond = lambda r: (200, {}, r.body)  # a receiver that echoes: attempts keep an excerpt of it
    customer = await _ok(await m.post("/api/v1/customers", {
        "email": p.email, "firstName": p.first, "lastName": p.last, "phone": p.phone,
        "metadata": {"deliveryNote": p.note, "tier": "gold"}}, headers={"Idempotency-Key": secrets.token_hex(8)}), 201)
    variant = await m.variant({"EUR": 2500})
    await _ok(await m.post("/api/v1/tax-rates", {"countryCode": "DE", "rate": "19", "name": "DE VAT"}), 201)
    camp = await campaign(m, reward={"type": "fixed_off", "amounts": {"EUR": 500}})
    await code(m, camp["id"], code=f"E{secrets.token_hex(3)}".upper())
    promo = (await m.get(f"/api/v1/campaigns/{camp['id']}/codes")).json()["data"][0]["code"]
    gift = f"G{secrets.token_hex(3)}".upper()
    await code(m, camp["id"], code=gift)
    await _ok(await m.post(f"/api/v1/codes/{gift}/assign", {"customer": p.email}))
    # The customer's own cart, left idle (abandoned below), and a guest cart under their email that is paid.
    own = await m.cart(lineItems=[{"variantId": variant, "quantity": 1}], customerId=customer["id"],
                       shippingAddress=p.address, metadata={"deliveryNote": p.note})
    await wh.run()  # delivered (and echoed back) so far
    guest = await m.cart(lineItems=[{"variantId": variant, "quantity": 2}], customerEmail=p.email,
                         discountCodes=[promo], billingAddress=p.address, metadata={"deliveryNote": p.note})
    session = await _ok(await _checkout(m, "POST", "/api/v1/checkout/sessions", {
        "cartId": guest["id"], "metadata": {"deliveryNote": p.note}}), 201)
    done = await _ok(await _checkout(m, "POST", f"/api/v1/checkout-sessions/{session['id']}/complete",
                                     {"shippingAddress": p.address, "paymentMethod": OK_CARD}))
    order_id = done["orderId"] if "orderId" in done else done["order"]["id"]
    m.backend.clock.advance(minutes=DAY + 1)
    assert await abandonment.sweep(m.backend.runtime.db, m.backend.clock, m.backend.runtime.settings.signing_key,
                                   app_ids={m.app_id}) == 1
    await wh.relay()  # stored, their deliveries queued and not sent
    assert [d for d in await m.deliveries(status="pending")]
    return {"customer": customer, "own": own, "guest": guest, "session": session, "order_id": order_id, "gift": gift}


async def test_erasure_leaves_none_of_the_person_anywhere(merchant: Merchant, webhooks: Webhooks,
                                                          receiver: Receiver) -> None:
    p = Person()
    made = await _shopper_everywhere(merchant, webhooks, receiver, p)
    assert await find_everywhere(merchant.backend, p.strings)  # the search does find them before
    order = await _ok(await _checkout(merchant, "GET", f"/api/v1/orders/{made['order_id']}"))
    pending = len(await merchant.deliveries(status="pending"))

    answer = await _ok(await merchant.post("/api/v1/customers/erase", {"customerId": made["customer"]["id"]}))

    assert answer["status"] == "completed" and answer["customerId"] == made["customer"]["id"]
    r = answer["redacted"]
    assert r["customers"] == 1 and r["carts"] == 2 and r["cartAbandonments"] == 1 and r["redemptions"] >= 1
    assert r["checkoutSessions"] == 1 and r["orders"] == 1 and r["webhookEvents"] > 0 and r["outboxEvents"] > 0
    assert r["idempotencyAnswers"] >= 1 and r["webhookAttempts"] >= 1 and r["promotionCodes"] == 1
    assert 0 < r["webhookDeliveriesQueued"] <= pending
    assert await find_everywhere(merchant.backend, p.strings) == []

    # What the merchant must keep stays: amounts, lines, tax, the tax jurisdiction.
    after = await _ok(await _checkout(merchant, "GET", f"/api/v1/orders/{made['order_id']}"))
    for kept in ("total", "subtotal", "taxTotal", "discountTotal", "shippingTotal", "currency", "lineItems",
                 "taxLines"):
        assert after[kept] == order[kept], kept
    assert after["taxTotal"] > 0 and after["discountTotal"] == 500
    assert after["customerEmail"] is None
    assert after["shippingAddress"]["countryCode"] == "DE" and after["shippingAddress"]["region"] == "Bayern"
    assert after["shippingAddress"]["addressLine1"] == "redacted" and after["shippingAddress"]["firstName"] is None
    assert (await merchant.get(f"/api/v1/customers/{made['customer']['id']}")).status_code == 404
    # A code assigned to the email stays theirs alone: assigned to the customer id now.
    assert (await _ok(await merchant.get(f"/api/v1/codes/{made['gift']}")))["assignedTo"] == made["customer"]["id"]
    cart = await _ok(await merchant.get(f"/api/v1/carts/{made['own']['id']}"))
    assert cart["metadata"] == {"deliveryNote": "redacted"} and cart["lineItems"] == made["own"]["lineItems"]

    # The queued deliveries go out redacted, and `customer.erased` carries ids only.
    await webhooks.run()
    bodies = [r.body.decode() for r in receiver.ok()]
    erased = [r.event for r in receiver.ok() if r.event["type"] == "customer.erased"]
    assert len(erased) == 1
    assert erased[0]["data"] == {"customerId": made["customer"]["id"], "erasureId": answer["id"]}
    late = bodies[-pending:]
    assert not [s for s in p.strings for b in late if s.lower() in b.lower()]
    assert await find_everywhere(merchant.backend, p.strings) == []

    # A repeat: the same shape, nothing left, no second event.
    again = await _ok(await merchant.post("/api/v1/customers/erase", {"customerId": made["customer"]["id"]}))
    assert set(again["redacted"]) == set(r) and not any(again["redacted"].values())
    by_email = await _ok(await merchant.post("/api/v1/customers/erase", {"email": p.email}))
    assert not any(by_email["redacted"].values())
    await webhooks.run()
    assert len([r for r in receiver.ok() if r.event["type"] == "customer.erased"]) == 1


async def test_a_guest_known_by_email_only(merchant: Merchant, webhooks: Webhooks, receiver: Receiver) -> None:
    p = Person()
    await merchant.endpoint(receiver)
    variant = await merchant.variant({"EUR": 1200})
    guest = await merchant.cart(lineItems=[{"variantId": variant}], customerEmail=p.email, shippingAddress=p.address)
    other = await merchant.cart(lineItems=[{"variantId": variant}], customerEmail="someone.else@example.com")
    await webhooks.relay()

    answer = await _ok(await merchant.post("/api/v1/customers/erase", {"email": p.email.upper()}))

    assert answer["customerId"] is None and answer["redacted"]["carts"] == 1 and answer["redacted"]["customers"] == 0
    assert await find_everywhere(merchant.backend, p.strings) == []
    assert (await merchant.get(f"/api/v1/carts/{other['id']}")).json()["customerEmail"] == "someone.else@example.com"
    assert (await merchant.get(f"/api/v1/carts/{guest['id']}")).json()["customerEmail"] is None
    await webhooks.run()
    erased = [r.event["data"] for r in receiver.ok() if r.event["type"] == "customer.erased"]
    assert erased == [{"customerId": None, "erasureId": answer["id"]}]
    # An email nobody used is a guest with nothing to erase: zeros, not an error.
    nobody = await _ok(await merchant.post("/api/v1/customers/erase", {"email": "nobody@example.com"}))
    assert not any(nobody["redacted"].values())


async def test_bad_input_and_unknown_customers(merchant: Merchant) -> None:
    assert_envelope(await merchant.post("/api/v1/customers/erase", {}), 422, "validation_error")
    assert_envelope(await merchant.post("/api/v1/customers/erase", {"customerId": "cus_x", "email": "a@b.co"}),
                    422, "validation_error")
    assert_envelope(await merchant.post("/api/v1/customers/erase", {"email": "not an email"}), 422,
                    "validation_error")
    assert_envelope(await merchant.post("/api/v1/customers/erase", {"customerId": "cus_unknown"}), 404,
                    "customer_not_found")
    assert_envelope(await merchant.get("/api/v1/customer-erasures/era_unknown"), 404, "erasure_not_found")
    writer = await merchant.scoped_key(["customers:write"])
    assert_envelope(await merchant.post("/api/v1/customers/erase", {"email": "a@b.co"}, key=writer), 403, "forbidden")
    eraser = await merchant.scoped_key(["customers:erase"])
    assert (await merchant.post("/api/v1/customers/erase", {"email": "a@b.co"}, key=eraser)).status_code == 200


async def test_a_failure_midway_is_finished_by_the_job(merchant: Merchant, webhooks: Webhooks) -> None:
    """The webhook service does not answer: the erasure stays pending with what it did (503); the
    `complete_erasures` job finishes it."""
    from kassa_cart.service import module_of

    p = Person()
    variant = await merchant.variant({"EUR": 1200})
    await merchant.cart(lineItems=[{"variantId": variant}], customerEmail=p.email, shippingAddress=p.address)
    await webhooks.relay()
    erasure = module_of(merchant.backend.runtime).erasure
    healthy = erasure.webhooks
    erasure.webhooks = type(healthy)("webhooks", merchant.backend.runtime.settings, {}, attempts=1)
    try:
        assert_envelope(await merchant.post("/api/v1/customers/erase", {"email": p.email}), 503, "service_unavailable")
    finally:
        erasure.webhooks = healthy
    assert await find_everywhere(merchant.backend, [p.email])  # the stored event body still holds it

    async with merchant.backend.runtime.db() as conn:
        left = await erasure_rows.pending(conn, merchant.app_id)
    assert [e.report["carts"] for e in left] == [1]

    # The job finishes what is pending (after a minute), counting each row once.
    merchant.backend.clock.advance(minutes=2)
    assert await merchant.backend.runtime.runner.run_cron("complete_erasures") >= 1
    done = await _ok(await merchant.get(f"/api/v1/customer-erasures/{left[0].id}"))
    assert done["status"] == "completed" and done["redacted"]["carts"] == 1 and done["redacted"]["webhookEvents"] >= 1
    assert await find_everywhere(merchant.backend, p.strings) == []
    again = await _ok(await merchant.post("/api/v1/customers/erase", {"email": p.email}))
    assert not any(again["redacted"].values())


async def test_a_retry_of_the_call_finishes_a_pending_erasure(merchant: Merchant, webhooks: Webhooks) -> None:
    from kassa_cart.service import module_of

    p = Person()
    variant = await merchant.variant({"EUR": 1200})
    await merchant.cart(lineItems=[{"variantId": variant}], customerEmail=p.email, shippingAddress=p.address)
    await webhooks.relay()
    erasure = module_of(merchant.backend.runtime).erasure
    healthy = erasure.webhooks
    erasure.webhooks = type(healthy)("webhooks", merchant.backend.runtime.settings, {}, attempts=1)
    try:
        assert_envelope(await merchant.post("/api/v1/customers/erase", {"email": p.email}), 503, "service_unavailable")
    finally:
        erasure.webhooks = healthy
    answer = await _ok(await merchant.post("/api/v1/customers/erase", {"email": p.email}))
    assert answer["redacted"]["carts"] == 1 and answer["redacted"]["webhookEvents"] >= 1
    assert await find_everywhere(merchant.backend, p.strings) == []


async def test_two_erasures_of_one_customer_at_once(pg_webhooks: Webhooks) -> None:
    """PostgreSQL, two calls racing: the customer row's lock puts them in turn, one `customer.erased`."""
    import asyncio

    from kassa_platform.tables import outbox_events

    from tests.webhooks.conftest import make_merchant

    m = await make_merchant(pg_webhooks)
    p = Person()
    customer = await _ok(await m.post("/api/v1/customers", {"email": p.email, "lastName": p.last}), 201)
    variant = await m.variant({"EUR": 1200})
    await m.cart(lineItems=[{"variantId": variant}], customerId=customer["id"], shippingAddress=p.address)
    answers = await asyncio.gather(*[m.post("/api/v1/customers/erase", {"customerId": customer["id"]})
                                     for _ in range(2)])
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert sorted(a.json()["redacted"]["customers"] for a in answers) in ([0, 1], [1, 1])  # one delete, maybe shared
    async with m.backend.runtime.db() as conn:
        erased = (await conn.execute(sa.select(sa.func.count()).select_from(outbox_events).where(
            outbox_events.c.app_id == m.app_id, outbox_events.c.type == "customer.erased"))).scalar_one()
    assert erased == 1
    assert await find_everywhere(m.backend, p.strings) == []
