"""2026-12-07: payments and payment methods name their `provider`, as payment settings do."""

from __future__ import annotations

from .change import VersionChange, at, in_list, rename_key

_payment = rename_key("connector", "provider")
_payment_event = at("payment", _payment)

CHANGE = VersionChange(
    version="2026-12-07",
    title="`connector` is now `provider` on payments and payment methods",
    description=(
        "A payment and a payment method named the system that moves the money `connector`, a word of "
        "Kassa's insides, while payment settings and a payment's `nextAction` call the same thing "
        "`provider` (`test` or `stripe`). Payments (`GET /api/v1/checkout-sessions/{id}/payments`), "
        "payment methods (`GET /api/v1/payment-methods`) and the `payment.captured` and "
        "`payment.failed` events now carry `provider`; the value is unchanged."
    ),
    client_changes=(
        "Read `provider` where you read `connector` on a payment, a payment method and the `payment` "
        "object of `payment.captured` and `payment.failed` events."
    ),
    responses={
        "listCheckoutSessionPayments": in_list(_payment),
        "listPaymentMethods": in_list(_payment),
    },
    events={
        "payment.captured": _payment_event,
        "payment.failed": _payment_event,
    },
)
