"""The interface every payment provider plugs in behind.

Every call carries the merchant's idempotency key (the checkout session id): a provider keeps
one payment intent per key, so repeating a call after a timeout or a crash never moves money
twice, and `status` tells the reconcile job what happened to a call whose answer was lost.
"""

from __future__ import annotations

from typing import Literal, Protocol

import msgspec
from kassa_contract.checkout import PaymentMethodInput

OutcomeStatus = Literal["authorized", "captured", "requires_action", "failed"]


class PaymentOutcome(msgspec.Struct, frozen=True, kw_only=True):
    status: OutcomeStatus
    amount: int
    provider_ref: str
    card_brand: str | None = None
    card_last4: str | None = None
    failure_code: str | None = None  # card_declined | insufficient_funds | processing_error | ...
    failure_message: str | None = None
    next_action: str | None = None  # e.g. "three_d_secure" with status requires_action


class RefundOutcome(msgspec.Struct, frozen=True, kw_only=True):
    succeeded: bool
    failure_code: str | None = None
    failure_message: str | None = None


class PaymentConnector(Protocol):
    name: str

    async def authorize(self, *, key: str, amount: int, currency: str, method: PaymentMethodInput) -> PaymentOutcome:
        """Reserve the amount on the buyer's method (or finish its second step)."""

    async def capture(self, *, key: str, amount: int) -> PaymentOutcome:
        """Take the authorized money. Idempotent: a captured intent stays captured once."""

    async def refund(self, *, key: str, refund_id: str, amount: int) -> RefundOutcome:
        """Give money back. Idempotent by `refund_id`."""

    async def status(self, *, key: str) -> PaymentOutcome | None:
        """What the provider knows of the intent, or None if it never saw the key."""
