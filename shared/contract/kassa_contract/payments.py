"""Payment settings: which provider takes an application's payments, and its credentials.

Secrets go in and never come out: a response shows their last four characters only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from msgspec import Meta

from .base import Model, Request

PaymentProvider = Literal["test", "stripe"]
CaptureMethod = Literal["automatic", "manual"]

# Stripe's key shapes: secret (`sk_`) or restricted (`rk_`), publishable (`pk_`), each `test` or `live`.
StripeSecretKey = Annotated[str, Meta(pattern=r"^(sk|rk)_(test|live)_[A-Za-z0-9_]{6,250}$")]
StripePublishableKey = Annotated[str, Meta(pattern=r"^pk_(test|live)_[A-Za-z0-9_]{6,250}$")]
StripeWebhookSecret = Annotated[str, Meta(pattern=r"^whsec_[A-Za-z0-9+/=_]{6,250}$")]


class UpdatePaymentSettings(Request):
    """`provider: "stripe"` needs `secretKey` and `publishableKey` the first time; later updates may
    leave a secret out to keep the stored one. `webhookSecret` is the signing secret Stripe shows for
    the endpoint registered at `webhookUrl`."""

    provider: PaymentProvider
    secret_key: StripeSecretKey | None = None
    publishable_key: StripePublishableKey | None = None
    webhook_secret: StripeWebhookSecret | None = None
    capture_method: CaptureMethod = "automatic"


class PaymentSettings(Model):
    provider: PaymentProvider
    capture_method: CaptureMethod
    publishable_key: str | None = None
    secret_key_last4: str | None = None
    webhook_secret_last4: str | None = None
    # Where Stripe sends this application's events: register it in Stripe's dashboard.
    webhook_url: str | None = None
    updated_at: datetime | None = None


class PaymentIntentHandle(Model):
    """A checkout session's PaymentIntent for a headless checkout: confirm it with Stripe.js
    (`publishableKey`, `clientSecret`), then complete the session with
    `paymentMethod: {type: "stripe", paymentIntentId}`."""

    provider: Literal["stripe"]
    payment_intent_id: str
    client_secret: str
    publishable_key: str
    amount: int
    currency: str
