"""Rows to wire types, in one place."""

from __future__ import annotations

from typing import Any

import msgspec
from kassa_contract.cart import AppliedDiscount, CartAddress, LineItem, SelectedShippingMethod, TaxLine
from kassa_contract.checkout import CheckoutSession, CollectFlags, Order, Payment, PaymentError, Refund


class OrderDocument(msgspec.Struct, rename="camel", kw_only=True):
    line_items: list[LineItem] = []
    discounts: list[AppliedDiscount] = []
    shipping_method: SelectedShippingMethod | None = None
    tax_lines: list[TaxLine] = []
    taxes_included: bool = False


def session_view(row: Any, base_url: str, *, client_secret: str | None = None) -> CheckoutSession:
    return CheckoutSession(
        id=row.id, status=row.status, cart_id=row.cart_id, url=f"{base_url}/s/{row.id}",
        collect=msgspec.convert(row.collect, CollectFlags), currency=row.currency, amount_total=row.amount_total,
        discount_code=row.discount_code, metadata=row.metadata, allowed_methods=row.allowed_methods,
        success_url=row.success_url, cancel_url=row.cancel_url, payment_status=row.payment_status,
        order_id=row.order_id,
        last_payment_error=None if row.last_payment_error is None else msgspec.convert(row.last_payment_error,
                                                                                       PaymentError),
        expires_at=row.expires_at, created_at=row.created_at, completed_at=row.completed_at,
        cancelled_at=row.cancelled_at, client_secret=client_secret,
    )


def order_view(row: Any) -> Order:
    doc = msgspec.convert(row.document, OrderDocument)
    return Order(
        id=row.id, status=row.status, session_id=row.session_id, cart_id=row.cart_id, currency=row.currency,
        customer_email=row.customer_email, line_items=doc.line_items, discounts=doc.discounts,
        shipping_method=doc.shipping_method, tax_lines=doc.tax_lines, taxes_included=doc.taxes_included,
        shipping_address=None if row.shipping_address is None else msgspec.convert(row.shipping_address, CartAddress),
        billing_address=None if row.billing_address is None else msgspec.convert(row.billing_address, CartAddress),
        subtotal=row.subtotal, discount_total=row.discount_total, shipping_total=row.shipping_total,
        tax_total=row.tax_total, total=row.total, item_count=row.item_count, amount_refunded=row.amount_refunded,
        metadata=row.metadata, payment_id=row.payment_id, created_at=row.created_at, updated_at=row.updated_at,
    )


def payment_view(row: Any) -> Payment:
    return Payment(
        id=row.id, session_id=row.session_id, order_id=row.order_id, attempt=row.attempt, status=row.status,
        provider=row.connector, method=row.method, card_brand=row.card_brand, card_last4=row.card_last4,
        amount=row.amount, amount_refunded=row.amount_refunded, currency=row.currency, failure_code=row.failure_code,
        failure_message=row.failure_message, created_at=row.created_at, updated_at=row.updated_at,
    )


def refund_view(row: Any) -> Refund:
    return Refund(id=row.id, order_id=row.order_id, payment_id=row.payment_id, amount=row.amount,
                  currency=row.currency, reason=row.reason, status=row.status,
                  promotions_restored=row.promotions_restored, created_at=row.created_at,
                  failure_code=row.failure_code, failure_message=row.failure_message)
