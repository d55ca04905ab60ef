"""The rows of a till's two-step redemption when everything fits: a reserve and a confirm each run
as one transaction of prebuilt statements. On PostgreSQL they run on a plain asyncpg connection
(kassa_platform.direct), about five times less CPU than through SQLAlchemy's async layer; on SQLite,
and for a request with an Idempotency-Key (whose mark commits through SQLAlchemy), the same Core
statements run in a SQLAlchemy transaction.

They are the statements of the general path (reservations.py, redemptions.py), built once with
bound parameters: the same conditional UPDATEs take a campaign's use and budget and a code's use
and balance, in the same lock order (campaigns by id, then codes by id). Anything that does not fit
(a limit short, a transaction id used before, a hold expired, a retry) returns False/None having
changed nothing, and the caller runs the general path, which says exactly why.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import sqlalchemy as sa
from kassa_contract.redemptions import BasketRedemption
from kassa_platform import executed
from kassa_platform.db import Database, transaction
from kassa_platform.direct import DirectStatement, DirectTransaction
from kassa_platform.ids import new_id
from kassa_platform.tables import outbox_events
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from .. import model
from ..model import AppliedDiscount
from .codes import applied_code, code_key
from .redemptions import _MOVES, _bp, _campaign_take, _code_take
from .reservations import _LINES, _Line, _view
from .tables import campaigns, codes, redemptions, reservation_lines, reservations

R, L, D = reservations.c, reservation_lines.c, redemptions.c
_APP, _ID, _CAMP = _bp("_app", sa.String()), _bp("_id", sa.String()), _bp("_camp", sa.String())
_N, _AMT = _bp("_n", sa.Integer()), _bp("_amt", sa.BigInteger())
_NOW = _bp("_now", R.updated_at.type)


class _Statement:
    """A Core statement and its asyncpg form, compiled once."""

    __slots__ = ("core", "direct")

    def __init__(self, core: sa.Executable) -> None:
        self.core = core
        self.direct = DirectStatement(core, variant=False)


_CAMPAIGN_TAKE = _Statement(_campaign_take(_APP, _ID, _N, _AMT, reserve=True, now=_NOW)
                            .returning(campaigns.c.id))
_CODE_TAKE = {gift: _Statement(_code_take(_APP, _CAMP, _ID, 1, _AMT, gift_card=gift, reserve=True,
                                          now=_NOW).returning(codes.c.id))
              for gift in (False, True)}


def _insert(table: sa.Table) -> _Statement:
    return _Statement(table.insert().values({c.name: sa.bindparam(c.name, type_=c.type) for c in table.c}))


_INSERT_RESERVATION = _insert(reservations)
_INSERT_REDEMPTION = _insert(redemptions)
_INSERT_LINE = _insert(reservation_lines)
_INSERT_EVENT = _Statement(outbox_events.insert().values(
    {c.name: sa.bindparam(f"event_{c.name}", type_=c.type) for c in outbox_events.c
     if c.name in ("id", "app_id", "type", "source", "aggregate_id", "sequence", "payload", "created_at")}))

_CLAIM = _Statement(
    sa.update(reservations)
    .where(R.id == _ID, R.app_id == _APP, R.status == "reserved", R.expires_at > _NOW)
    .values(status="confirmed", transaction_id=sa.bindparam("_tx", type_=sa.String()), confirmed_at=_NOW,
            updated_at=_NOW, version=R.version + 1)
    .returning(*reservations.c))
_CONFIRM_LINES = _Statement(
    sa.update(redemptions)
    .where(D.id.in_(sa.select(L.redemption_id).where(L.reservation_id == _ID)), D.status == "reserved")
    .values(status="confirmed", updated_at=_NOW)
    .returning(D.id, D.campaign_id, D.code_id, D.amount))
_READ_LINES = _Statement(_LINES)
_MOVE_CONFIRM = tuple(_Statement(s) for s in _MOVES["confirm"])


class _Tx:
    """The statements of one transaction, on whichever connection it runs."""

    def __init__(self, direct: DirectTransaction | None = None, conn: AsyncConnection | None = None) -> None:
        self.direct, self.conn = direct, conn

    async def row(self, st: _Statement, params: dict[str, Any]) -> Any:
        if self.direct is not None:
            return await self.direct.fetchrow(st.direct, params)
        assert self.conn is not None
        return (await self.conn.execute(st.core, params)).first()

    async def rows(self, st: _Statement, params: dict[str, Any]) -> list[Any]:
        if self.direct is not None:
            return await self.direct.fetch(st.direct, params)
        assert self.conn is not None
        return list((await self.conn.execute(st.core, params)).all())

    async def run(self, st: _Statement, params: dict[str, Any] | Sequence[dict[str, Any]]) -> None:
        if not params:
            return
        if self.direct is not None:
            if isinstance(params, dict):
                await self.direct.fetch(st.direct, params)
            else:
                await self.direct.executemany(st.direct, params)
            return
        assert self.conn is not None
        await self.conn.execute(st.core, params if isinstance(params, dict) else list(params))


_CODE_COLUMNS = (codes.c.id, codes.c.code, codes.c.code_key, codes.c.status, codes.c.usage_limit, codes.c.uses,
                 codes.c.reserved_uses, codes.c.balance, codes.c.assigned_to, codes.c.expires_at,
                 *[c.label(f"c_{c.name}") for c in campaigns.c])
_CODES = sa.select(*_CODE_COLUMNS).join(campaigns, campaigns.c.id == codes.c.campaign_id)
_RESOLVE_DIRECT = DirectStatement(_CODES.where(
    codes.c.app_id == _APP, codes.c.code_key == sa.any_(sa.bindparam("keys", type_=ARRAY(sa.String())))),
    variant=False)
_RESOLVE_CORE = _CODES.where(codes.c.app_id == _APP, codes.c.code_key.in_(sa.bindparam("keys", expanding=True)))


class CodeReader:
    """`CodeStore.resolve` in one read (the engine's view of the codes) that also keeps each code's id
    in `ids` (by upper-cased code): on PostgreSQL one direct statement."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.ids: dict[str, str] = {}

    async def resolve(self, conn: Any, app_id: str, texts: Sequence[str],
                      now: datetime | None = None) -> dict[str, model.AppliedCode]:
        if not texts:
            return {}
        params = {"_app": app_id, "keys": sorted({code_key(t) for t in texts})}
        if self.db.direct is not None:
            rows: Sequence[Any] = await self.db.direct.fetch(_RESOLVE_DIRECT, params)
        else:
            rows = (await conn.execute(_RESOLVE_CORE, params)).all()
        found: dict[str, model.AppliedCode] = {}
        for r in rows:
            found[r.code_key] = applied_code(r, now)  # as CodeStore.resolve sees it
            self.ids[r.code_key] = r.id
        return found


class _Short(Exception):
    """A limit fell short: the transaction rolls back, the general path takes over."""


class ReservationRows:
    def __init__(self, db: Database) -> None:
        self.db = db

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[_Tx]:
        if self.db.direct is not None and executed.pending(self.db) is None:
            async with self.db.direct.transaction() as direct:
                yield _Tx(direct=direct)
        else:
            async with transaction(self.db) as conn:
                yield _Tx(conn=conn)

    def plan(self, *, app_id: str, discounts: Sequence[AppliedDiscount], code_ids: dict[str, str],
             codes: Sequence[str], currency: str, cart_id: str | None, customer_id: str | None, email: str | None,
             subtotal: int, now: datetime, hold: timedelta) -> tuple[BasketRedemption, dict[str, Any]]:
        """The redemption a successful reserve makes (its view, for the event) and what `reserve` writes."""
        rid = new_id("rdm")
        customer = customer_id or email
        red_rows, line_rows, lines = [], [], []
        for position, d in enumerate(discounts):
            red_id = new_id("red")
            code_id = code_ids.get(code_key(d.code)) if d.code else None
            gift = d.gift_card is not None
            red_rows.append({"id": red_id, "app_id": app_id, "campaign_id": d.campaign_id, "code_id": code_id,
                             "code": d.code, "cart_id": None, "order_id": None, "customer": customer,
                             "amount": d.amount, "currency": currency, "status": "reserved", "reason": None,
                             "message": None, "expires_at": None, "created_at": now, "updated_at": now})
            parts = [[k, v] for k, v in d.lines.items()]
            line_rows.append({"redemption_id": red_id, "reservation_id": rid, "position": position, "name": d.name,
                              "lines": parts, "shipping": d.shipping, "gift_card": gift, "rolled_back": 0})
            lines.append(_Line(redemption_id=red_id, name=d.name, lines=parts, shipping=d.shipping, gift_card=gift,
                               rolled_back=0, campaign_id=d.campaign_id, code=d.code, amount=d.amount))
        row = {"id": rid, "app_id": app_id, "status": "reserved", "currency": currency, "codes": list(codes),
               "cart_id": cart_id, "customer_id": customer_id, "email": email, "transaction_id": None,
               "subtotal": subtotal, "amount": sum(d.amount for d in discounts), "rolled_back": 0, "version": 1,
               "expires_at": now + hold, "confirmed_at": None, "created_at": now, "updated_at": now}
        return _view(_Line(**row), lines), {"row": row, "redemptions": red_rows, "lines": line_rows, "now": now}

    async def reserve(self, plan: dict[str, Any], event: dict[str, Any]) -> bool:
        """Write a planned reservation and its event; False (nothing written) when a limit fell short."""
        row, now = plan["row"], plan["now"]
        by_campaign: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for r in plan["redemptions"]:
            by_campaign[r["campaign_id"]][0] += 1
            by_campaign[r["campaign_id"]][1] += r["amount"]
        gift = {x["redemption_id"]: x["gift_card"] for x in plan["lines"]}
        takes = sorted((r["code_id"], r["campaign_id"], r["amount"], gift[r["id"]]) for r in plan["redemptions"]
                       if r["code_id"] is not None)
        try:
            async with self._transaction() as tx:
                for campaign_id, (n, amount) in sorted(by_campaign.items()):
                    await self._take(tx, _CAMPAIGN_TAKE, {"_app": row["app_id"], "_id": campaign_id, "_n": n,
                                                          "_amt": amount, "_now": now})
                for code_id, campaign_id, amount, is_gift in takes:
                    await self._take(tx, _CODE_TAKE[is_gift], {"_app": row["app_id"], "_camp": campaign_id,
                                                               "_id": code_id, "_amt": amount, "_now": now})
                await tx.run(_INSERT_RESERVATION, row)
                await tx.run(_INSERT_REDEMPTION, plan["redemptions"])
                await tx.run(_INSERT_LINE, plan["lines"])
                await tx.run(_INSERT_EVENT, event)
        except _Short:
            return False
        return True

    @staticmethod
    async def _take(tx: _Tx, statement: _Statement, params: dict[str, Any]) -> None:
        if await tx.row(statement, params) is None:
            raise _Short

    async def confirm(self, *, app_id: str, redemption_id: str, transaction_id: str, now: datetime,
                      event: Any) -> BasketRedemption | None:
        """Confirm a valid hold; None (nothing written) for anything else. `event(view)`: the event's
        parameters for the confirmed redemption."""
        try:
            async with self._transaction() as tx:
                row = await tx.row(_CLAIM, {"_id": redemption_id, "_app": app_id, "_now": now,
                                                 "_tx": transaction_id})
                if row is None:
                    raise _Short
                held = await tx.rows(_CONFIRM_LINES, {"_id": redemption_id, "_now": now})
                for statement, key in zip(_MOVE_CONFIRM, ("campaign_id", "code_id"), strict=True):
                    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
                    for x in held:
                        if getattr(x, key) is not None:
                            totals[getattr(x, key)][0] += 1
                            totals[getattr(x, key)][1] += x.amount
                    await tx.run(statement, [{"_id": k, "_n": n, "_amt": a, "_now": now}
                                             for k, (n, a) in sorted(totals.items())])
                view = _view(row, await tx.rows(_READ_LINES, {"rid": redemption_id}))
                await tx.run(_INSERT_EVENT, event(view))
        except (_Short, asyncpg.UniqueViolationError, IntegrityError):
            return None
        return view
