"""Checkout sessions (the hosted page and embeds) and the payment method catalog."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import Any

from kassa_contract.cart import CartAddress
from kassa_contract.checkout import (
    CheckoutSession,
    CollectFlags,
    CompleteCheckoutSession,
    CreateCheckoutSession,
    EmbedToken,
    EmbedTokenRequest,
    Payment,
    PaymentMethod,
    PaymentMethodInput,
)
from kassa_contract.payments import PaymentIntentHandle

from .._base import BaseClient, Call, M, RequestOptions, Resource, operation, returns, returns_list
from ._util import listed, seg

SESSIONS = "/api/v1/checkout/sessions"
SESSIONS_ALT = "/api/v1/checkout-sessions"


class CheckoutSessions(Resource[M]):
    """`client.checkout.sessions` (scopes `checkout:read`, `checkout:write`)."""

    @operation
    def create(self, *, cart_id: str, collect: CollectFlags | None = None, discount_code: str | None = None,
               metadata: dict[str, Any] | None = None, allowed_methods: Iterable[str] | None = None,
               success_url: str | None = None, cancel_url: str | None = None, expires_in_minutes: int = 1440,
               options: RequestOptions | None = None) -> Call[CheckoutSession]:
        """Open a checkout session for a cart: its hosted page is `url`; `client_secret` lets a browser complete it."""
        body = CreateCheckoutSession(cart_id=cart_id, collect=collect, discount_code=discount_code, metadata=metadata,
                                     allowed_methods=listed(allowed_methods), success_url=success_url,
                                     cancel_url=cancel_url, expires_in_minutes=expires_in_minutes)
        return Call("POST", SESSIONS, returns(CheckoutSession), body, options=options)

    @operation
    def retrieve(self, session_id: str, *, options: RequestOptions | None = None) -> Call[CheckoutSession]:
        """The session (status, payment status, `order_id` once paid)."""
        return Call("GET", f"{SESSIONS}/{seg(session_id)}", returns(CheckoutSession), options=options)

    @operation
    def cancel(self, session_id: str, *, options: RequestOptions | None = None) -> Call[CheckoutSession]:
        """Cancel the session (safe to repeat); a completed one raises `AlreadyCompletedError`."""
        return Call("DELETE", f"{SESSIONS}/{seg(session_id)}", returns(CheckoutSession), options=options)

    @operation
    def complete(self, session_id: str, *, payment_method: PaymentMethodInput,
                 shipping_address: CartAddress | None = None, billing_address: CartAddress | None = None,
                 billing_same_as_shipping: bool = False, customer_email: str | None = None,
                 options: RequestOptions | None = None) -> Call[CheckoutSession]:
        """Pay and place the order. A decline raises `PaymentDeclinedError`; a second step (3-D Secure)
        `PaymentActionRequiredError`: once the buyer has passed it, complete again with
        `PaymentMethodInput(action_result="approved")` (or `"declined"`). It continues the waiting payment
        with the method it began with: no card details or addresses again; a `type` may be kept if it is
        that payment's own (`type="card"`), another type is refused (`ValidationError` naming the field).

        With the Stripe provider the card never reaches Kassa: pass what Stripe.js made of it,
        `PaymentMethodInput(type="card", token="tok_…")` (or a `pm_…`), or, for a PaymentIntent the storefront
        confirmed itself (see `create_payment_intent`), `PaymentMethodInput(type="stripe", payment_intent_id="pi_…")`
        (on the wire `{"type": "card", "token": "tok_…"}` and `{"type": "stripe", "paymentIntentId": "pi_…"}`)."""
        body = CompleteCheckoutSession(payment_method=payment_method, shipping_address=shipping_address,
                                       billing_address=billing_address,
                                       billing_same_as_shipping=billing_same_as_shipping, customer_email=customer_email)
        return Call("POST", f"{SESSIONS_ALT}/{seg(session_id)}/complete", returns(CheckoutSession), body,
                    options=options)

    @operation
    def create_payment_intent(self, session_id: str, *,
                              options: RequestOptions | None = None) -> Call[PaymentIntentHandle]:
        """Headless checkouts on Stripe: the session's PaymentIntent (one per session, its amount kept up to date
        with the cart). Confirm it with Stripe.js (`publishable_key`, `client_secret`), then `complete` the session
        with `PaymentMethodInput(type="stripe", payment_intent_id=handle.payment_intent_id)`. An application
        without Stripe raises `PaymentConnectorUnavailableError`."""
        return Call("POST", f"{SESSIONS_ALT}/{seg(session_id)}/payment-intent", returns(PaymentIntentHandle),
                    options=options)

    @operation
    def list_payments(self, session_id: str, *,
                      options: RequestOptions | None = None) -> Call[builtins.list[Payment]]:
        """Every payment attempt of the session."""
        return Call("GET", f"{SESSIONS}/{seg(session_id)}/payments", returns_list(Payment), options=options)

    @operation
    def create_embed_token(self, *, session_id: str, origin: str,
                           options: RequestOptions | None = None) -> Call[EmbedToken]:
        """A 15-minute token that lets the page at `origin` embed the session's payment step."""
        return Call("POST", f"{SESSIONS_ALT}/embed-token", returns(EmbedToken),
                    EmbedTokenRequest(session_id=session_id, origin=origin), options=options)


class Checkout(Resource[M]):
    """`client.checkout`: `client.checkout.sessions`."""

    def __init__(self, client: BaseClient) -> None:
        super().__init__(client)
        self.sessions: CheckoutSessions[M] = CheckoutSessions(client)


class PaymentMethods(Resource[M]):
    """`client.payment_methods`: the payment method catalog."""

    @operation
    def list(self, *, session_id: str | None = None,
             options: RequestOptions | None = None) -> Call[builtins.list[PaymentMethod]]:
        """The methods a checkout can use; with `session_id`, only those the session allows."""
        return Call("GET", "/api/v1/payment-methods", returns_list(PaymentMethod), params={"sessionId": session_id},
                    options=options)
