"""`kassa_sdk.webhooks.verify` on real deliveries from Kassa to a loopback receiver, side by side with
the official svix library's verification of the same bytes: both accept the genuine deliveries, both
refuse tampered, stale, early and wrongly signed ones."""

from __future__ import annotations

import base64
import inspect
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import kassa_sdk
import pytest
from kassa_contract import checkout, customers, erasure, events, webhooks
from kassa_sdk.events import (
    EVENT_CLASSES,
    CartCreatedEvent,
    CheckoutSessionCompletedEvent,
    OrderCreatedEvent,
    PaymentCapturedEvent,
    UnknownEvent,
    WebhookEndpointTestEvent,
    parse_event,
)
from kassa_sdk.types import CartAddress, LineItemInput
from kassa_sdk.webhooks import WebhookVerificationError, construct_event, verify
from svix.webhooks import Webhook
from svix.webhooks import WebhookVerificationError as SvixError

from tests.sdk.conftest import OK_CARD, Shop, delivered
from tests.webhooks.receiver import Received, Receiver

ADDRESS = CartAddress(address_line1="Unter den Linden 1", city="Berlin", country_code="DE")


def svix_accepts(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    try:
        Webhook(secret).verify(body, headers)
        return True
    except (SvixError, ValueError):  # svix raises a bare ValueError for a malformed signature header
        return False


def sdk_accepts(secret: str | list[str], body: bytes, headers: dict[str, str]) -> bool:
    try:
        verify(body, headers, secret)
        return True
    except WebhookVerificationError:
        return False


def resigned(secret: str, delivery: Received, at: datetime) -> dict[str, str]:
    """The delivery's own id and body, signed correctly (by svix) for another moment."""
    signature = Webhook(secret).sign(delivery.event_id, at, delivery.body.decode())
    return {"webhook-id": delivery.event_id, "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature}


def other_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


async def test_real_deliveries_verify_like_svix_and_decode_to_typed_events(shop: Shop, receiver: Receiver) -> None:
    async with shop.async_client() as kassa:
        endpoint = await kassa.webhook_endpoints.create(url=receiver.url, enabled_events=["*"])
        secret = endpoint.secret
        receiver.secrets.append(secret)
        variant = await shop.variant(kassa)
        cart = await kassa.carts.create(currency="EUR", line_items=[LineItemInput(variant_id=variant, quantity=2)])
        session = await kassa.checkout.sessions.create(cart_id=cart.id, metadata={"crm": "42"})
        paid = await kassa.checkout.sessions.complete(session.id, payment_method=OK_CARD, shipping_address=ADDRESS)
        await kassa.webhook_endpoints.send_test(endpoint.id)
        await delivered(shop, receiver, 7)

    by_type: dict[str, Any] = {}
    for delivery in receiver.received:
        body, headers = delivery.body, delivery.headers
        assert delivery.verified and svix_accepts(secret, body, headers)  # the receiver verified it with svix
        event = verify(body, headers, secret)
        assert event.id == delivery.event_id and not isinstance(event, UnknownEvent)
        assert isinstance(event, EVENT_CLASSES[event.type])
        by_type[event.type] = event
        # the same, given header values one by one, as text, with the headers in another case, with two secrets
        assert construct_event(body.decode(), webhook_id=headers["webhook-id"],
                               webhook_timestamp=headers["webhook-timestamp"],
                               webhook_signature=headers["webhook-signature"], secret=secret).id == event.id
        assert verify(body, {k.title(): v for k, v in headers.items()}, [other_secret(), secret]).id == event.id

        tampered = body.replace(b'"', b"'", 1)
        assert not svix_accepts(secret, tampered, headers) and not sdk_accepts(secret, tampered, headers)
        wrong = other_secret()
        assert not svix_accepts(wrong, body, headers) and not sdk_accepts(wrong, body, headers)
        forged = {**headers, "webhook-signature": Webhook(wrong).sign(delivery.event_id, datetime.now(UTC),
                                                                      body.decode())}
        assert not svix_accepts(secret, body, forged) and not sdk_accepts(secret, body, forged)
        other_id = {**headers, "webhook-id": "msg_other"}
        assert not svix_accepts(secret, body, other_id) and not sdk_accepts(secret, body, other_id)
        for skew in (timedelta(minutes=-6), timedelta(minutes=6)):  # stale, and from the future
            moved = resigned(secret, delivery, datetime.now(UTC) + skew)
            assert not svix_accepts(secret, body, moved) and not sdk_accepts(secret, body, moved)
        inside = resigned(secret, delivery, datetime.now(UTC) - timedelta(minutes=4))
        assert svix_accepts(secret, body, inside) and sdk_accepts(secret, body, inside)
        for bad in ({}, {**headers, "webhook-signature": "v1,!!!"}, {**headers, "webhook-timestamp": "soon"},
                    {**headers, "webhook-signature": "v2," + headers["webhook-signature"].split(",", 1)[1]}):
            assert not svix_accepts(secret, body, bad) and not sdk_accepts(secret, body, bad)

    created = by_type["cart.created"]
    assert isinstance(created, CartCreatedEvent) and created.data.cart.id == cart.id
    order = by_type["order.created"]
    assert isinstance(order, OrderCreatedEvent) and order.data.order.id == paid.order_id
    assert order.data.metadata["crm"] == "42" and order.data.order.total == cart.total
    assert isinstance(by_type["payment.captured"], PaymentCapturedEvent)
    completed = by_type["checkout.session.completed"]
    assert isinstance(completed, CheckoutSessionCompletedEvent) and completed.data.order_id == paid.order_id
    test = by_type["webhook_endpoint.test"]
    assert isinstance(test, WebhookEndpointTestEvent) and test.data.endpoint_id == endpoint.id


async def test_during_a_rotation_both_secrets_verify(shop: Shop, receiver: Receiver) -> None:
    async with shop.async_client() as kassa:
        endpoint = await kassa.webhook_endpoints.create(url=receiver.url, enabled_events=["*"])
        rotated = await kassa.webhook_endpoints.rotate_secret(endpoint.id, overlap_hours=1)
        receiver.secrets.append(rotated.secret)
        await kassa.webhook_endpoints.send_test(endpoint.id)
        await delivered(shop, receiver, 1)
    delivery = receiver.received[0]
    assert len(delivery.headers["webhook-signature"].split()) == 2
    for secret in (endpoint.secret, rotated.secret):
        assert svix_accepts(secret, delivery.body, delivery.headers)
        assert sdk_accepts(secret, delivery.body, delivery.headers)
    assert not sdk_accepts(other_secret(), delivery.body, delivery.headers)


def test_every_event_type_of_the_contract_has_a_class_and_unknown_types_still_decode() -> None:
    constants = {value for module in (events, checkout, webhooks, customers, erasure)
                 for name, value in inspect.getmembers(module) if name.isupper() and isinstance(value, str) and "." in value}
    assert constants == set(EVENT_CLASSES)
    future = parse_event(b'{"id":"evt_1","type":"invoice.paid","version":"1","createdAt":"2026-01-01T00:00:00Z",'
                         b'"data":{"invoiceId":"in_1"},"addedLater":true}')
    assert isinstance(future, UnknownEvent) and future.data == {"invoiceId": "in_1"}


def test_a_bad_secret_or_body_is_a_verification_error() -> None:
    secret = other_secret()
    now = datetime.now(UTC)
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": Webhook(secret).sign("msg_1", now, "not json")}
    with pytest.raises(WebhookVerificationError, match="not a Kassa event"):
        verify(b"not json", headers, secret)
    with pytest.raises(WebhookVerificationError, match="secret"):
        verify(b"not json", headers, "whsec_***")
    assert issubclass(WebhookVerificationError, kassa_sdk.KassaError)
