"""Completing a session: a saga across the cart service, the payment provider and our tables.

    claim (and read) the session ─► lock the cart (reprice, reserve promotions) ─► record the
    attempt and the locked cart ─► pay (authorize + capture, keyed by the session id) ─► order,
    payment, session and their events at once (unique order per session) ─► convert the cart

Each of our own steps is one statement on PostgreSQL (saga_rows.py), so a complete costs the
cart service's two calls and four statements of ours, with no transaction round trips.

One completer at a time holds the session's claim (a conditional update with a deadline and the
claiming process's liveness number); others get 409 `checkout_in_progress`, or the finished
session once it is complete. If the process dies mid-way its claim is over at once
(kassa_platform.liveness; or at its deadline, for a process that lives but lost it): the next
retry of the completion recovers it itself, and every process's liveness watch hands it to
`reconcile`; either finishes or unwinds from what the provider says happened: a capture always
becomes an order, and never two.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import msgspec
import sqlalchemy as sa
from kassa_contract.cart import Cart
from kassa_contract.checkout import (
    CHECKOUT_SESSION_COMPLETED,
    ORDER_CREATED,
    PAYMENT_CAPTURED,
    PAYMENT_FAILED,
    PAYMENT_REFUNDED,
    CheckoutSession,
    CollectFlags,
    CompleteCheckoutSession,
    Order,
    OrderEventData,
    PaymentEventData,
    PaymentMethodInput,
    PaymentRefundedData,
)
from kassa_contract.errors import KassaError
from kassa_platform import executed
from kassa_platform.auth import Principal, hash_key
from kassa_platform.clock import Clock
from kassa_platform.db import Database, transaction
from kassa_platform.ids import new_id
from kassa_platform.liveness import Liveness
from kassa_platform.outbox import Event, write_events
from kassa_platform.tables import applications

from .cart_client import CartClient
from .payment_settings import Connectors
from .payments.connector import Attempt, PaymentConnector, PaymentOutcome
from .payments.methods import METHOD_IDS, card_brand
from .saga_rows import SagaRows
from .sessions import SOURCE, SessionService, SessionStore, _in_progress, authorize, check_open, holds_session
from .tables import checkout_sessions as sessions
from .tables import payments, provider_events
from .views import OrderDocument, payment_view

log = logging.getLogger("kassa.checkout.saga")
S = sessions.c
P = payments.c
CLAIM = timedelta(seconds=60)  # far above a completion's duration; a lapsed claim means a crash
# A cart's discounts stay held as long as its session: a payment waiting on the bank (3-D Secure)
# keeps them, however slow; the session's expiry (or a failed payment) reopens the cart and releases
# them, and the hold's own expiry, a little later, is only the backstop should that call not land.
HOLD_GRACE = timedelta(minutes=10)


def hold_minutes(session_expires_at: datetime, now: datetime) -> int:
    """Minutes the cart's discounts are held when the session locks it: until the session expires, and then some."""
    return max(1, -(-(session_expires_at - now + HOLD_GRACE) // timedelta(minutes=1)))


class CompletionSaga:
    def __init__(self, db: Database, clock: Clock, store: SessionStore, sessions_: SessionService, cart: CartClient,
                 connectors: Connectors, liveness: Liveness | None = None) -> None:
        self.liveness = liveness  # whose number this process's claims carry
        self.db = db
        self.clock = clock
        self.store = store
        self.sessions = sessions_
        self.cart = cart
        self.connectors = connectors
        self.rows = SagaRows(db)

    # ---------------------------------------------------------------- the request

    async def complete(self, principal: Principal, session_id: str, body: CompleteCheckoutSession,
                       session_secret: str | None, *, late: bool = False) -> CheckoutSession:
        """`late`: the provider's word that it took the money (its webhook) may still complete a
        session that expired meanwhile, when its cart can still be converted at that amount."""
        now = self.clock.now()
        method = body.payment_method
        _check_input(method)
        token = new_id("clm")
        # One statement claims and reads the session; when it cannot, `_not_claimed` finds out why,
        # and recovers a claim whose process died (then this completion claims again).
        trusted = holds_session(principal, session_id)
        for may_recover in (True, False):
            row = None
            if trusted or session_secret:
                row = await self.rows.claim(app_id=principal.app_id, session_id=session_id, token=token, now=now,
                                            until=now + CLAIM, awaiting_action=_second_step_alone(method), late=late,
                                            secret_hash=None if trusted else hash_key(session_secret or ""),
                                            owner=self._owner)
            if row is not None:
                break
            answer = await self._not_claimed(principal, session_id, session_secret, method, now, may_recover)
            if answer is not _RECOVERED:
                return answer  # type: ignore[return-value]
            now = self.clock.now()
        else:
            raise _in_progress(session_id)
        # `actionResult` finishes the attempt that asked for a second step, with its own method.
        continuing = method.action_result is not None and row.payment_status == "requires_action"
        try:
            if continuing:
                await self._check_continues(row, method)
            else:
                _check_allowed(row, method)
            connector = await self.connectors.for_app(row.app_id, principal.environment,
                                                      (row.payment_provider, row.payment_settings_at))
            _check_for_connector(connector, method)
            # The cart's stored addresses stand unless the body gives others (the cart service refuses
            # with 422 `address_required` when the session collects one and neither exists).
            locked = await self.cart.lock(row.app_id, row.cart_id, session_id=row.id, shipping=body.shipping_address,
                                          billing=body.billing_address,
                                          billing_same_as_shipping=body.billing_same_as_shipping,
                                          email=body.customer_email, collect=msgspec.convert(row.collect, CollectFlags),
                                          reservation_minutes=hold_minutes(row.expires_at, now))
        except BaseException:
            await self._release(row.id, token)
            raise
        cart = locked.cart
        payment = await self._record_attempt(row, token, cart, method, connector.name)
        attempt = self._attempt(row, payment)
        # From here on the provider may have moved money: on a crash the claim is left to lapse and
        # the reconcile job asks the provider what happened.
        try:
            outcome = await connector.authorize(key=row.id, amount=cart.total, currency=cart.currency, method=method,
                                                attempt=attempt)
            if outcome.status in ("authorized", "captured") and not _pays_for(outcome, row.id, cart):
                await self._refuse_mismatch(row, token, payment, connector, outcome, cart)
        except KassaError as exc:
            if exc.status >= 500:
                raise
            # The provider refused the request itself (nothing was charged): unwind the lock.
            await self.sessions.settle_cart(await self._release(row.id, token, cart_pending="reopen", locked_cart=None))
            raise
        if outcome.status == "authorized":
            outcome = await connector.capture(key=row.id, amount=cart.total,
                                              attempt=self._attempt(row, payment, outcome.provider_ref))
        if outcome.status == "captured":
            return await self._finish(row, token, payment, cart, outcome)
        if outcome.status == "requires_action":
            await self._await_action(row.id, token, payment.id, outcome)
            next_action: dict[str, Any] = {"type": outcome.next_action}
            if outcome.client_secret:  # for Stripe.js: the buyer authenticates in Stripe's own frame
                next_action.update(provider=connector.name, paymentIntentId=outcome.provider_ref,
                                   clientSecret=outcome.client_secret)
            raise KassaError("payment_action_required", "The payment needs a second step: complete the session "
                             "again with `paymentMethod: {\"actionResult\": ...}` once the buyer has passed it",
                             status=402, details={"paymentId": payment.id, "nextAction": next_action})
        row = await self._fail(row.id, token, payment.id, outcome)
        await self.sessions.settle_cart(row)
        retryable = outcome.failure_code == "processing_error"
        raise KassaError("payment_failed" if retryable else "payment_declined",
                         outcome.failure_message or "The payment was declined", status=402,
                         details={"reason": outcome.failure_code, "paymentId": payment.id, "retryable": retryable})

    @property
    def _owner(self) -> int | None:
        return self.liveness.id if self.liveness is not None else None

    async def _not_claimed(self, principal: Principal, session_id: str, session_secret: str | None,
                           method: PaymentMethodInput, now: datetime, may_recover: bool = False) -> Any:
        """Why the session could not be claimed: unknown (or the wrong secret), complete (a retry after
        success gets the finished session), no longer open, no second step waiting, or another completer.
        Another completer whose process died (or whose claim lapsed) is recovered here and now, as the
        reconcile job would: `_RECOVERED` then tells the caller to claim again."""
        async with self.db() as conn:
            row = await self.store.load(conn, principal.app_id, session_id)
        authorize(principal, row, session_secret)
        if row.status == "complete":
            return self.store.view(row)
        check_open(row, now)
        if may_recover and row.claim_token is not None and await self.rows.claim_lapsed(row.id, row.claim_token, now):
            token = new_id("clm")
            if await self._take_over(row, token, now):
                log.info("session %s: its completer is gone; recovering it for the retry", row.id)
                try:
                    await self._resolve(row, token)
                except BaseException:
                    await self._hand_back(row.id, token)  # the next retry (or the job) recovers it at once
                    raise
            return _RECOVERED
        if _second_step_alone(method) and row.claim_token is None:
            if method.type is None:
                raise _no_action_waiting()
            _check_input(method, continuation=False)  # nothing waits: the method must be able to start a payment
        raise _in_progress(session_id)

    async def _check_continues(self, row: Any, method: PaymentMethodInput) -> None:
        """`actionResult` finishes the payment that waits for its second step: a `type` (or a card)
        sent with it must be that payment's own, never another method's."""
        if method.type is None and method.card is None:
            return
        async with self.db() as conn:
            waiting = (await conn.execute(sa.select(P.method, P.card_last4).where(P.session_id == row.id)
                                          .order_by(P.attempt.desc()).limit(1))).first()
        if waiting is None:
            return
        if method.type is not None and method.type != waiting.method:
            raise KassaError("validation_error", f"The payment waiting for its second step is a `{waiting.method}` "
                             f"payment: send `actionResult` alone or with `type: \"{waiting.method}\"`",
                             field="paymentMethod.type")
        number = method.card.number.replace(" ", "") if method.card else None
        if number and waiting.card_last4 and number[-4:] != waiting.card_last4:
            raise KassaError("validation_error", f"The payment waiting for its second step is the card ending in "
                             f"{waiting.card_last4}: send `actionResult` alone or with that card",
                             field="paymentMethod.card.number")

    # ---------------------------------------------------------------- steps

    def _attempt(self, row: Any, payment: Any, provider_ref: str | None = None) -> Attempt:
        async def remember(ref: str) -> None:
            await self.rows.remember(payment.id, ref)

        return Attempt(app_id=row.app_id, session_id=row.id, payment_id=payment.id, cart_id=row.cart_id,
                       provider_ref=provider_ref or payment.provider_ref, remember=remember)

    async def _refuse_mismatch(self, row: Any, token: str, payment: Any, connector: PaymentConnector,
                               outcome: PaymentOutcome, cart: Cart) -> None:
        """A provider payment that is not for this session at this amount never becomes its order; money
        it took for this session is given back (once: the refund is keyed by the provider's payment)."""
        if outcome.session_id not in (None, row.id):
            raise KassaError("payment_intent_invalid", "This payment was not made for this checkout session",
                             field="paymentMethod.paymentIntentId", status=422)
        await self.refund_unfulfilled(row.app_id, row.id, payment.id, connector, outcome, "amount_mismatch")
        await self._fail(row.id, token, payment.id, PaymentOutcome(
            status="failed", amount=outcome.amount, provider_ref=outcome.provider_ref, failure_code="amount_mismatch",
            failure_message="The payment was for another amount than the cart's; it was refunded"))
        raise KassaError("payment_intent_invalid", f"The payment was for {outcome.amount} {outcome.currency}, the "
                         f"cart is now {cart.total} {cart.currency}: it was refunded; pay again",
                         field="paymentMethod.paymentIntentId", status=422,
                         details={"amount": outcome.amount, "cartTotal": cart.total, "refunded": True})

    async def refund_unfulfilled(self, app_id: str, session_id: str, payment_id: str | None,
                                 connector: PaymentConnector, outcome: PaymentOutcome, reason: str) -> bool:
        """Give back a provider payment that cannot become an order, and tell the merchant: once per
        provider payment (the refund's key is derived from it; the event is written with the first
        refund's record). False when the provider refused or delayed it (the caller retries)."""
        refund_id = "re_auto_" + outcome.provider_ref
        if outcome.status == "authorized":  # nothing was taken: the shopper's hold is let go of
            await connector.release(key=session_id, provider_ref=outcome.provider_ref)
            return True
        result = await connector.refund(key=session_id, refund_id=refund_id, amount=outcome.amount,
                                        currency=outcome.currency or "", provider_ref=outcome.provider_ref)
        if not (result.succeeded or result.pending):
            log.error("automatic refund of %s failed: %s", outcome.provider_ref, result.failure_code)
            return False
        now = self.clock.now()
        data = PaymentRefundedData(payment_id=payment_id or outcome.provider_ref, session_id=session_id, sequence=2,
                                   amount=outcome.amount, currency=outcome.currency or "", reason=reason,  # type: ignore[arg-type]
                                   provider_ref=outcome.provider_ref)
        try:
            async with transaction(self.db) as conn:
                # The marker row makes the event once per provider payment.
                await conn.execute(sa.insert(provider_events).values(app_id=app_id, event_id=refund_id,
                                                                     type=PAYMENT_REFUNDED, received_at=now))
                await write_events(conn, [Event(type=PAYMENT_REFUNDED, aggregate_id=payment_id or session_id,
                                                sequence=2, data=data)], app_id=app_id, source=SOURCE, now=now)
        except sa.exc.IntegrityError:
            pass  # told already
        return True

    async def _take_over(self, row: Any, token: str, now: datetime) -> bool:
        """The reconcile job takes a lapsed claim over (a buyer's retry never does: only the job may,
        after asking the provider what the cut-off attempt did)."""
        async with transaction(self.db) as conn:
            result = await conn.execute(sa.update(sessions).where(S.id == row.id, S.status == "open",
                                                                  S.claim_token == row.claim_token)
                                        .values(claim_token=token, claim_until=now + CLAIM, claim_owner=self._owner))
        return result.rowcount == 1

    async def _hand_back(self, session_id: str, token: str) -> None:
        """A recovery that could not finish leaves the claim lapsed, not held: the next retry or
        reconcile takes it over at once rather than when this claim's deadline passes."""
        try:
            async with transaction(self.db) as conn:
                await conn.execute(sa.update(sessions).where(S.id == session_id, S.claim_token == token)
                                   .values(claim_until=self.clock.now()))
        except Exception:  # noqa: BLE001 - the claim then lapses at its deadline
            log.warning("could not hand back the claim of session %s", session_id)

    async def _release(self, session_id: str, token: str, **values: Any) -> Any:
        async with transaction(self.db) as conn:
            await conn.execute(sa.update(sessions).where(S.id == session_id, S.claim_token == token)
                               .values(claim_token=None, claim_until=None, **values))
            return (await conn.execute(sa.select(sessions).where(S.id == session_id))).first()

    async def _record_attempt(self, row: Any, token: str, cart: Cart, method: PaymentMethodInput,
                              connector: str) -> Any:
        """One payment row per attempt, written with the locked cart before any money moves; returns it."""
        if row.payment_status == "requires_action":
            return await self._continue_attempt(row, token, cart, method, connector)
        now = self.clock.now()
        number = method.card.number.replace(" ", "") if method.card else None
        payment = await self.rows.record_attempt(
            session_id=row.id, token=token, locked_cart=msgspec.to_builtins(cart), amount_total=cart.total, now=now,
            payment={"id": new_id("pay"), "app_id": row.app_id, "session_id": row.id, "order_id": None,
                     "status": "pending", "connector": connector, "method": method.type,
                     "card_brand": card_brand(number) if number else None,
                     "card_last4": number[-4:] if number else None, "amount": cart.total, "amount_refunded": 0,
                     "currency": cart.currency, "provider_ref": method.payment_intent_id, "failure_code": None,
                     "failure_message": None,
                     "created_at": now, "updated_at": now})
        if payment is None:  # the claim lapsed and the reconcile job took the session over
            raise _in_progress(row.id)
        return payment

    async def _continue_attempt(self, row: Any, token: str, cart: Cart, method: PaymentMethodInput,
                                connector: str) -> Any:
        """A session whose last attempt waits for its second step: `actionResult` (or the same card)
        continues that attempt; another method starts a new one."""
        now = self.clock.now()
        async with transaction(self.db) as conn:
            last = (await conn.execute(sa.select(payments).where(P.session_id == row.id)
                                       .order_by(P.attempt.desc()).limit(1))).first()
            await conn.execute(sa.update(sessions).where(S.id == row.id, S.claim_token == token).values(
                locked_cart=msgspec.to_builtins(cart), amount_total=cart.total, updated_at=now))
            number = method.card.number.replace(" ", "") if method.card else None
            if last is not None and last.status == "requires_action" and (
                    method.action_result is not None or (number or "")[-4:] == (last.card_last4 or "")
                    or (method.payment_intent_id is not None and method.payment_intent_id == last.provider_ref)):
                return last
            inserted = await conn.execute(sa.insert(payments).values(
                id=new_id("pay"), app_id=row.app_id, session_id=row.id, order_id=None,
                attempt=(last.attempt + 1) if last is not None else 1, status="pending", connector=connector,
                provider_ref=method.payment_intent_id,
                method=method.type, card_brand=card_brand(number) if number else None,
                card_last4=number[-4:] if number else None, amount=cart.total, amount_refunded=0,
                currency=cart.currency, created_at=now, updated_at=now).returning(*payments.c))
            return inserted.first()

    async def _finish(self, row: Any, token: str, payment: Any, cart: Cart, outcome: PaymentOutcome) -> CheckoutSession:
        """The order, the captured payment and the completed session, with their events: all or nothing
        (one statement on PostgreSQL), guarded by the claim; a unique order per session."""
        now = self.clock.now()
        order_id = new_id("ord")
        done = SimpleNamespace(**{**_fields(row, sessions), "status": "complete", "order_id": order_id,
                                  "payment_status": "paid", "completed_at": now, "claim_token": None,
                                  "claim_until": None, "cart_pending": "convert", "last_payment_error": None,
                                  "amount_total": cart.total, "version": row.version + 1, "updated_at": now})
        metadata = _merged_metadata(cart, done)
        values, order = _order(done, payment.id, cart, metadata, now)
        captured = payment_view(SimpleNamespace(**{
            **_fields(payment, payments), "status": "captured", "order_id": order_id,
            "provider_ref": outcome.provider_ref, "failure_code": None, "failure_message": None, "updated_at": now,
            "card_brand": payment.card_brand or outcome.card_brand, "card_last4": payment.card_last4 or outcome.card_last4}))
        events = [
            Event(type=ORDER_CREATED, aggregate_id=order_id, sequence=1,
                  data=OrderEventData(order_id=order_id, session_id=row.id, cart_id=row.cart_id, sequence=1,
                                      order=order, metadata=metadata)),
            Event(type=PAYMENT_CAPTURED, aggregate_id=payment.id, sequence=1,
                  data=PaymentEventData(payment_id=payment.id, session_id=row.id, sequence=1, payment=captured,
                                        order_id=order_id, metadata=metadata)),
            self.store.event(CHECKOUT_SESSION_COMPLETED, done, order_id=order_id),
        ]
        # The answer is known before the finish commits: stored with it, a lost answer is replayed.
        executed.answer_with(self.store.view(done))
        if not await self.rows.finish(session_id=row.id, token=token, version=done.version, order=values,
                                      payment_id=payment.id, provider_ref=outcome.provider_ref,
                                      card=(outcome.card_brand, outcome.card_last4), events=events,
                                      app_id=row.app_id, now=now):
            # Another completer (the reconcile job after a lapsed claim) got there first: its order stands.
            async with self.db() as conn:
                found = (await conn.execute(sa.select(sessions).where(S.id == row.id))).one()
            if found.status == "complete":
                return self.store.view(found)
            raise _in_progress(row.id)
        await self.sessions.settle_cart(done)
        return self.store.view(done)

    async def _await_action(self, session_id: str, token: str, payment_id: str, outcome: PaymentOutcome) -> None:
        now = self.clock.now()
        async with transaction(self.db) as conn:
            await conn.execute(sa.update(payments).where(P.id == payment_id).values(
                status="requires_action", provider_ref=outcome.provider_ref,
                updated_at=now))
        await self._release(session_id, token, payment_status="requires_action", updated_at=now)

    async def _fail(self, session_id: str, token: str, payment_id: str, outcome: PaymentOutcome | None) -> Any:
        """A failed attempt: recorded, reported, the session open again and its cart owed a reopen."""
        now = self.clock.now()
        code = outcome.failure_code if outcome else "payment_abandoned"
        message = (outcome.failure_message if outcome else None) or "The payment did not complete"
        async with transaction(self.db) as conn:
            await conn.execute(sa.update(payments).where(P.id == payment_id, P.status.in_(("pending", "requires_action")))
                               .values(status="failed", failure_code=code, failure_message=message,
                                       updated_at=now))
            payment = payment_view((await conn.execute(sa.select(payments).where(P.id == payment_id))).first())
            row = await self.store.update(conn, session_id, now, claim_token=None, claim_until=None,
                                          payment_status="unpaid", cart_pending="reopen", locked_cart=None,
                                          last_payment_error={"code": code, "message": message,
                                                              "paymentId": payment_id})
            await write_events(conn, [Event(type=PAYMENT_FAILED, aggregate_id=payment_id, sequence=1,
                                            data=PaymentEventData(payment_id=payment_id, session_id=session_id,
                                                                  sequence=1, payment=payment))],
                               app_id=row.app_id, source=SOURCE, now=now)
        return row

    async def provider_failed(self, app_id: str, session_id: str, provider_ref: str, code: str, message: str) -> None:
        """The provider says a payment waiting for its second step failed (the shopper's bank refused
        the authentication after the page was closed): the attempt fails and the cart reopens."""
        now = self.clock.now()
        token = new_id("clm")
        row = await self.rows.claim(app_id=app_id, session_id=session_id, token=token, now=now, until=now + CLAIM,
                                    secret_hash=None, awaiting_action=True, owner=self._owner)
        if row is None:
            return  # not waiting for a second step: the request that confirmed it reported the decline
        async with self.db() as conn:
            payment = (await conn.execute(sa.select(payments).where(
                P.session_id == session_id, P.provider_ref == provider_ref, P.status == "requires_action"))).first()
        if payment is None:
            await self._release(session_id, token)
            return
        updated = await self._fail(session_id, token, payment.id, PaymentOutcome(
            status="failed", amount=payment.amount, provider_ref=provider_ref, failure_code=code,
            failure_message=message))
        await self.sessions.settle_cart(updated)

    # ---------------------------------------------------------------- recovery

    async def reconcile(self, *, limit: int = 50, session_ids: list[str] | None = None) -> int:
        """Finish or unwind every completion whose claim lapsed (its process died mid-way); or those
        of `session_ids` only (a dead process's, just lapsed)."""
        now = self.clock.now()
        query = (sa.select(sessions).where(S.claim_token.is_not(None), S.claim_until <= now, S.status == "open")
                 .order_by(S.claim_until).limit(limit))
        if session_ids is not None:
            query = query.where(S.id.in_(session_ids))
        async with self.db() as conn:
            lapsed = (await conn.execute(query)).all()
        done = 0
        for row in lapsed:
            token = new_id("clm")
            if not await self._take_over(row, token, now):
                continue  # another reconciler took it
            try:
                await self._resolve(row, token)
                done += 1
            except KassaError as exc:  # the provider or the cart service is away: the next run tries again
                log.warning("reconcile of %s deferred: %s", row.id, exc.code)
                await self._hand_back(row.id, token)
            except Exception:  # noqa: BLE001 - one session's trouble must not hold up the others
                log.exception("reconcile of %s failed; deferred", row.id)
                await self._hand_back(row.id, token)
        if session_ids is None:
            await self.sessions.settle_pending()
        return done

    async def _resolve(self, row: Any, token: str) -> None:
        async with self.db() as conn:
            environment = (await conn.execute(sa.select(applications.c.environment)
                                              .where(applications.c.id == row.app_id))).scalar_one()
            payment = (await conn.execute(sa.select(payments).where(P.session_id == row.id)
                                          .order_by(P.attempt.desc()).limit(1))).first()
        connector = await self.connectors.for_app(row.app_id, environment)
        attempt = None if payment is None else self._attempt(row, payment)
        outcome = None if attempt is None else await connector.status(key=row.id, attempt=attempt)
        cart = None if row.locked_cart is None else msgspec.convert(row.locked_cart, Cart)
        if outcome is not None and payment is not None and outcome.status in ("authorized", "captured") and \
                cart is not None and not _pays_for(outcome, row.id, cart):
            await self.refund_unfulfilled(row.app_id, row.id, payment.id, connector, outcome, "amount_mismatch")
            outcome = PaymentOutcome(status="failed", amount=outcome.amount, provider_ref=outcome.provider_ref,
                                     failure_code="amount_mismatch", failure_message="Refunded: another amount")
        if outcome is not None and outcome.status == "authorized" and cart is not None and attempt is not None:
            outcome = await connector.capture(key=row.id, amount=cart.total,
                                              attempt=self._attempt(row, payment, outcome.provider_ref))
        if outcome is not None and outcome.status == "captured" and cart is not None and payment is not None:
            log.info("reconcile: session %s was paid; creating its order", row.id)
            await self._finish(row, token, payment, cart, outcome)
        elif outcome is not None and outcome.status == "requires_action" and payment is not None:
            await self._await_action(row.id, token, payment.id, outcome)
        else:
            if payment is not None and payment.status in ("pending", "requires_action"):
                updated = await self._fail(row.id, token, payment.id, outcome)
            else:  # died before paying: only the cart lock to undo
                updated = await self._release(row.id, token, cart_pending="reopen", locked_cart=None)
            await self.sessions.settle_cart(updated)


class _Superseded(Exception):
    pass


_RECOVERED = object()  # `_not_claimed`: a dead completer's claim was recovered; claim again



def _pays_for(outcome: PaymentOutcome, session_id: str, cart: Cart) -> bool:
    """The provider's payment is this session's, for the locked cart's amount and currency."""
    return (outcome.amount == cart.total and outcome.currency in (None, cart.currency)
            and outcome.session_id in (None, session_id))


def _check_for_connector(connector: PaymentConnector, method: PaymentMethodInput) -> None:
    """Card data never reaches Kassa for a real provider: Stripe takes what Stripe.js made of it."""
    if connector.name == "stripe":
        if method.card is not None:
            raise KassaError("validation_error", "Card numbers are not accepted: collect the card with Stripe.js "
                             "and send its `token` (tok_… or pm_…)", field="paymentMethod.card")
        if method.type == "card" and not (method.token or "").startswith(("tok_", "pm_")):
            raise KassaError("validation_error", "A card payment needs the `token` Stripe.js made of the card "
                             "(tok_… or pm_…)", field="paymentMethod.token")
        if method.type not in (None, "card", "stripe"):
            raise KassaError("payment_method_not_allowed", f"`{method.type}` is not offered with Stripe",
                             field="paymentMethod.type", status=422)
        return
    if method.type == "stripe":
        raise KassaError("payment_method_not_allowed", "This application does not take payments with Stripe",
                         field="paymentMethod.type", status=422)
    if method.type == "card" and method.card is None and method.action_result is None:
        raise KassaError("validation_error", "A card payment needs `card.number`", field="paymentMethod.card")


def _second_step_alone(method: PaymentMethodInput) -> bool:
    """`actionResult` without the method's details (its `type` may be kept): it only finishes a payment
    that waits for its second step."""
    return (method.action_result is not None and method.card is None and method.token is None
            and method.payment_intent_id is None)


def _check_input(method: PaymentMethodInput, *, continuation: bool = True) -> None:
    """A payment method that can start an attempt, or `actionResult` alone (with or without the type
    of the payment it finishes)."""
    if method.type is None:
        if method.action_result is None:
            raise KassaError("validation_error", "`paymentMethod.type` is required", field="paymentMethod.type")
        return
    if method.type == "stripe":
        if method.payment_intent_id is None:
            raise KassaError("validation_error", "A `stripe` payment names its `paymentIntentId`",
                             field="paymentMethod.paymentIntentId")
        return
    if method.type not in METHOD_IDS:
        raise KassaError("validation_error", f"Unknown payment method `{method.type}`", field="paymentMethod.type")
    if continuation and _second_step_alone(method):
        return  # checked against the waiting payment once the session is claimed
    if method.type == "card" and method.card is None and not method.token:
        raise KassaError("validation_error", "A card payment needs `card.number`", field="paymentMethod.card")
    if method.type != "card" and not method.token:
        raise KassaError("validation_error", f"A {method.type} payment needs the wallet's `token`",
                         field="paymentMethod.token")


def _check_allowed(row: Any, method: PaymentMethodInput) -> None:
    method_id = "card" if method.type == "stripe" else method.type  # a Stripe intent is paid by card
    if row.allowed_methods and method_id not in row.allowed_methods:
        raise KassaError("payment_method_not_allowed", f"This checkout does not accept `{method.type}` "
                         f"(allowed: {', '.join(row.allowed_methods)})", field="paymentMethod.type", status=422)


def _no_action_waiting() -> KassaError:
    return KassaError("validation_error", "`paymentMethod.type` is required: `actionResult` alone only finishes "
                      "a payment waiting for its second step", field="paymentMethod.type")


def _fields(row: Any, table: sa.Table) -> dict[str, Any]:
    return {c.name: getattr(row, c.name) for c in table.c}


def _order(row: Any, payment_id: str, cart: Cart, metadata: dict[str, Any],
           now: datetime) -> tuple[dict[str, Any], Order]:
    """The order row copied from the locked cart, and the Order it shows (built here, not read back)."""
    discounts = [d for d in cart.discounts if d.applied]
    document = OrderDocument(line_items=cart.line_items, discounts=discounts, shipping_method=cart.shipping_method,
                             tax_lines=cart.tax_lines, taxes_included=cart.taxes_included, customer=cart.customer)
    common = {"id": row.order_id, "status": "paid", "session_id": row.id, "cart_id": row.cart_id,
              "currency": cart.currency, "customer_email": cart.customer_email, "subtotal": cart.subtotal,
              "discount_total": cart.discount_total, "shipping_total": cart.shipping_total,
              "tax_total": cart.tax_total, "total": cart.total, "item_count": cart.item_count, "amount_refunded": 0,
              "metadata": metadata, "payment_id": payment_id, "created_at": now, "updated_at": now}
    values = {**common, "app_id": row.app_id, "document": msgspec.to_builtins(document), "version": 1,
              "shipping_address": msgspec.to_builtins(cart.shipping_address),
              "billing_address": msgspec.to_builtins(cart.billing_address)}
    order = Order(**common, line_items=cart.line_items, discounts=discounts, shipping_method=cart.shipping_method,
                  tax_lines=cart.tax_lines, taxes_included=cart.taxes_included,
                  shipping_address=cart.shipping_address, billing_address=cart.billing_address,
                  customer=cart.customer)
    return values, order


def _merged_metadata(cart: Cart, row: Any) -> dict[str, Any]:
    """cart < session < {customerEmail} (seed 003, 2026-05-04)."""
    merged = {**(cart.metadata or {}), **(row.metadata or {})}
    if cart.customer_email:
        merged["customerEmail"] = cart.customer_email
    return merged
