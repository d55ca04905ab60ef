"""Erasure of a customer's personal data (GDPR art. 17): the wire types (docs/contract.md, "Erasure").

`POST /api/v1/customers/erase` names a customer by id, or a shopper by email (a guest known by email
only, or the customer with that email). Each service redacts its own tables; the answer counts the
rows redacted per place. Amounts, lines and tax of orders stay (the merchant's legal retention).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from msgspec import Meta

from .base import Model, Request
from .common import Email

CUSTOMER_ERASED = "customer.erased"

# What a redacted string becomes where the field cannot be null (an address's `addressLine1`, a
# metadata value the merchant marks personal, a free text that held the person's data); a field
# that may be null becomes null.
REDACTED = "redacted"


def erased_owner(erasure_id: str) -> str:
    """What stands for the person where a non-null owner must remain (a code assigned to the email,
    a redemption counted against it): no one can hold it, and it names the erasure that wrote it."""
    return f"erased+{erasure_id}@invalid"


# Every place an erasure reports, always all of them (0 where nothing was found), in this order.
ERASURE_PLACES = (
    "customers", "customerSegments", "carts", "cartAbandonments", "promotionCodes", "redemptions",
    "checkoutSessions", "orders", "refunds", "webhookEvents", "webhookDeliveriesQueued", "webhookAttempts",
    "outboxEvents", "idempotencyAnswers", "auditEvents",
)

MetadataKey = Annotated[str, Meta(min_length=1, max_length=40)]


class EraseCustomer(Request):
    """Exactly one of `customerId` (a customer of this application) and `email` (whoever used it:
    the customer with that email, or a guest known by it only)."""

    customer_id: Annotated[str, Meta(min_length=1, max_length=40)] | None = None
    email: Email | None = None

    def __post_init__(self) -> None:
        if (self.customer_id is None) == (self.email is None):
            raise ValueError("customerId: give exactly one of customerId and email")


class Erasure(Model):
    """What an erasure redacted where: rows per place (`ERASURE_PLACES`). A repeat of a finished
    erasure finds nothing left and answers zeros."""

    id: str
    status: Literal["pending", "completed"]
    customer_id: str | None
    redacted: dict[str, int]
    created_at: datetime
    completed_at: datetime | None = None


class CustomerErasedData(Model):
    """`customer.erased`: the customer (null for a guest known by email only) and the erasure; no personal data."""

    customer_id: str | None
    erasure_id: str


class CustomerSettings(Model):
    """Per application: the metadata keys whose values are personal data (erasure redacts them in the
    metadata of customers, carts, checkout sessions and orders)."""

    personal_metadata_keys: list[str] = []
    updated_at: datetime | None = None


class UpdateCustomerSettings(Request):
    personal_metadata_keys: Annotated[list[MetadataKey], Meta(max_length=100)]


# ---------------------------------------------------------------- between services (/internal/checkout|webhooks/erasures)


class ErasureSubject(Model):
    """Whom to redact, as the cart service found them: ids of their rows and the strings that are theirs.

    `emails` (lower-cased) are searched inside stored bodies; `needles` (names, phones, address
    lines, postal codes) replace a stored string equal to one of them; `aggregate_ids` name the rows
    (customer, carts, sessions, orders, payments) whose events are theirs."""

    erasure_id: str
    customer_id: str | None = None
    emails: list[str] = []
    needles: list[str] = []
    cart_ids: list[str] = []
    aggregate_ids: list[str] = []
    personal_metadata_keys: list[str] = []


class ErasurePart(Model):
    """One service's part: rows redacted per place, and what it found that the next services need."""

    redacted: dict[str, int]
    aggregate_ids: list[str] = []
    needles: list[str] = []
