"""The interface every payment provider plugs in behind.

Every call names its attempt (the session, its payment row and the provider's object for it once
known): a provider keys its idempotency on the attempt, so repeating a call after a timeout or a
crash never moves money twice, and `status` tells the reconcile job what happened to a call whose
answer was lost. The built-in `test` connector keys its ledger by session; Stripe's keys its
calls by payment row.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

import msgspec
from kassa_contract.checkout import PaymentMethodInput

OutcomeStatus = Literal["authorized", "captured", "requires_action", "failed"]


class PaymentOutcome(msgspec.Struct, frozen=True, kw_only=True):
    status: OutcomeStatus
    amount: int  # in Kassa's minor units
    provider_ref: str
    currency: str | None = None  # as the provider holds it: checked against the session's
    session_id: str | None = None  # the session the provider's object names (Stripe's metadata)
    card_brand: str | None = None
    card_last4: str | None = None
    failure_code: str | None = None  # card_declined | insufficient_funds | processing_error | ...
    failure_message: str | None = None
    next_action: str | None = None  # e.g. "three_d_secure" with status requires_action
    client_secret: str | None = None  # for the browser's part of a second step (Stripe.js)


class RefundOutcome(msgspec.Struct, frozen=True, kw_only=True):
    succeeded: bool
    pending: bool = False  # the provider accepted it and settles later (its webhook tells)
    provider_ref: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None


@dataclass(frozen=True, kw_only=True)
class Attempt:
    app_id: str
    session_id: str
    payment_id: str
    cart_id: str | None = None
    provider_ref: str | None = None  # the provider's object for this attempt, once known
    # Stores the provider's reference on the payment row before money can move (so that a crash
    # after it leaves the reconcile job something to ask about).
    remember: Callable[[str], Awaitable[None]] | None = None


class PaymentConnector(Protocol):
    name: str

    async def authorize(self, *, key: str, amount: int, currency: str, method: PaymentMethodInput,
                        attempt: Attempt) -> PaymentOutcome:
        """Reserve the amount on the buyer's method (or finish its second step)."""

    async def capture(self, *, key: str, amount: int, attempt: Attempt) -> PaymentOutcome:
        """Take the authorized money. Idempotent: a captured intent stays captured once."""

    async def refund(self, *, key: str, refund_id: str, amount: int, currency: str,
                     provider_ref: str | None) -> RefundOutcome:
        """Give money back. Idempotent by `refund_id`."""

    async def status(self, *, key: str, attempt: Attempt) -> PaymentOutcome | None:
        """What the provider knows of the attempt, or None if it never saw it."""

    async def release(self, *, key: str, provider_ref: str) -> None:
        """Let go of an authorization that will never be captured (the shopper's hold ends now rather
        than when the bank drops it). Idempotent."""
