"""Stripe's events in: `POST /webhooks/stripe/{applicationId}`.

The signature is checked with Stripe's library (5-minute tolerance) under the application's webhook
secret; a bad or stale one is 400 and changes nothing. Events are deduplicated by Stripe's event id.
A succeeded PaymentIntent drives the same completion as the page (so a shopper who pays and closes
the tab still gets an order); the page, the API and this may arrive in any order, twice, or late:
the session's claim and its unique order make one order, ever. An event that cannot be handled yet
(the session is being completed, Stripe is away) is un-recorded and answered 409/503, so that
Stripe delivers it again.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
import sqlalchemy as sa
import stripe
from kassa_contract.checkout import (
    ORDER_DISPUTED,
    CompleteCheckoutSession,
    Dispute,
    DisputeEventData,
    PaymentMethodInput,
)
from kassa_contract.errors import KassaError
from kassa_platform.auth import Principal
from kassa_platform.clock import Clock
from kassa_platform.db import Database, transaction
from kassa_platform.ids import new_id
from kassa_platform.outbox import write_event
from kassa_platform.tables import applications

from .completion import CompletionSaga
from .orders import OrderService
from .payment_settings import Connectors
from .payment_settings_rows import PaymentSettingsRows
from .payments.connector import PaymentOutcome
from .payments.stripe import refund_outcome
from .payments.stripe_amounts import from_stripe
from .sessions import SOURCE
from .tables import disputes, orders, payments

log = logging.getLogger("kassa.checkout.stripe_events")
TOLERANCE_SECONDS = 300
SUCCEEDED = ("payment_intent.succeeded", "payment_intent.amount_capturable_updated")
REFUND_EVENTS = ("charge.refunded", "charge.refund.updated", "refund.created", "refund.updated", "refund.failed")
DISPUTE_EVENTS = ("charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed")


def _invalid_signature(reason: str) -> KassaError:
    return KassaError("webhook_signature_invalid", f"The Stripe-Signature header does not verify: {reason}",
                      status=400)


class StripeEvents:
    def __init__(self, db: Database, clock: Clock, connectors: Connectors, saga: CompletionSaga,
                 orders_: OrderService) -> None:
        self.db = db
        self.clock = clock
        self.connectors = connectors
        self.saga = saga
        self.orders = orders_
        self.rows = PaymentSettingsRows(db)

    async def receive(self, app_id: str, payload: bytes, signature: str | None) -> dict[str, Any]:
        account = None
        try:
            _, account = await self.connectors.stripe(app_id)
        except KassaError:
            pass
        if account is None or not account.webhook_secret:
            raise KassaError("not_found", "No Stripe webhook secret is set for this application", status=404)
        try:
            stripe.WebhookSignature.verify_header(payload.decode("utf-8", "replace"), signature or "",
                                                  account.webhook_secret, TOLERANCE_SECONDS)
        except stripe.SignatureVerificationError as exc:
            raise _invalid_signature(str(exc._message or "mismatch")) from exc
        try:
            event = msgspec.json.decode(payload)
            event_id, event_type, obj = event["id"], event["type"], event["data"]["object"]
        except (msgspec.DecodeError, KeyError, TypeError) as exc:
            raise KassaError("bad_request", "The event is not a Stripe event", status=400) from exc
        if not await self.rows.first_sight(app_id, event_id, event_type, self.clock.now()):
            return {"received": True, "duplicate": True}
        try:
            await self._handle(app_id, event_type, obj)
        except BaseException:
            await self.rows.forget(app_id, event_id)  # Stripe delivers it again
            raise
        return {"received": True}

    async def _handle(self, app_id: str, event_type: str, obj: dict[str, Any]) -> None:
        if event_type in SUCCEEDED:
            await self._succeeded(app_id, obj)
        elif event_type == "payment_intent.payment_failed":
            await self._failed(app_id, obj)
        elif event_type in REFUND_EVENTS:
            refunds_ = obj.get("refunds", {}).get("data", []) if obj.get("object") == "charge" else [obj]
            for refund in refunds_:
                await self.orders.settle_from_provider(app_id, refund["id"], refund_outcome(refund),
                                                       (refund.get("metadata") or {}).get("kassa_refund_id"))
        elif event_type in DISPUTE_EVENTS:
            await self._dispute(app_id, obj)
        else:
            log.info("stripe event %s not used", event_type)

    async def _environment(self, app_id: str) -> str:
        async with self.db() as conn:
            return (await conn.execute(sa.select(applications.c.environment)
                                       .where(applications.c.id == app_id))).scalar_one()

    async def _succeeded(self, app_id: str, intent: dict[str, Any]) -> None:
        session_id = _session_of(app_id, intent)
        if session_id is None:
            return
        environment = await self._environment(app_id)
        principal = Principal(app_id=app_id, environment=environment, key_id="provider:stripe",  # type: ignore[arg-type]
                              kind="service", scopes=frozenset({"*"}))
        body = CompleteCheckoutSession(payment_method=PaymentMethodInput(type="stripe", payment_intent_id=intent["id"]))
        try:
            session = await self.saga.complete(principal, session_id, body, None, late=True)
        except KassaError as exc:
            if exc.code in ("checkout_session_not_open", "checkout_session_expired", "cart_not_open", "cart_empty"):
                await self._unfulfilled(principal, session_id, intent)
                return
            if exc.code == "payment_intent_invalid":
                return  # another amount: refunded and told by the saga
            raise
        if session.status == "complete" and not await self._paid_by(session.order_id, intent["id"]):
            await self._unfulfilled(principal, session_id, intent)  # paid twice: give one back

    async def _paid_by(self, order_id: str | None, intent_id: str) -> bool:
        async with self.db() as conn:
            ref = (await conn.execute(sa.select(payments.c.provider_ref).join(orders, orders.c.payment_id == payments.c.id)
                                      .where(orders.c.id == order_id))).scalar()
        return ref == intent_id

    async def _unfulfilled(self, principal: Principal, session_id: str, intent: dict[str, Any]) -> None:
        """A payment for a session that cannot take it: given back (or its authorization let go of)."""
        app_id = principal.app_id
        connector = await self.connectors.for_app(app_id, principal.environment)
        currency = str(intent["currency"]).upper()
        outcome = PaymentOutcome(status="captured" if intent["status"] == "succeeded" else "authorized",
                                 amount=from_stripe(int(intent["amount"]), currency), currency=currency,
                                 provider_ref=intent["id"], session_id=session_id)
        if not await self.saga.refund_unfulfilled(app_id, session_id, (intent.get("metadata") or {}).get(
                "kassa_payment_id") or None, connector, outcome, "session_not_open"):
            raise KassaError("payment_provider_unavailable", "The refund did not go through yet", status=503)

    async def _failed(self, app_id: str, intent: dict[str, Any]) -> None:
        """A payment that failed after its second step (the page reports first-step declines itself)."""
        session_id = _session_of(app_id, intent)
        if session_id is not None:
            error = intent.get("last_payment_error") or {}
            await self.saga.provider_failed(app_id, session_id, intent["id"],
                                            error.get("decline_code") or error.get("code") or "card_declined",
                                            error.get("message") or "The payment failed")

    async def _dispute(self, app_id: str, dispute: dict[str, Any]) -> None:
        intent_id = dispute.get("payment_intent")
        now = self.clock.now()
        async with transaction(self.db) as conn:
            order = (await conn.execute(sa.select(orders.c.id, orders.c.payment_id, orders.c.version)
                                        .join(payments, payments.c.id == orders.c.payment_id)
                                        .where(orders.c.app_id == app_id, payments.c.provider_ref == intent_id))).first()
            if order is None:
                log.warning("dispute %s names no order of %s", dispute.get("id"), app_id)
                return
            currency = str(dispute["currency"]).upper()
            existing = (await conn.execute(sa.select(disputes).where(disputes.c.provider_ref == dispute["id"]))).first()
            amount, reason = from_stripe(int(dispute["amount"]), currency), dispute.get("reason")
            status = dispute.get("status") or "needs_response"
            values = {"amount": amount, "currency": currency, "reason": reason, "status": status, "updated_at": now}
            if existing is None:
                dispute_id = new_id("dp")
                await conn.execute(sa.insert(disputes).values(id=dispute_id, app_id=app_id, order_id=order.id,
                                                              payment_id=order.payment_id,
                                                              provider_ref=dispute["id"], created_at=now, **values))
            else:
                dispute_id = existing.id
                await conn.execute(sa.update(disputes).where(disputes.c.id == dispute_id).values(**values))
            version = (await conn.execute(sa.update(orders).where(orders.c.id == order.id)
                                          .values(version=orders.c.version + 1, updated_at=now)
                                          .returning(orders.c.version))).scalar_one()
            await write_event(conn, app_id=app_id, type=ORDER_DISPUTED, source=SOURCE, aggregate_id=order.id,
                              sequence=version, now=now,
                              data=DisputeEventData(order_id=order.id, payment_id=order.payment_id, sequence=version,
                                                    dispute=Dispute(id=dispute_id, created_at=now, amount=amount,
                                                                    currency=currency, reason=reason, status=status)))


def _session_of(app_id: str, intent: dict[str, Any]) -> str | None:
    """The checkout session a PaymentIntent was made for, when this application made it (a Stripe
    account may serve several applications, or other software)."""
    metadata = intent.get("metadata") or {}
    session_id = metadata.get("kassa_session_id")
    return session_id if session_id and metadata.get("kassa_app_id") == app_id else None
