"""The rows of a till's two-step redemption when everything fits.

On PostgreSQL (the direct asyncpg pool) a reserve and a confirm are each ONE statement, with no
transaction around it. Its data-modifying CTEs write the reservation rows (or claim the hold) first,
then take or move the campaigns' and codes' counters in lock order (campaigns by id, then codes by
id; each step runs only once the previous one took its row); the statement itself inserts the
event, whose id is NULL, a NOT NULL violation rolling everything back, when a take fell short.
Why one statement: every reserve and confirm of a campaign updates that campaign's row, so those
row locks serialise them all; held over a transaction's round trips (each one waiting its turn on
the server's event loop) they capped throughput at ~135 pairs/s with both cores a third idle.
Inside one statement, counters last, a lock lives for the takes and the commit. A confirm first
reads its hold (no lock); its statement changes nothing unless the hold is still `reserved` then,
so what was read is what is confirmed. A request with an Idempotency-Key runs the statement's
marked variant (kassa_platform.executed), the key's mark in the same statement.

On SQLite the general path runs (one SQLAlchemy transaction). The statements are the general
path's (reservations.py, redemptions.py) with bound parameters: the same conditional takes and
counter moves. Anything that does not fit (a limit short, a transaction id used before, a hold
expired or gone, a retry) returns False/None having changed nothing, and the caller runs the
general path, which says exactly why.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import sqlalchemy as sa
from kassa_contract.redemptions import BasketRedemption
from kassa_platform.db import Database
from kassa_platform.direct import DirectStatement
from kassa_platform.ids import new_id
from kassa_platform.outbox import insert_event_only_if, is_refused_event
from sqlalchemy.dialects.postgresql import ARRAY

from .. import model
from ..model import AppliedDiscount
from .codes import applied_code, code_key
from .redemptions import _bp, _campaign_take, _code_take, counter_moves
from .reservations import _LINES, _Line, _view
from .tables import campaigns, codes, redemptions, reservation_lines, reservations

R, L, D = reservations.c, reservation_lines.c, redemptions.c
_APP, _ID, _NOW = _bp("_app", sa.String()), _bp("_id", sa.String()), _bp("_now", R.updated_at.type)
_TX = _bp("_tx", sa.String())
def _insert(table: sa.Table, prefixes: Sequence[str]) -> sa.Insert:
    """INSERT of one row per prefix, each value a bind parameter named prefix + column."""
    rows = [{c.name: sa.bindparam(f"{p}{c.name}", type_=c.type) for c in table.c} for p in prefixes]
    return table.insert().values(rows if len(rows) > 1 else rows[0])


def _prefixed(prefix: str, row: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}{k}": v for k, v in row.items()}


# -- PostgreSQL: one statement each


def _after(statement: sa.Update, *previous: tuple[sa.CTE, int]) -> sa.Update:
    """`statement`, run only once each `previous` CTE wrote its number of rows: an uncorrelated
    condition, evaluated before the UPDATE locks anything. So the takes lock their rows in the order
    of the chain, and after the statement's other writes: a campaign's row stays locked only for the
    takes themselves and the commit."""
    return statement.where(*[_count(cte) == n for cte, n in previous])


def _count(cte: sa.CTE) -> sa.ScalarSelect[int]:
    return sa.select(sa.func.count()).select_from(cte).scalar_subquery()


def _event_unless_short(chain: Sequence[sa.CTE], writes: Sequence[sa.CTE]) -> DirectStatement:
    """The statement: its event, refused (rolling back every change of its CTEs) unless the chain's
    last step took its row. (A data-modifying CTE runs whether referenced or not.) A request with an
    Idempotency-Key runs its marked variant (kassa_platform.executed): the mark in the same statement."""
    event = insert_event_only_if(_count(chain[-1]) == 1 if chain else None)
    return DirectStatement(event.add_cte(*chain, *writes))


def _short(exc: asyncpg.NotNullViolationError) -> bool:
    return is_refused_event(exc.table_name, exc.column_name)


@functools.lru_cache(maxsize=256)
def _reserve_statement(campaign_count: int, code_gifts: tuple[bool, ...], line_count: int) -> DirectStatement:
    writes = [(_insert(reservations, ["res_"]).returning(R.id).cte("reservation"), 1)]
    if line_count:
        writes += [(_insert(redemptions, [f"r{i}_" for i in range(line_count)]).returning(D.id)
                    .cte("redemption_rows"), line_count),
                   (_insert(reservation_lines, [f"l{i}_" for i in range(line_count)]).returning(L.redemption_id)
                    .cte("reservation_lines"), line_count)]
    chain: list[sa.CTE] = []
    for i in range(campaign_count):
        take = _campaign_take(_APP, _bp(f"c{i}_id", sa.String()), _bp(f"c{i}_n", sa.Integer()),
                              _bp(f"c{i}_amt", sa.BigInteger()), reserve=True)
        chain.append(_after(take, *([(chain[-1], 1)] if chain else writes)).returning(campaigns.c.id)
                     .cte(f"take_campaign{i}"))
    for j, gift in enumerate(code_gifts):
        take = _code_take(_APP, _bp(f"k{j}_camp", sa.String()), _bp(f"k{j}_id", sa.String()), 1,
                          _bp(f"k{j}_amt", sa.BigInteger()), gift_card=gift, reserve=True, now=_NOW)
        chain.append(_after(take, *([(chain[-1], 1)] if chain else writes)).returning(codes.c.id)
                     .cte(f"take_code{j}"))
    return _event_unless_short(chain, [cte for cte, _ in writes])


@functools.lru_cache(maxsize=256)
def _confirm_statement(campaign_count: int, code_count: int, line_count: int) -> DirectStatement:
    claim = (sa.update(reservations)
             .where(R.id == _ID, R.app_id == _APP, R.status == "reserved", R.expires_at > _NOW)
             .values(status="confirmed", transaction_id=_TX, confirmed_at=_NOW, updated_at=_NOW, version=R.version + 1)
             .returning(R.id).cte("claim"))
    held = (sa.update(redemptions)
            .where(D.id.in_(sa.select(L.redemption_id).where(L.reservation_id == _ID)), D.status == "reserved",
                   _count(claim) == 1)
            .values(status="confirmed", updated_at=_NOW).returning(D.id).cte("held"))
    chain: list[sa.CTE] = []
    for prefix, which, count in (("c", 0, campaign_count), ("k", 1, code_count)):
        for i in range(count):
            move = counter_moves("confirm", _bp(f"{prefix}{i}_id", sa.String()), _bp(f"{prefix}{i}_n", sa.Integer()),
                                 _bp(f"{prefix}{i}_amt", sa.BigInteger()), _NOW)[which]
            previous = [(chain[-1], 1)] if chain else [(claim, 1), (held, line_count)]
            chain.append(_after(move, *previous).returning(move.table.c.id).cte(f"move_{prefix}{i}"))
    return _event_unless_short(chain or [claim], [claim, held])


_LINE_COLUMNS = ("redemption_id", "name", "lines", "shipping", "gift_card", "rolled_back", "campaign_id", "code_id",
                 "code", "amount")
_HELD = DirectStatement(
    sa.select(*reservations.c, *[c.label(f"l_{c.name}") for c in _LINES.selected_columns if c.name in _LINE_COLUMNS])
    .select_from(reservations.join(reservation_lines, L.reservation_id == R.id)
                 .join(redemptions, D.id == L.redemption_id))
    .where(R.id == _ID, R.app_id == _APP, R.status == "reserved", R.expires_at > _NOW, D.status == "reserved")
    .order_by(L.position), variant=False)


def _totals(items: Iterable[tuple[str | None, int]]) -> list[tuple[str, int, int]]:
    """(id, count, amount) per campaign or code id of (id, amount) pairs, ordered by id (the lock order)."""
    acc: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for key, amount in items:
        if key is not None:
            acc[key][0] += 1
            acc[key][1] += amount
    return [(k, n, a) for k, (n, a) in sorted(acc.items())]


def _moves_params(prefix: str, totals: Sequence[tuple[str, int, int]]) -> dict[str, Any]:
    return {f"{prefix}{i}_{name}": value for i, row in enumerate(totals)
            for name, value in zip(("id", "n", "amt"), row, strict=True)}


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


class ReservationRows:
    def __init__(self, db: Database) -> None:
        self.db = db

    def available(self) -> bool:
        """Whether `reserve` and `confirm` can run here (PostgreSQL's direct pool); otherwise the
        general path does the work."""
        return self.db.direct is not None

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
        """Write a planned reservation and its event in one statement (only when `available()`); False
        (nothing written) when a limit fell short."""
        assert self.db.direct is not None
        row, reds, now = plan["row"], plan["redemptions"], plan["now"]
        gift = {x["redemption_id"]: x["gift_card"] for x in plan["lines"]}
        by_campaign = _totals((r["campaign_id"], r["amount"]) for r in reds)
        by_code = sorted((r["code_id"], r["campaign_id"], r["amount"], gift[r["id"]]) for r in reds if r["code_id"])
        params: dict[str, Any] = {"_app": row["app_id"], "_now": now, **_moves_params("c", by_campaign),
                                  **_prefixed("res_", row), **event}
        for j, (code_id, campaign_id, amount, _) in enumerate(by_code):
            params |= {f"k{j}_id": code_id, f"k{j}_camp": campaign_id, f"k{j}_amt": amount}
        for i, (red, line) in enumerate(zip(reds, plan["lines"], strict=True)):
            params |= _prefixed(f"r{i}_", red) | _prefixed(f"l{i}_", line)
        statement = _reserve_statement(len(by_campaign), tuple(g for *_, g in by_code), len(reds))
        try:
            await self.db.direct.fetchrow(statement, params)
        except asyncpg.NotNullViolationError as exc:
            if not _short(exc):
                raise
            return False
        return True

    async def confirm(self, *, app_id: str, redemption_id: str, transaction_id: str, now: datetime,
                      event: Any) -> BasketRedemption | None:
        """Confirm a valid hold in one statement (only when `available()`); None (nothing written) for
        anything else. `event(view)`: the event's parameters for the confirmed redemption."""
        assert self.db.direct is not None
        found = await self.db.direct.fetch(_HELD, {"_id": redemption_id, "_app": app_id, "_now": now})
        if not found:
            return None
        first = found[0]
        row = _Line(**{c.name: getattr(first, c.name) for c in reservations.c})
        row.__dict__.update(status="confirmed", transaction_id=transaction_id, confirmed_at=now, updated_at=now,
                            version=first.version + 1)
        lines = [_Line(**{n: getattr(x, f"l_{n}") for n in _LINE_COLUMNS}) for x in found]
        view = _view(row, lines)
        by_campaign = _totals((x.l_campaign_id, x.l_amount) for x in found)
        by_code = _totals((x.l_code_id, x.l_amount) for x in found)
        params = {"_id": redemption_id, "_app": app_id, "_now": now, "_tx": transaction_id, **event(view),
                  **_moves_params("c", by_campaign), **_moves_params("k", by_code)}
        try:
            await self.db.direct.fetchrow(_confirm_statement(len(by_campaign), len(by_code), len(found)), params)
        except asyncpg.UniqueViolationError:  # the transaction id is another redemption's
            return None
        except asyncpg.NotNullViolationError as exc:  # the hold went meanwhile
            if not _short(exc):
                raise
            return None
        return view
