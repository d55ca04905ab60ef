"""The built-in `test` connector: a simulated provider driven by test card numbers.

| card number         | outcome                                   |
|---------------------|-------------------------------------------|
| 4242 4242 4242 4242 | success (any other valid-looking number too) |
| 4000 0000 0000 0002 | declined: `card_declined`                 |
| 4000 0000 0000 9995 | declined: `insufficient_funds`            |
| 4000 0000 0000 0119 | `processing_error` (try again)            |
| 4000 0027 6000 3184 | needs a second step (`three_d_secure`): complete again with `actionResult` |

Wallet methods succeed unless their token is `tok_decline`. The intents live in a table of
their own: the "provider" outlives a crash of our process, as a real one would.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from kassa_contract.checkout import PaymentMethodInput
from kassa_contract.errors import KassaError
from kassa_platform.clock import Clock
from kassa_platform.db import Database, transaction
from kassa_platform.rows import DirectStatement, for_update, on_direct
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from ..tables import test_payment_intents as intents
from .connector import Attempt, PaymentOutcome, RefundOutcome
from .methods import card_brand

DECLINES = {
    "4000000000000002": ("card_declined", "The card was declined"),
    "4000000000009995": ("insufficient_funds", "The card has insufficient funds"),
    "4000000000000119": ("processing_error", "The card could not be processed; try again"),
}
THREE_D_SECURE = "4000002760003184"
MESSAGES = {"authentication_failed": "The card's authentication failed"}


def _first_status(method: PaymentMethodInput, number: str) -> tuple[str, str | None]:
    """(status, failure code) of a new intent for `method`."""
    if method.type == "card":
        failure = DECLINES.get(number, (None, None))[0]
        return ("requires_action" if number == THREE_D_SECURE else "failed" if failure else "authorized"), failure
    failure = "card_declined" if method.token == "tok_decline" else None
    return ("failed" if failure else "authorized"), failure


_FIRST = DirectStatement(
    postgresql.insert(intents).values({c.name: sa.bindparam(c.name) for c in intents.c})
    .on_conflict_do_nothing(index_elements=[intents.c.key]).returning(*intents.c))


_CAPTURE = DirectStatement(
    intents.update().where(intents.c.key == sa.bindparam("w_key"), intents.c.status == "authorized")
    .values(status="captured", captured=sa.bindparam("captured"), charges=intents.c.charges + 1,
            updated_at=sa.bindparam("updated_at")).returning(*intents.c))


class TestConnector:
    __test__ = False  # not a pytest class
    name = "test"

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def _intent(self, conn: AsyncConnection, key: str) -> Any:
        return (await conn.execute(for_update(conn, sa.select(intents).where(intents.c.key == key)))).first()

    @staticmethod
    def _outcome(row: Any, **extra: Any) -> PaymentOutcome:
        return PaymentOutcome(status=row.status, amount=row.amount, currency=row.currency, provider_ref=f"test_{row.key}",
                              failure_code=row.failure_code,
                              failure_message=MESSAGES.get(row.failure_code or "")
                              or next((m for c, m in DECLINES.values() if c == row.failure_code), None),
                              next_action="three_d_secure" if row.status == "requires_action" else None, **extra)

    async def authorize(self, *, key: str, amount: int, currency: str, method: PaymentMethodInput,
                        attempt: Attempt | None = None) -> PaymentOutcome:
        number = (method.card.number.replace(" ", "") if method.card else "")
        # `actionResult` without the method's details (its `type` may be kept) only finishes a second step.
        second_step = method.action_result is not None and method.card is None and method.token is None
        if method.type == "card" and not method.card and not second_step:
            raise KassaError("validation_error", "A card payment needs `card.number`", field="paymentMethod.card")
        brand = card_brand(number) if number else None
        last4 = number[-4:] if number else None
        now = self.clock.now()
        if method.type is not None and not second_step:
            # A key seen for the first time (every first attempt): one statement on PostgreSQL, no transaction.
            values = self._values(_first_status(method, number), amount, currency, now)
            first = await on_direct(self.db, _FIRST, {**values, "key": key, "refunded": 0, "refund_ids": [],
                                                      "created_at": now})
            if first is not None:
                return self._outcome(first, card_brand=brand, card_last4=last4)
        async with transaction(self.db) as conn:
            row = await self._intent(conn, key)
            if row is not None and row.status in ("authorized", "captured"):
                return self._outcome(row, card_brand=brand, card_last4=last4)  # the same key never pays twice
            # The second step: `actionResult` alone (with or without the method's type), or with the card
            # that asked for it.
            if row is not None and row.status == "requires_action" and (method.type is None or second_step
                                                                         or number == THREE_D_SECURE):
                if method.action_result is None:
                    return self._outcome(row, card_brand=brand, card_last4=last4)
                status: tuple[str, str | None] = ("authorized", None) if method.action_result == "approved" else ("failed", "authentication_failed")
            elif method.type is None or second_step:
                raise KassaError("validation_error", "`actionResult` alone only finishes a payment waiting for its "
                                 "second step", field="paymentMethod.type")
            else:
                status = _first_status(method, number)
            values = self._values(status, amount, currency, now)
            if row is None:
                query: sa.Insert | sa.Update = intents.insert().values(key=key, refunded=0, refund_ids=[], created_at=now, **values)
            else:
                query = intents.update().where(intents.c.key == key).values(**values)
            row = (await conn.execute(query.returning(*intents.c))).first()
        return self._outcome(row, card_brand=brand, card_last4=last4)

    @staticmethod
    def _values(status: tuple[str, str | None], amount: int, currency: str, now: Any) -> dict[str, Any]:
        """An intent's new state (nothing captured yet)."""
        return {"status": status[0], "failure_code": status[1], "amount": amount, "currency": currency,
                "captured": 0, "charges": 0, "updated_at": now}

    async def capture(self, *, key: str, amount: int, attempt: Attempt | None = None) -> PaymentOutcome:
        # An authorized intent (the common case): captured in one guarded statement on PostgreSQL.
        captured = await on_direct(self.db, _CAPTURE, {"w_key": key, "captured": amount,
                                                       "updated_at": self.clock.now()})
        if captured is not None:
            return self._outcome(captured)
        async with transaction(self.db) as conn:
            row = await self._intent(conn, key)
            if row is None or row.status not in ("authorized", "captured"):
                raise KassaError("payment_not_capturable", f"No authorized payment for {key}", status=409)
            if row.status == "authorized":
                row = (await conn.execute(intents.update().where(intents.c.key == key).values(
                    status="captured", captured=amount, charges=intents.c.charges + 1, updated_at=self.clock.now())
                    .returning(*intents.c))).first()
        return self._outcome(row)

    async def refund(self, *, key: str, refund_id: str, amount: int, currency: str | None = None,
                     provider_ref: str | None = None) -> RefundOutcome:
        async with transaction(self.db) as conn:
            row = await self._intent(conn, key)
            if row is None or row.status != "captured":
                return RefundOutcome(succeeded=False, failure_code="not_captured", failure_message="Nothing to refund")
            if refund_id in row.refund_ids:
                return RefundOutcome(succeeded=True)
            if amount > row.captured - row.refunded:
                return RefundOutcome(succeeded=False, failure_code="amount_too_large",
                                     failure_message="The refund exceeds what is left of the payment")
            await conn.execute(intents.update().where(intents.c.key == key).values(
                refunded=row.refunded + amount, refund_ids=[*row.refund_ids, refund_id], updated_at=self.clock.now()))
        return RefundOutcome(succeeded=True)

    async def release(self, *, key: str, provider_ref: str) -> None:
        """Nothing to let go of: the test provider captures in the request that authorized."""

    async def status(self, *, key: str, attempt: Attempt | None = None) -> PaymentOutcome | None:
        async with self.db() as conn:
            row = (await conn.execute(sa.select(intents).where(intents.c.key == key))).first()
        return None if row is None else self._outcome(row)
