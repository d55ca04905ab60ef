"""Headless checkouts on Stripe: the session's PaymentIntent, for the storefront to confirm with Stripe.js.

One intent per session while it can still be paid (its amount follows the cart); the storefront
then completes the session with `paymentMethod: {type: "stripe", paymentIntentId}`, and Kassa checks
the intent with Stripe before it makes the order.
"""

from __future__ import annotations

from kassa_contract.errors import KassaError
from kassa_contract.payments import PaymentIntentHandle
from kassa_platform.auth import Principal
from kassa_platform.clock import Clock
from kassa_platform.db import Database, transaction
from kassa_platform.ids import new_id

from .cart_client import CartClient
from .payment_settings import Connectors
from .payments.connector import Attempt
from .sessions import SessionStore, authorize, check_open
from .tables import checkout_sessions as sessions


class PaymentIntents:
    def __init__(self, db: Database, clock: Clock, store: SessionStore, cart: CartClient,
                 connectors: Connectors) -> None:
        self.db = db
        self.clock = clock
        self.store = store
        self.cart = cart
        self.connectors = connectors

    async def for_session(self, principal: Principal, session_id: str, session_secret: str | None) -> PaymentIntentHandle:
        connector, account = await self.connectors.stripe(principal.app_id)
        for _ in range(3):
            async with self.db() as conn:
                row = await self.store.load(conn, principal.app_id, session_id)
            authorize(principal, row, session_secret)
            check_open(row, self.clock.now())
            cart = await self.cart.get(row.app_id, row.cart_id)
            attempt = Attempt(app_id=row.app_id, session_id=row.id, payment_id="", cart_id=row.cart_id,
                              provider_ref=row.provider_intent)
            intent = await connector.session_intent(attempt, cart.total, cart.currency,
                                                    new_key=f"kassa-{row.id}-{new_id('pi')}")
            if intent["id"] == row.provider_intent or await self._keep(row, intent["id"]):
                return PaymentIntentHandle(provider="stripe", payment_intent_id=intent["id"],
                                           client_secret=intent["client_secret"], publishable_key=account.publishable_key,
                                           amount=cart.total, currency=cart.currency)
        raise KassaError("checkout_in_progress", "The session's payment is changing; try again", status=409,
                         headers={"Retry-After": "1"})

    async def _keep(self, row: object, intent_id: str) -> bool:
        """Store the new intent unless a concurrent call stored another first (that one wins)."""
        old = getattr(row, "provider_intent")
        async with transaction(self.db) as conn:
            guard = sessions.c.provider_intent.is_(None) if old is None else sessions.c.provider_intent == old
            result = await conn.execute(sessions.update().where(sessions.c.id == getattr(row, "id"), guard)
                                        .values(provider_intent=intent_id, updated_at=self.clock.now()))
        return result.rowcount == 1
