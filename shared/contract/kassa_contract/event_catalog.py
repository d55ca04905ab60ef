"""Every event type Kassa emits and the type of its `data`: the one list SDKs and docs are made from
(`sdk/js/scripts/generate.py` turns it into `@kassa/webhooks`' TypeScript types)."""

from __future__ import annotations

from .audit import AUDIT_ENTRY_CREATED, AuditEntryEventData
from .base import Model
from .checkout import (
    CHECKOUT_SESSION_CANCELLED,
    CHECKOUT_SESSION_COMPLETED,
    CHECKOUT_SESSION_EXPIRED,
    ORDER_CREATED,
    ORDER_DISPUTED,
    ORDER_REFUNDED,
    PAYMENT_CAPTURED,
    PAYMENT_FAILED,
    PAYMENT_REFUNDED,
    DisputeEventData,
    OrderEventData,
    PaymentEventData,
    PaymentRefundedData,
    RefundEventData,
    SessionEventData,
)
from .customers import CUSTOMER_CREATED, CUSTOMER_DELETED, CUSTOMER_UPDATED, CustomerEventData
from .erasure import CUSTOMER_ERASED, CustomerErasedData
from .events import (
    CART_ABANDONED,
    CART_CREATED,
    CART_RECOVERED,
    CART_UPDATED,
    CartAbandonedData,
    CartEventData,
    CartRecoveredData,
)
from .redemptions import (
    REDEMPTION_CANCELLED,
    REDEMPTION_CONFIRMED,
    REDEMPTION_EXPIRED,
    REDEMPTION_RESERVED,
    REDEMPTION_ROLLED_BACK,
    RedemptionEventData,
)
from .webhooks import WEBHOOK_ENDPOINT_DISABLED, WEBHOOK_TEST, WebhookEndpointDisabledData


class WebhookTestData(Model):
    """`webhook_endpoint.test`: the sample a merchant sends to one endpoint (POST …/test)."""

    endpoint_id: str
    sequence: int
    message: str


EVENT_DATA: dict[str, type[Model]] = {
    CART_CREATED: CartEventData,
    CART_UPDATED: CartEventData,
    CART_ABANDONED: CartAbandonedData,
    CART_RECOVERED: CartRecoveredData,
    CUSTOMER_CREATED: CustomerEventData,
    CUSTOMER_UPDATED: CustomerEventData,
    CUSTOMER_DELETED: CustomerEventData,
    CUSTOMER_ERASED: CustomerErasedData,
    CHECKOUT_SESSION_COMPLETED: SessionEventData,
    CHECKOUT_SESSION_CANCELLED: SessionEventData,
    CHECKOUT_SESSION_EXPIRED: SessionEventData,
    ORDER_CREATED: OrderEventData,
    ORDER_REFUNDED: RefundEventData,
    ORDER_DISPUTED: DisputeEventData,
    PAYMENT_CAPTURED: PaymentEventData,
    PAYMENT_FAILED: PaymentEventData,
    PAYMENT_REFUNDED: PaymentRefundedData,
    REDEMPTION_RESERVED: RedemptionEventData,
    REDEMPTION_CONFIRMED: RedemptionEventData,
    REDEMPTION_CANCELLED: RedemptionEventData,
    REDEMPTION_ROLLED_BACK: RedemptionEventData,
    REDEMPTION_EXPIRED: RedemptionEventData,
    WEBHOOK_ENDPOINT_DISABLED: WebhookEndpointDisabledData,
    WEBHOOK_TEST: WebhookTestData,
    AUDIT_ENTRY_CREATED: AuditEntryEventData,
}
