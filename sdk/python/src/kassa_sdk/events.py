"""The events Kassa sends to webhook endpoints, typed: one class per event type, `UnknownEvent` for the rest.

    event = kassa_sdk.webhooks.verify(body, headers, secret)
    if isinstance(event, CartAbandonedEvent):
        event.data.recovery_url                      # typed: kassa_contract.events.CartAbandonedData

Each class is the envelope `{id, type, version, apiVersion, createdAt, data}` with its `data` type
from the contract. `api_version` is the API version `data` is rendered in: the webhook endpoint's
own version (set when the endpoint is created or updated, by default the application's at the
time), not this SDK's `API_VERSION`. These classes are the newest version's shapes, so give the
endpoint that feeds them the version this SDK sends (`kassa_sdk.API_VERSION`). Kassa only adds fields within a version, and these types accept unknown fields, so a
newer server never breaks an older SDK; an event type this SDK does not know yet decodes as
`UnknownEvent` (its data as a dict) instead of failing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec
from kassa_contract import checkout, customers, erasure, events, webhooks
from kassa_contract.base import Model
from kassa_contract.checkout import (
    DisputeEventData,
    OrderEventData,
    PaymentEventData,
    PaymentRefundedData,
    RefundEventData,
    SessionEventData,
)
from kassa_contract.customers import CustomerEventData
from kassa_contract.erasure import CustomerErasedData
from kassa_contract.events import CartAbandonedData, CartEventData, CartRecoveredData
from kassa_contract.versions import FIRST_VERSION
from kassa_contract.webhooks import WebhookEndpointDisabledData, WebhookTestData


class EventBase(Model, kw_only=True):
    """What every event has: its id (`evt_...`, the same on every delivery of it), version and time, and
    the API version its `data` is rendered in (the endpoint's; the first version for an event from a
    server before versions)."""

    id: str
    version: str
    created_at: datetime
    api_version: str = FIRST_VERSION


class CartCreatedEvent(EventBase):
    type: Literal["cart.created"]
    data: CartEventData


class CartUpdatedEvent(EventBase):
    type: Literal["cart.updated"]
    data: CartEventData


class CartAbandonedEvent(EventBase):
    type: Literal["cart.abandoned"]
    data: CartAbandonedData


class CartRecoveredEvent(EventBase):
    type: Literal["cart.recovered"]
    data: CartRecoveredData


class CustomerCreatedEvent(EventBase):
    type: Literal["customer.created"]
    data: CustomerEventData


class CustomerUpdatedEvent(EventBase):
    type: Literal["customer.updated"]
    data: CustomerEventData


class CustomerDeletedEvent(EventBase):
    type: Literal["customer.deleted"]
    data: CustomerEventData


class CustomerErasedEvent(EventBase):
    """The person's data was erased in Kassa (ids only): erase it in your systems too."""

    type: Literal["customer.erased"]
    data: CustomerErasedData


class CheckoutSessionCompletedEvent(EventBase):
    type: Literal["checkout.session.completed"]
    data: SessionEventData


class CheckoutSessionCancelledEvent(EventBase):
    type: Literal["checkout.session.cancelled"]
    data: SessionEventData


class CheckoutSessionExpiredEvent(EventBase):
    type: Literal["checkout.session.expired"]
    data: SessionEventData


class OrderCreatedEvent(EventBase):
    type: Literal["order.created"]
    data: OrderEventData


class OrderRefundedEvent(EventBase):
    type: Literal["order.refunded"]
    data: RefundEventData


class OrderDisputedEvent(EventBase):
    """The shopper's bank disputes the order's payment (a chargeback): `data.dispute` says why and how far."""

    type: Literal["order.disputed"]
    data: DisputeEventData


class PaymentRefundedEvent(EventBase):
    """A payment the provider took that could not become an order (its session ended, or the cart
    changed to another amount): it was given back."""

    type: Literal["payment.refunded"]
    data: PaymentRefundedData


class PaymentCapturedEvent(EventBase):
    type: Literal["payment.captured"]
    data: PaymentEventData


class PaymentFailedEvent(EventBase):
    type: Literal["payment.failed"]
    data: PaymentEventData


class WebhookEndpointDisabledEvent(EventBase):
    type: Literal["webhook_endpoint.disabled"]
    data: WebhookEndpointDisabledData


class WebhookEndpointTestEvent(EventBase):
    type: Literal["webhook_endpoint.test"]
    data: WebhookTestData


class UnknownEvent(EventBase):
    """An event type this version of the SDK does not know (a newer server): its data as a dict."""

    type: str
    data: dict[str, Any]


WebhookEvent = (CartCreatedEvent | CartUpdatedEvent | CartAbandonedEvent | CartRecoveredEvent
                | CustomerCreatedEvent | CustomerUpdatedEvent | CustomerDeletedEvent | CustomerErasedEvent
                | CheckoutSessionCompletedEvent | CheckoutSessionCancelledEvent | CheckoutSessionExpiredEvent
                | OrderCreatedEvent | OrderRefundedEvent | OrderDisputedEvent | PaymentCapturedEvent
                | PaymentFailedEvent | PaymentRefundedEvent
                | WebhookEndpointDisabledEvent | WebhookEndpointTestEvent | UnknownEvent)

# event type (the contract's constants) -> class
EVENT_CLASSES: dict[str, type[EventBase]] = {
    events.CART_CREATED: CartCreatedEvent,
    events.CART_UPDATED: CartUpdatedEvent,
    events.CART_ABANDONED: CartAbandonedEvent,
    events.CART_RECOVERED: CartRecoveredEvent,
    customers.CUSTOMER_CREATED: CustomerCreatedEvent,
    customers.CUSTOMER_UPDATED: CustomerUpdatedEvent,
    customers.CUSTOMER_DELETED: CustomerDeletedEvent,
    erasure.CUSTOMER_ERASED: CustomerErasedEvent,
    checkout.CHECKOUT_SESSION_COMPLETED: CheckoutSessionCompletedEvent,
    checkout.CHECKOUT_SESSION_CANCELLED: CheckoutSessionCancelledEvent,
    checkout.CHECKOUT_SESSION_EXPIRED: CheckoutSessionExpiredEvent,
    checkout.ORDER_CREATED: OrderCreatedEvent,
    checkout.ORDER_REFUNDED: OrderRefundedEvent,
    checkout.ORDER_DISPUTED: OrderDisputedEvent,
    checkout.PAYMENT_CAPTURED: PaymentCapturedEvent,
    checkout.PAYMENT_FAILED: PaymentFailedEvent,
    checkout.PAYMENT_REFUNDED: PaymentRefundedEvent,
    webhooks.WEBHOOK_ENDPOINT_DISABLED: WebhookEndpointDisabledEvent,
    webhooks.WEBHOOK_TEST: WebhookEndpointTestEvent,
}


class _Head(msgspec.Struct):
    type: str


_head = msgspec.json.Decoder(_Head)
_known: list[type[EventBase]] = [*EVENT_CLASSES.values(), UnknownEvent]
_decoders: dict[type[EventBase], msgspec.json.Decoder[Any]] = {cls: msgspec.json.Decoder(cls) for cls in _known}


def parse_event(payload: bytes | str) -> WebhookEvent:
    """An event from its JSON envelope (already verified: use `kassa_sdk.webhooks.verify` on what you receive).

    Raises `msgspec.DecodeError` / `msgspec.ValidationError` when the payload is not a Kassa event.
    """
    cls = EVENT_CLASSES.get(_head.decode(payload).type, UnknownEvent)
    event: WebhookEvent = _decoders[cls].decode(payload)
    return event
