"""The completion saga's writes: each step one statement on PostgreSQL, one transaction on SQLite.

A complete runs four writes of its own: the claim (which also reads the session), the attempt
(with the cart as locked), the finish (session, order, payment and their events) and the owed
cart call settled. On PostgreSQL each is ONE statement, the multi-table ones chained by
data-modifying CTEs and guarded by the claim token, so they need no transaction (no BEGIN/COMMIT
round trips) and run on the direct asyncpg pool (kassa_platform.direct), like the cart's hot path.
On SQLite the same Core parts run in a transaction through SQLAlchemy.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import sqlalchemy as sa
from kassa_platform.db import Database, transaction
from kassa_platform.direct import DirectStatement
from kassa_platform.liveness import owner_dead
from kassa_platform.outbox import Event, events_params, insert_event_after, write_events

from .tables import checkout_sessions as sessions
from .tables import orders, payment_settings, payments

S = sessions.c
P = payments.c
SOURCE = "checkout"


def _setting(column: sa.Column[Any]) -> sa.ScalarSelect[Any]:
    # By the claimed application's id as bound, not correlated with the session's column: SQLite's
    # RETURNING names columns unqualified, and `app_id = app_id` would match every application's row.
    return sa.select(column).where(payment_settings.c.app_id == sa.bindparam("w_app_id")).scalar_subquery()


def _claim_statement(secret: bool, awaiting_action: bool, late: bool = False) -> sa.Update:
    """Take an open, unexpired, unclaimed session of the application for one completer, and read it.
    `late`: a payment the provider took (its webhook) may still complete a session that expired."""
    usable = (sa.or_(S.status == "open", S.status == "expired") if late  # no IN: its list would not precompile
              else sa.and_(S.status == "open", S.expires_at > sa.bindparam("w_now")))
    query = (sa.update(sessions)
             .where(S.id == sa.bindparam("w_session_id"), S.app_id == sa.bindparam("w_app_id"), usable,
                    S.claim_token.is_(None))
             .values(claim_token=sa.bindparam("token"), claim_until=sa.bindparam("until"),
                     claim_owner=sa.bindparam("owner", type_=S.claim_owner.type))
             # The application's payment provider comes along, so that choosing its connector costs nothing.
             .returning(*sessions.c, _setting(payment_settings.c.provider).label("payment_provider"),
                        _setting(payment_settings.c.updated_at).label("payment_settings_at")))
    if secret:  # a browser's publishable key claims only with the session's secret
        query = query.where(S.client_secret_hash == sa.bindparam("w_secret_hash"))
    if awaiting_action:  # `actionResult` alone: only while a payment waits for its second step
        query = query.where(S.payment_status == "requires_action")
    return query


_CLAIMS = {(secret, action, late): _claim_statement(secret, action, late)
           for secret in (False, True) for action in (False, True) for late in (False, True)}
_DIRECT_CLAIMS = {key: DirectStatement(statement) for key, statement in _CLAIMS.items()}

_LOCKED = (sa.update(sessions).where(S.id == sa.bindparam("w_session_id"), S.claim_token == sa.bindparam("w_token"))
           .values(locked_cart=sa.bindparam("locked_cart"), amount_total=sa.bindparam("amount_total"),
                   updated_at=sa.bindparam("now")))
_PAYMENT_COLUMNS = [c.name for c in payments.c if c.name != "attempt"]
_NEXT_ATTEMPT = (sa.select(sa.func.coalesce(sa.func.max(P.attempt), 0) + 1)
                 .where(P.session_id == sa.bindparam("w_session_id")).scalar_subquery())
# PostgreSQL: the locked cart on the session and the attempt's payment row, in one statement.
_ATTEMPT = DirectStatement(
    payments.insert().from_select(
        [*_PAYMENT_COLUMNS, "attempt"],
        sa.select(*[sa.bindparam(f"p_{name}", type_=P[name].type) for name in _PAYMENT_COLUMNS], _NEXT_ATTEMPT)
        .select_from(_LOCKED.returning(S.id).cte("locked")))
    .returning(*payments.c))

# The finish, guarded by the claim: the session complete, its order, the captured payment.
_COMPLETED = (sa.update(sessions).where(S.id == sa.bindparam("w_session_id"), S.claim_token == sa.bindparam("w_token"))
              .values(status="complete", order_id=sa.bindparam("order_id"), payment_status="paid",
                      completed_at=sa.bindparam("now"), claim_token=None, claim_until=None, cart_pending="convert",
                      last_payment_error=None, version=sa.bindparam("version"), updated_at=sa.bindparam("now")))
_ORDER_COLUMNS = [c.name for c in orders.c]
_CAPTURED = (sa.update(payments).where(P.id == sa.bindparam("w_payment_id"))
             .values(status="captured", order_id=sa.bindparam("order_id"), provider_ref=sa.bindparam("provider_ref"),
                     # The card as the provider saw it (Kassa never saw its number with Stripe).
                     card_brand=sa.func.coalesce(P.card_brand, sa.bindparam("card_brand", type_=P.card_brand.type)),
                     card_last4=sa.func.coalesce(P.card_last4, sa.bindparam("card_last4", type_=P.card_last4.type)),
                     failure_code=None, failure_message=None, updated_at=sa.bindparam("now")))
FINISH_EVENTS = 3  # order.created, payment.captured, checkout.session.completed


def _finish_statement() -> sa.Insert:
    completed = _COMPLETED.returning(S.id).cte("completed")
    order = (orders.insert()
             .from_select(_ORDER_COLUMNS, sa.select(*[sa.bindparam(f"o_{name}", type_=orders.c[name].type)
                                                      for name in _ORDER_COLUMNS]).select_from(completed))
             .returning(orders.c.id).cte("ordered"))
    captured = _CAPTURED.where(sa.exists(sa.select(order.c.id))).returning(P.id).cte("captured")
    return insert_event_after(captured, FINISH_EVENTS)


_FINISH = DirectStatement(_finish_statement())
# A claim whose process is dead (kassa_platform.liveness) or whose deadline passed: recovery's now.
_CLAIM_OVER = sa.or_(S.claim_until <= sa.bindparam("w_now"), owner_dead(S.claim_owner))
_CLAIM_LAPSED = (sa.select(_CLAIM_OVER.label("over"))
                 .where(S.id == sa.bindparam("w_session_id"), S.claim_token == sa.bindparam("w_token")))
_DIRECT_CLAIM_LAPSED = DirectStatement(_CLAIM_LAPSED)
# Every claim of a dead process lapses now, so that the reconcile finds it.
_LAPSE_DEAD = (sa.update(sessions).where(S.claim_token.is_not(None), S.status == "open",
                                         S.claim_until > sa.bindparam("w_now"), owner_dead(S.claim_owner))
               .values(claim_until=sa.bindparam("w_now")).returning(S.id))
_REMEMBER = (sa.update(payments).where(P.id == sa.bindparam("w_payment_id"))
             .values(provider_ref=sa.bindparam("provider_ref")))
_DIRECT_REMEMBER = DirectStatement(_REMEMBER.returning(P.id))
class SagaRows:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def claim(self, *, app_id: str, session_id: str, token: str, now: datetime, until: datetime,
                    secret_hash: str | None, awaiting_action: bool, late: bool = False, owner: int | None = None) -> Any:
        """The session as claimed, or None when it cannot be claimed (the caller finds out why).
        `owner`: the claiming process's liveness number."""
        key = (secret_hash is not None, awaiting_action, late)
        params = {"w_session_id": session_id, "w_app_id": app_id, "token": token, "until": until, "owner": owner}
        if not late:
            params["w_now"] = now
        if secret_hash is not None:
            params["w_secret_hash"] = secret_hash
        if self.db.direct is not None:
            return await self.db.direct.fetchrow(_DIRECT_CLAIMS[key], params)
        async with transaction(self.db) as conn:
            return (await conn.execute(_CLAIMS[key], params)).first()

    async def claim_lapsed(self, session_id: str, token: str, now: datetime) -> bool:
        """Whether the claim `token` on the session is over: its process is dead, or its deadline passed."""
        params = {"w_session_id": session_id, "w_token": token, "w_now": now}
        if self.db.direct is not None:
            direct = await self.db.direct.fetchrow(_DIRECT_CLAIM_LAPSED, params)
            return direct is not None and bool(direct.over)
        async with self.db() as conn:
            row = (await conn.execute(_CLAIM_LAPSED, params)).first()
        return row is not None and bool(row.over)

    async def lapse_dead_claims(self, now: datetime) -> list[str]:
        """The claims of dead processes lapse now; their sessions' ids (to reconcile)."""
        async with transaction(self.db) as conn:
            return [r.id for r in (await conn.execute(_LAPSE_DEAD, {"w_now": now})).all()]

    async def record_attempt(self, *, session_id: str, token: str, locked_cart: dict[str, Any], amount_total: int,
                             payment: dict[str, Any], now: datetime) -> Any:
        """The cart as locked on the session, and a new payment row (its attempt numbered next): the
        payment row, or None when the claim was lost."""
        lock = {"w_session_id": session_id, "w_token": token, "locked_cart": locked_cart, "amount_total": amount_total,
                "now": now}
        if self.db.direct is not None:
            return await self.db.direct.fetchrow(_ATTEMPT, {**lock, **{f"p_{k}": v for k, v in payment.items()}})
        async with transaction(self.db) as conn:
            if (await conn.execute(_LOCKED, lock)).rowcount != 1:
                return None
            attempt = (await conn.execute(sa.select(_NEXT_ATTEMPT), {"w_session_id": session_id})).scalar_one()
            return (await conn.execute(payments.insert().values(**payment, attempt=attempt)
                                       .returning(*payments.c))).first()

    async def remember(self, payment_id: str, provider_ref: str) -> None:
        """The provider's object for an attempt, stored before money can move (one statement)."""
        params = {"w_payment_id": payment_id, "provider_ref": provider_ref}
        if self.db.direct is not None:
            await self.db.direct.fetchrow(_DIRECT_REMEMBER, params)
            return
        async with transaction(self.db) as conn:
            await conn.execute(_REMEMBER, params)

    async def finish(self, *, session_id: str, token: str, version: int, order: dict[str, Any], payment_id: str,
                     provider_ref: str | None, card: tuple[str | None, str | None], events: list[Event], app_id: str,
                     now: datetime) -> bool:
        """Session complete, order, captured payment and their events, all or nothing; False when
        nothing was written: the claim was lost, or the session has its order already (the unique
        order per session)."""
        completed = {"w_session_id": session_id, "w_token": token, "version": version, "order_id": order["id"],
                     "now": now}
        captured = {"w_payment_id": payment_id, "order_id": order["id"], "provider_ref": provider_ref, "now": now,
                    "card_brand": card[0], "card_last4": card[1]}
        try:
            if self.db.direct is not None:
                return await self.db.direct.fetchrow(_FINISH, {
                    **completed, **captured, **{f"o_{k}": v for k, v in order.items()},
                    **events_params(events, app_id=app_id, source=SOURCE, now=now)}) is not None
            async with transaction(self.db) as conn:
                if (await conn.execute(_COMPLETED, completed)).rowcount != 1:
                    return False
                await conn.execute(orders.insert(), order)
                await conn.execute(_CAPTURED, captured)
                await write_events(conn, events, app_id=app_id, source=SOURCE, now=now)
            return True
        except (sa.exc.IntegrityError, asyncpg.UniqueViolationError):
            return False
