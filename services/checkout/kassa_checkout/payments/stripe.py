"""The Stripe connector: PaymentIntents finalized on the server, the card only ever in Stripe's fields.

One PaymentIntent per attempt (a payment row), created with what Stripe.js made of the card (a
`pm_…`, or a `tok_…` saved as a card of a new Customer first), remembered on the row, then
confirmed: a crash after the intent exists leaves the reconcile job an intent to ask Stripe about.
Every call that changes something carries an `Idempotency-Key` derived from the attempt (or the
refund); a call whose answer was lost on the way is sent once more with the same key, and a confirm
that finds its intent confirmed already reads it, so no retry makes a second charge or refund.

Stripe's errors become the contract's: a decline is a failed outcome with Stripe's decline code; a
key Stripe refuses is 422 `payment_provider_auth_failed`; Stripe's 5xx, 429 and timeouts are 503
`payment_provider_unavailable` (nothing is concluded: the claim stays and the reconcile job asks).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import stripe
from kassa_contract.checkout import PaymentMethodInput
from kassa_contract.errors import KassaError

from .connector import Attempt, OutcomeStatus, PaymentOutcome, RefundOutcome
from .stripe_amounts import from_stripe, to_stripe

RETRY_AFTER_SECONDS = 5
# A PaymentIntent's status → the saga's outcome.
STATUSES: dict[str, OutcomeStatus] = {"succeeded": "captured", "requires_capture": "authorized", "requires_action": "requires_action",
            "processing": "requires_action"}


class TransportClient(stripe.HTTPXClient):
    """Stripe's httpx client, sending through httpx's transport directly: Stripe needs none of the
    client's cookie jar, authentication or redirect handling, which cost about half of a call's CPU."""

    def __init__(self, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self._transport = httpx.AsyncHTTPTransport()
        self._timeouts = httpx.Timeout(timeout).as_dict()

    async def request_async(self, method: str, url: str, headers: Mapping[str, str],
                            post_data: Any = None) -> tuple[bytes, int, Mapping[str, str]]:
        body = post_data.encode() if isinstance(post_data, str) else (post_data or b"")
        request = httpx.Request(method, url, headers=headers, content=body, extensions={"timeout": self._timeouts})
        try:
            response = await self._transport.handle_async_request(request)
            try:
                content = await response.aread()
            finally:
                await response.aclose()
        except Exception as exc:  # the library's own mapping: APIConnectionError
            self._handle_request_error(exc)
        return content, response.status_code, response.headers

    async def close_async(self) -> None:
        await self._transport.aclose()
        await super().close_async()


def new_client(secret_key: str, *, api_base: str, timeout: float) -> stripe.StripeClient:
    """One client per merchant key (its HTTP pool is reused); Stripe's library retries nothing
    itself: the saga decides, with the same idempotency keys."""
    return stripe.StripeClient(secret_key, base_addresses={"api": api_base},
                               http_client=TransportClient(timeout), max_network_retries=0)


def unavailable(exc: Exception) -> KassaError:
    return KassaError("payment_provider_unavailable", "The payment provider did not answer; try again in a moment",
                      status=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                      details={"provider": "stripe", "retryable": True, "reason": type(exc).__name__})


def auth_failed(exc: Exception) -> KassaError:
    return KassaError("payment_provider_auth_failed", "Stripe refused the application's secret key: check the "
                      "payment settings", status=422, field="secretKey", details={"provider": "stripe"})


async def call(client: stripe.StripeClient, method: str, path: str, params: dict[str, Any] | None = None,
               key: str | None = None) -> dict[str, Any]:
    """One call to Stripe's API through the official client's raw request (its authentication, form
    encoding, error classes and telemetry, without building its objects: a third of a call's CPU),
    the answer as plain data; transport and account errors mapped, card and request errors passed
    on. A keyed write whose answer was lost on the way is sent once more, with the same key."""
    options = {"idempotency_key": key} if key else {}
    try:
        try:
            response = await client.raw_request_async(method, path, **(params or {}), **options)
        except stripe.APIConnectionError:
            if not key:
                raise
            response = await client.raw_request_async(method, path, **(params or {}), **options)
        return response.data
    except (stripe.AuthenticationError, stripe.PermissionError) as exc:
        raise auth_failed(exc) from exc
    except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
        raise unavailable(exc) from exc
    except stripe.APIError as exc:  # Stripe's own 5xx
        raise unavailable(exc) from exc
    except stripe.StripeError as exc:
        if (exc.http_status or 0) >= 500:
            raise unavailable(exc) from exc
        raise


class StripeConnector:
    name = "stripe"

    def __init__(self, client: stripe.StripeClient, *, capture_method: str = "automatic",
                 publishable_key: str | None = None) -> None:
        self.client = client
        self.capture_method = capture_method
        self.publishable_key = publishable_key

    # ---------------------------------------------------------------- the connector

    async def authorize(self, *, key: str, amount: int, currency: str, method: PaymentMethodInput,
                        attempt: Attempt) -> PaymentOutcome:
        if method.payment_intent_id is not None:  # the storefront confirmed its intent with Stripe.js
            return await self._read(method.payment_intent_id, attempt)
        if attempt.provider_ref is not None:  # the second step: the buyer passed 3-D Secure in Stripe's frame
            intent = await self._get(attempt.provider_ref)
            if intent["status"] == "requires_confirmation":
                intent = await self._confirm(intent["id"], f"kassa-{attempt.payment_id}-confirm-action")
            return self._outcome(intent)
        card: dict[str, Any] = {}
        extra: dict[str, Any] = {"payment_method": method.token}
        if (method.token or "").startswith("tok_"):  # Stripe.js's card token: saved on a Customer, then paid with
            try:
                customer = await call(self.client, "post", "/v1/customers",
                                      {"source": method.token, "metadata": _metadata(attempt)},
                                      f"kassa-{attempt.payment_id}-customer")
            except stripe.CardError as exc:  # declined when the card was checked
                return _declined_outcome(exc, amount, currency, attempt)
            card = _customer_card(customer)
            extra = {"customer": customer["id"], "payment_method": card.get("id") or customer.get("default_source")}
        intent = await self.create_intent(amount=amount, currency=currency, attempt=attempt, extra=extra)
        if attempt.remember is not None:
            await attempt.remember(intent["id"])
        return self._outcome(await self._confirm(intent["id"], f"kassa-{attempt.payment_id}-confirm"), card)

    async def create_intent(self, *, amount: int, currency: str, attempt: Attempt, key: str | None = None,
                            extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """The attempt's PaymentIntent, unconfirmed (the same one again for a retry of this attempt)."""
        params: dict[str, Any] = {
            "amount": to_stripe(amount, currency), "currency": currency.lower(),
            "capture_method": self.capture_method, "payment_method_types": ["card"],
            "metadata": _metadata(attempt), **(extra or {}),
        }
        return await call(self.client, "post", "/v1/payment_intents", params,
                          key or f"kassa-{attempt.payment_id}-create")

    async def capture(self, *, key: str, amount: int, attempt: Attempt) -> PaymentOutcome:
        if attempt.provider_ref is None:
            raise KassaError("payment_not_capturable", f"No Stripe payment for {key}", status=409)
        intent = await self._get(attempt.provider_ref)
        if intent["status"] == "requires_capture":
            try:
                intent = await call(self.client, "post", f"/v1/payment_intents/{intent['id']}/capture", {},
                                    f"kassa-{attempt.payment_id}-capture")
            except stripe.InvalidRequestError:
                intent = await self._get(attempt.provider_ref)  # captured meanwhile
        return self._outcome(intent)

    async def refund(self, *, key: str, refund_id: str, amount: int, currency: str,
                     provider_ref: str | None) -> RefundOutcome:
        if provider_ref is None:
            return RefundOutcome(succeeded=False, failure_code="not_captured", failure_message="Nothing to refund")
        try:
            refund = await call(self.client, "post", "/v1/refunds",
                                {"payment_intent": provider_ref, "amount": to_stripe(amount, currency),
                                 "metadata": {"kassa_refund_id": refund_id}}, f"kassa-{refund_id}")
        except stripe.StripeError as exc:  # Stripe refused it: already refunded, too much, disputed, ...
            return RefundOutcome(succeeded=False, failure_code=exc.code or "refund_refused",
                                 failure_message=exc.user_message or "Stripe refused the refund")
        return refund_outcome(refund)

    async def status(self, *, key: str, attempt: Attempt) -> PaymentOutcome | None:
        if attempt.provider_ref is None:
            return None  # no intent was recorded: none was confirmed, so no money moved
        return self._outcome(await self._get(attempt.provider_ref))

    async def release(self, *, key: str, provider_ref: str) -> None:
        try:
            await call(self.client, "post", f"/v1/payment_intents/{provider_ref}/cancel", {},
                       f"kassa-{provider_ref}-release")
        except stripe.InvalidRequestError:
            pass  # cancelled or captured already: nothing is held by this call

    async def verify_key(self) -> None:
        """One read call with no side effect: a key Stripe refuses is 422 `payment_provider_auth_failed`."""
        await call(self.client, "get", "/v1/payment_intents", {"limit": 1})

    async def session_intent(self, attempt: Attempt, amount: int, currency: str, new_key: str) -> dict[str, Any]:
        """The intent a headless checkout confirms itself: the session's own while it can still be paid
        (its amount brought up to date), else a new one made under `new_key`."""
        if attempt.provider_ref is not None:
            intent = await self._get(attempt.provider_ref)
            if intent["status"] in ("requires_payment_method", "requires_confirmation"):
                if intent["amount"] != to_stripe(amount, currency):
                    intent = await call(self.client, "post", f"/v1/payment_intents/{intent['id']}",
                                        {"amount": to_stripe(amount, currency)})
                return intent
            if intent["status"] != "canceled":
                return intent  # paid, or being paid: the storefront completes the session with it
        return await self.create_intent(amount=amount, currency=currency, attempt=attempt, key=new_key)

    # ---------------------------------------------------------------- steps

    async def _get(self, intent_id: str) -> dict[str, Any]:
        return await call(self.client, "get", f"/v1/payment_intents/{intent_id}")

    async def _read(self, intent_id: str, attempt: Attempt) -> PaymentOutcome:
        try:
            intent = await self._get(intent_id)
        except stripe.InvalidRequestError as exc:
            raise _not_ours() from exc
        if (intent.get("metadata") or {}).get("kassa_session_id") != attempt.session_id:
            raise _not_ours()
        return self._outcome(intent)

    async def _confirm(self, intent_id: str, idempotency_key: str) -> dict[str, Any]:
        try:
            return await call(self.client, "post", f"/v1/payment_intents/{intent_id}/confirm", {}, idempotency_key)
        except stripe.CardError:  # declined: the intent waits for another method, with the decline on it
            return await self._get(intent_id)
        except stripe.InvalidRequestError as exc:
            intent = await self._get(intent_id)
            if intent["status"] in STATUSES:  # confirmed already (a retry after a lost answer)
                return intent
            raise KassaError("payment_failed", exc.user_message or "Stripe refused the payment", status=402,
                             details={"reason": exc.code or "invalid_request", "retryable": False}) from exc

    def _outcome(self, intent: dict[str, Any], card: dict[str, Any] | None = None) -> PaymentOutcome:
        currency = str(intent["currency"]).upper()
        status = STATUSES.get(intent["status"], "failed")
        error = intent.get("last_payment_error") or {}
        failure_code = failure_message = None
        if status == "failed":
            failure_code = error.get("decline_code") or error.get("code") or (
                "canceled" if intent["status"] == "canceled" else "payment_incomplete")
            failure_message = error.get("message") or "The payment was not completed"
        card = card or _intent_card(intent)
        return PaymentOutcome(
            status=status, amount=from_stripe(int(intent["amount"]), currency), currency=currency,
            provider_ref=intent["id"], session_id=(intent.get("metadata") or {}).get("kassa_session_id"),
            card_brand=card.get("brand"), card_last4=card.get("last4"), failure_code=failure_code,
            failure_message=failure_message,
            next_action="three_d_secure" if intent["status"] == "requires_action" else (
                "processing" if intent["status"] == "processing" else None),
            client_secret=intent.get("client_secret") if intent["status"] == "requires_action" else None)


def _metadata(attempt: Attempt) -> dict[str, str]:
    return {"kassa_app_id": attempt.app_id, "kassa_session_id": attempt.session_id,
            "kassa_payment_id": attempt.payment_id, "kassa_cart_id": attempt.cart_id or ""}


def _not_ours() -> KassaError:
    return KassaError("payment_intent_invalid", "This PaymentIntent was not made by Kassa for this checkout session",
                      field="paymentMethod.paymentIntentId", status=422)


def _declined_outcome(exc: stripe.StripeError, amount: int, currency: str, attempt: Attempt) -> PaymentOutcome:
    body = exc.json_body if isinstance(exc.json_body, dict) else {}  # typed `object`: Stripe's decoded JSON
    error = body.get("error") or {}
    return PaymentOutcome(status="failed", amount=amount, currency=currency, provider_ref="",
                          session_id=attempt.session_id,
                          failure_code=error.get("decline_code") or error.get("code") or "card_declined",
                          failure_message=error.get("message") or "The card was declined")


def _customer_card(customer: dict[str, Any]) -> dict[str, Any]:
    cards = ((customer.get("sources") or {}).get("data")) or []
    return cards[0] if cards else {}


def _intent_card(intent: dict[str, Any]) -> dict[str, Any]:
    method = intent.get("payment_method")
    if isinstance(method, dict):
        return method.get("card") or method
    return {}


def refund_outcome(refund: Any) -> RefundOutcome:
    status = refund["status"]
    if status == "succeeded":
        return RefundOutcome(succeeded=True, provider_ref=refund["id"])
    if status in ("pending", "requires_action"):
        return RefundOutcome(succeeded=False, pending=True, provider_ref=refund["id"])
    reason = refund.get("failure_reason") or status
    return RefundOutcome(succeeded=False, provider_ref=refund["id"], failure_code=reason,
                         failure_message=f"Stripe could not refund: {reason}")
