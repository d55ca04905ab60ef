"""Two-step redemptions of the public API (docs/redemptions.md): a till reserves the discounts a
basket gets, then confirms them with its transaction id, or cancels; a return rolls a confirmed
one back, in full or in part.

    store = ReservationStore()
    held = await store.reserve(conn, app_id=..., discounts=evaluation.discounts, code_ids=..., ...)
    ... await store.confirm(conn, app_id=..., redemption_id=held.id, transaction_id="T-1", now=now)
    ... await store.cancel(conn, app_id=..., redemption_id=held.id, now=now)
    ... await store.rollback(conn, app_id=..., redemption_id=held.id, reason="return", amount=500, now=now)
    ... await store.expire(conn, now=now)                                # the job: lapsed holds
    ... await store.held_on_code(conn, app_id=..., code_id=..., now=now)  # who holds a code

A redemption (`rdm_…`, table `promo_reservations`) holds one redemption line per discount: the
`promo_redemptions` row (`red_…`) that the campaign's counters already know, reserved, confirmed
and released by the same conditional UPDATEs as a cart's (redemptions.py), so a till and a web
checkout share every limit exactly. Those rows carry neither a cart nor an expiry (a cart's
`release` or the cart expiry job must never touch them): the hold's expiry is the redemption's.

All or nothing: a discount that cannot be had in full (a limit, a budget or a gift card short)
refuses the whole reservation with `discount_invalid`, and the caller's transaction rolls back
whatever the others had taken. A redemption changes state by a claim (`UPDATE … WHERE status =
'reserved' RETURNING`), so a confirmation and the expiry job never both win.

Every statement here is SQLAlchemy Core on the caller's connection, the same on PostgreSQL and
SQLite; the PostgreSQL-only parts (row locks, SKIP LOCKED) go through kassa_platform.rows.
"""

from __future__ import annotations

import builtins
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from kassa_contract.errors import KassaError
from kassa_contract.redemptions import (
    AllocationLine,
    BasketRedemption,
    RedemptionAllocation,
    RedemptionRollback,
    RollbackPart,
)
from kassa_platform.ids import new_id
from kassa_platform.money import apportion
from kassa_platform.rows import for_update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..model import AppliedDiscount
from ..reasons import message
from .codes import code_key
from .redemptions import _MOVES, RedemptionStore, ReservationRequest, _lit, _Rejected
from .tables import codes, redemptions, reservation_lines, reservation_rollbacks, reservations

# What a caller does for each redemption a change touched (its event), before the counters move.
Announce = Callable[[str, BasketRedemption], Awaitable[None]]
RollbackAnnounce = Callable[[BasketRedemption, RedemptionRollback], Awaitable[None]]

CANCELLED = "cancelled"
EXPIRED = "expired"
ROLLED_BACK = "rolled_back"

R, L, B, D = reservations.c, reservation_lines.c, reservation_rollbacks.c, redemptions.c
_LINES = (sa.select(L.redemption_id, L.name, L.lines, L.shipping, L.gift_card, L.rolled_back, L.position,
                    D.campaign_id, D.code_id, D.code, D.amount, D.status)
          .join(redemptions, D.id == L.redemption_id).where(L.reservation_id == sa.bindparam("rid"))
          .order_by(L.position))
_ROLLBACKS = sa.select(reservation_rollbacks).where(B.reservation_id == sa.bindparam("rid")).order_by(B.id)


def _view(row: Any, lines: Sequence[Any], rollbacks: Sequence[Any] = ()) -> BasketRedemption:
    return BasketRedemption(
        id=row.id, status=row.status, currency=row.currency, codes=list(row.codes), cart_id=row.cart_id,
        customer_id=row.customer_id, email=row.email, transaction_id=row.transaction_id, subtotal=row.subtotal,
        amount=row.amount, rolled_back_amount=row.rolled_back,
        allocations=[RedemptionAllocation(
            redemption_line_id=x.redemption_id, campaign_id=x.campaign_id, code=x.code, name=x.name, amount=x.amount,
            lines=[AllocationLine(line_id=k, amount=v) for k, v in x.lines], shipping=x.shipping,
            gift_card=x.gift_card, rolled_back=x.rolled_back) for x in lines],
        rollbacks=[_rollback_view(b, row.currency) for b in rollbacks],
        expires_at=row.expires_at, confirmed_at=row.confirmed_at, created_at=row.created_at,
        updated_at=row.updated_at)


def _rollback_view(b: Any, currency: str) -> RedemptionRollback:
    return RedemptionRollback(id=b.id, redemption_id=b.reservation_id, reason=b.reason, amount=b.amount,
                              currency=currency, created_at=b.created_at,
                              parts=[RollbackPart(redemption_line_id=i, amount=a, use_returned=u) for i, a, u in b.parts])


class _Line:
    """A redemption line as `_view` reads it, built in memory at reserve time."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


def _not_found(redemption_id: str) -> KassaError:
    return KassaError("redemption_not_found", f"No redemption {redemption_id}", status=404)


class ReservationStore:
    """Stateless: every method works in the caller's transaction (`conn`) at the caller's `now`."""

    def __init__(self, redemptions: RedemptionStore | None = None) -> None:
        self._counters = redemptions or RedemptionStore()

    # -- reserve

    async def reserve(self, conn: AsyncConnection, *, app_id: str, discounts: Sequence[AppliedDiscount],
                      code_ids: Mapping[str, str], codes: Sequence[str], currency: str, cart_id: str | None,
                      customer_id: str | None, email: str | None, subtotal: int, now: datetime,
                      hold: timedelta) -> BasketRedemption:
        """Reserve every discount of the basket (`discounts`: the engine's, in its order), or none.
        `code_ids`: the code ids by upper-cased code."""
        requests = [ReservationRequest.from_discount(d, code_ids.get(code_key(d.code)) if d.code else None)
                    for d in discounts]
        await self._counters._lock(conn, {q.campaign_id for q in requests},
                                   {q.code_id for q in requests if q.code_id})
        refusals: list[dict[str, Any]] = []
        for req in requests:
            try:
                amount, clamp, name = await self._counters._reserve_one(conn, app_id, req, now)
            except _Rejected as rej:
                refusals.append({"code": req.code, "campaignId": req.campaign_id, "reason": str(rej.reason),
                                 "message": message(rej.miss, is_code=req.code_id is not None, name=rej.name,
                                                    currency=currency)})
                continue
            if clamp is not None:
                refusals.append({"code": req.code, "campaignId": req.campaign_id, "reason": clamp,
                                 "message": self._counters._clamp_message(clamp, req, amount, name, currency)})
        if refusals:  # the caller's transaction rolls back what the others took
            raise KassaError("discount_invalid", refusals[0]["message"], field="codes", status=422,
                             details={"refusals": refusals})

        rid = new_id("rdm")
        customer = customer_id or email
        red_rows, line_rows, lines = [], [], []
        for position, (d, req) in enumerate(zip(discounts, requests, strict=True)):
            red_id = new_id("red")
            red_rows.append({"id": red_id, "app_id": app_id, "campaign_id": d.campaign_id, "code_id": req.code_id,
                             "code": d.code, "cart_id": None, "order_id": None, "customer": customer,
                             "amount": d.amount, "currency": currency, "status": "reserved", "reason": None,
                             "message": None, "expires_at": None, "created_at": now, "updated_at": now})
            parts = [[k, v] for k, v in d.lines.items()]
            line_rows.append({"redemption_id": red_id, "reservation_id": rid, "position": position, "name": d.name,
                              "lines": parts, "shipping": d.shipping, "gift_card": req.gift_card, "rolled_back": 0})
            lines.append(_Line(redemption_id=red_id, name=d.name, lines=parts, shipping=d.shipping,
                               gift_card=req.gift_card, rolled_back=0, campaign_id=d.campaign_id, code=d.code,
                               amount=d.amount))
        row = {"id": rid, "app_id": app_id, "status": "reserved", "currency": currency, "codes": list(codes),
               "cart_id": cart_id, "customer_id": customer_id, "email": email, "transaction_id": None,
               "subtotal": subtotal, "amount": sum(d.amount for d in discounts), "rolled_back": 0, "version": 1,
               "expires_at": now + hold, "confirmed_at": None, "created_at": now, "updated_at": now}
        await conn.execute(sa.insert(reservations), row)
        if red_rows:
            await conn.execute(sa.insert(redemptions), red_rows)
            await conn.execute(sa.insert(reservation_lines), line_rows)
        return _view(_Line(**row), lines)

    # -- confirm, cancel, expire

    async def confirm(self, conn: AsyncConnection, *, app_id: str, redemption_id: str, transaction_id: str,
                      now: datetime) -> BasketRedemption:
        """The held discounts become redeemed. Idempotent for the same `transaction_id`; a hold past its
        expiry is `redemption_expired` (409), even before the expiry job released it."""
        taken = (await conn.execute(sa.select(R.id).where(R.app_id == app_id, R.transaction_id == transaction_id)
                                    )).scalar()
        if taken is not None and taken != redemption_id:
            raise KassaError("transaction_id_taken", f"Transaction {transaction_id} already confirmed redemption "
                             f"{taken}", field="transactionId", status=409, details={"redemptionId": taken})
        row = (await conn.execute(
            sa.update(reservations)
            .where(R.id == redemption_id, R.app_id == app_id, R.status == "reserved", R.expires_at > now)
            .values(status="confirmed", transaction_id=transaction_id, confirmed_at=now, updated_at=now,
                    version=R.version + 1)
            .returning(*reservations.c))).first()
        if row is None:
            row = await self._row(conn, app_id, redemption_id)
            if row.status in ("confirmed", ROLLED_BACK) and row.transaction_id == transaction_id:
                return await self._read(conn, row)  # a retry
            if row.status == EXPIRED or row.status == "reserved":  # reserved here: past its expiry
                raise KassaError("redemption_expired", f"Redemption {redemption_id} was held until "
                                 f"{row.expires_at.isoformat()} and is no longer reserved: reserve again",
                                 status=409, details={"expiresAt": row.expires_at.isoformat()})
            raise self._not_reserved(row)
        held = await self._claim_lines(conn, [redemption_id], status="confirmed", reason=None, now=now)
        await self._counters._lock(conn, {x.campaign_id for x in held}, {x.code_id for x in held if x.code_id})
        await self._counters._move(conn, "confirm", held, now)
        return await self._read(conn, row)

    async def cancel(self, conn: AsyncConnection, *, app_id: str, redemption_id: str, now: datetime,
                     announce: Announce | None = None) -> tuple[BasketRedemption, bool]:
        """A held redemption is released (idempotent). Returns it and whether this call cancelled it;
        `announce(app_id, redemption)` (its event) runs before the counters move."""
        row = (await conn.execute(
            sa.update(reservations).where(R.id == redemption_id, R.app_id == app_id, R.status == "reserved")
            .values(status=CANCELLED, updated_at=now, version=R.version + 1).returning(*reservations.c))).first()
        if row is None:
            row = await self._row(conn, app_id, redemption_id)
            if row.status in (CANCELLED, EXPIRED):
                return await self._read(conn, row), False
            raise self._not_reserved(row)
        held = await self._claim_lines(conn, [row.id], status="released", reason=CANCELLED, now=now)
        view = await self._read(conn, row)
        if announce is not None:
            await announce(app_id, view)
        await self._give_back(conn, held, now)
        return view, True

    async def expire(self, conn: AsyncConnection, *, now: datetime, limit: int = 500, app_id: str | None = None,
                     announce: Announce | None = None) -> builtins.list[tuple[str, BasketRedemption]]:
        """Holds past their expiry (of every application, or of `app_id`) become `expired` and give back
        what they held, up to `limit`: (application id, redemption). Concurrent runs claim disjoint rows
        (SKIP LOCKED). `announce(app_id, redemption)` runs for each before the counters move."""
        query = sa.select(R.id).where(R.status == _lit("reserved"), R.expires_at <= now)
        if app_id is not None:
            query = query.where(R.app_id == app_id)
        ids = (await conn.execute(for_update(conn, query.order_by(R.expires_at).limit(limit), skip_locked=True)
                                  )).scalars().all()
        if not ids:
            return []
        rows = (await conn.execute(
            sa.update(reservations).where(R.id.in_(ids), R.status == "reserved")
            .values(status=EXPIRED, updated_at=now, version=R.version + 1).returning(*reservations.c))).all()
        held = await self._claim_lines(conn, [x.id for x in rows], status="released", reason=EXPIRED, now=now)
        expired = [(x.app_id, await self._read(conn, x)) for x in sorted(rows, key=lambda x: x.id)]
        if announce is not None:
            for owner, view in expired:
                await announce(owner, view)
        await self._give_back(conn, held, now)
        return expired

    # -- rollback

    async def rollback(self, conn: AsyncConnection, *, app_id: str, redemption_id: str, reason: str,
                       amount: int | None, now: datetime,
                       announce: RollbackAnnounce | None = None) -> tuple[BasketRedemption, RedemptionRollback]:
        """Give back `amount` of a confirmed redemption's discounts (None: all that is left), split over
        its lines in proportion to what each has left; a line given back in full also gives back its
        use (a single-use code is usable again). Budgets get the amount back, gift cards their value.
        `announce(redemption, rollback)` (its event) runs before the counters move."""
        row = (await conn.execute(  # also the row lock: rollbacks of one redemption run one at a time
            sa.update(reservations).where(R.id == redemption_id, R.app_id == app_id, R.status == "confirmed")
            .values(updated_at=now, version=R.version + 1).returning(*reservations.c))).first()
        if row is None:
            row = await self._row(conn, app_id, redemption_id)
            raise KassaError("redemption_not_confirmed", f"Redemption {redemption_id} is {row.status}: only a "
                             "confirmed redemption can be rolled back", status=409, details={"status": row.status})
        lines = (await conn.execute(_LINES, {"rid": redemption_id})).all()
        left = [x.amount - x.rolled_back for x in lines]
        want = sum(left) if amount is None else amount
        if want > sum(left):
            raise KassaError("rollback_exceeds_amount", f"Only {sum(left)} of this redemption's discounts is left "
                             "to roll back", field="amount", status=422, details={"left": sum(left)})
        parts = apportion(want, left, [(a, x.redemption_id) for a, x in zip(left, lines, strict=True)]) \
            if sum(left) else [0] * len(lines)
        full = want == sum(left)
        campaign_moves: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        code_moves: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        returned, recorded, line_updates = [], [], []
        for x, part in zip(lines, parts, strict=True):
            use_back = x.status == "confirmed" and x.rolled_back + part == x.amount and (part > 0 or full)
            if part or use_back:
                for moves, key in ((campaign_moves, x.campaign_id), (code_moves, x.code_id)):
                    if key is not None:
                        moves[key][0] += int(use_back)
                        moves[key][1] += part
                line_updates.append({"_rid": x.redemption_id, "_part": part})
                recorded.append([x.redemption_id, part, use_back])
            if use_back:
                returned.append(x.redemption_id)
        if line_updates:
            await conn.execute(sa.update(reservation_lines).where(L.redemption_id == sa.bindparam("_rid"))
                               .values(rolled_back=L.rolled_back + sa.bindparam("_part", type_=sa.BigInteger())),
                               line_updates)
        if returned:
            await conn.execute(sa.update(redemptions).where(D.id.in_(returned), D.status == "confirmed")
                               .values(status="cancelled", reason=ROLLED_BACK, updated_at=now))
        all_back = all(x.status != "confirmed" or x.redemption_id in returned for x in lines)
        row = (await conn.execute(
            sa.update(reservations).where(R.id == redemption_id)
            .values(rolled_back=R.rolled_back + want, status=ROLLED_BACK if full and all_back else "confirmed")
            .returning(*reservations.c))).one()
        rollback = {"id": new_id("rbk"), "app_id": app_id, "reservation_id": redemption_id, "reason": reason,
                    "amount": want, "parts": recorded, "created_at": now}
        await conn.execute(sa.insert(reservation_rollbacks), rollback)
        view, record = await self._read(conn, row), _rollback_view(_Line(**rollback), row.currency)
        if announce is not None:
            await announce(view, record)
        # The counters last (see _give_back).
        await self._counters._lock(conn, set(campaign_moves), set(code_moves))
        campaign_stmt, code_stmt = _MOVES["cancel"]
        for stmt, moves in ((campaign_stmt, campaign_moves), (code_stmt, code_moves)):
            if moves:
                await conn.execute(stmt, [{"_id": k, "_n": n, "_amt": a, "_now": now}
                                          for k, (n, a) in sorted(moves.items())])
        return view, record

    # -- reading

    async def get(self, conn: AsyncConnection, *, app_id: str, redemption_id: str) -> BasketRedemption:
        return await self._read(conn, await self._row(conn, app_id, redemption_id))

    async def by_transaction(self, conn: AsyncConnection, *, app_id: str,
                             transaction_id: str) -> BasketRedemption | None:
        row = (await conn.execute(sa.select(reservations).where(R.app_id == app_id,
                                                                R.transaction_id == transaction_id))).first()
        return None if row is None else await self._read(conn, row)

    async def lines_of_transaction(self, conn: AsyncConnection, *, app_id: str,
                                   transaction_id: str) -> builtins.list[Any]:
        """The redemption lines (`promo_redemptions` rows) of the redemption confirmed with `transaction_id`."""
        mine = (sa.select(L.redemption_id).join(reservations, R.id == L.reservation_id)
                .where(R.app_id == app_id, R.transaction_id == transaction_id))
        return builtins.list((await conn.execute(sa.select(redemptions).where(D.app_id == app_id, D.id.in_(mine))
                                                 .order_by(D.id))).all())

    async def parents_of(self, conn: AsyncConnection,
                         redemption_line_ids: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        """For redemption lines of two-step redemptions: (redemption id, transaction id) by line id."""
        if not redemption_line_ids:
            return {}
        rows = await conn.execute(sa.select(L.redemption_id, R.id, R.transaction_id)
                                  .join(reservations, R.id == L.reservation_id)
                                  .where(L.redemption_id.in_(builtins.list(redemption_line_ids))))
        return {line: (parent, tx) for line, parent, tx in rows}

    async def code_ids(self, conn: AsyncConnection, app_id: str, texts: Sequence[str]) -> dict[str, str]:
        """Code ids by upper-cased code (one query)."""
        if not texts:
            return {}
        rows = await conn.execute(sa.select(codes.c.code_key, codes.c.id).where(
            codes.c.app_id == app_id, codes.c.code_key.in_(sorted({code_key(t) for t in texts}))))
        return {k: i for k, i in rows}

    async def held_on_code(self, conn: AsyncConnection, *, app_id: str, code_id: str,
                           now: datetime) -> builtins.list[tuple[str, datetime]]:
        """The open holds of the public API on one code: (redemption id, held until), soonest first.
        (A cart's holds are its `promo_redemptions` rows: `status = 'reserved'`, `expires_at > now`.)"""
        rows = await conn.execute(
            sa.select(R.id, R.expires_at).select_from(
                reservations.join(reservation_lines, L.reservation_id == R.id)
                .join(redemptions, D.id == L.redemption_id))
            .where(D.app_id == app_id, D.code_id == code_id, D.status == "reserved", R.status == "reserved",
                   R.expires_at > now).order_by(R.expires_at))
        return [(i, e) for i, e in rows]

    # -- internals

    async def _row(self, conn: AsyncConnection, app_id: str, redemption_id: str) -> Any:
        row = (await conn.execute(sa.select(reservations).where(R.id == redemption_id, R.app_id == app_id))).first()
        if row is None:
            raise _not_found(redemption_id)
        return row

    async def _read(self, conn: AsyncConnection, row: Any) -> BasketRedemption:
        lines = (await conn.execute(_LINES, {"rid": row.id})).all()
        rollbacks = (await conn.execute(_ROLLBACKS, {"rid": row.id})).all() if row.rolled_back else []
        return _view(row, lines, rollbacks)

    async def _claim_lines(self, conn: AsyncConnection, redemption_ids: Sequence[str], *, status: str,
                           reason: str | None, now: datetime) -> builtins.list[Any]:
        mine = sa.select(L.redemption_id).where(L.reservation_id.in_(builtins.list(redemption_ids)))
        return await self._counters._claim(conn, [D.id.in_(mine), D.status == "reserved"], status=status,
                                           reason=reason, now=now, keep_reason=reason is None)

    async def _give_back(self, conn: AsyncConnection, held: Sequence[Any], now: datetime) -> None:
        """Released lines' uses, budget and balance go back to their campaigns and codes. Callers do
        this last: a busy campaign's row stays locked from here to the commit, which every till's
        reserve and confirm on that campaign waits for."""
        await self._counters._lock(conn, {x.campaign_id for x in held}, {x.code_id for x in held if x.code_id})
        await self._counters._move(conn, "release", held, now)

    @staticmethod
    def _not_reserved(row: Any) -> KassaError:
        hint = " (roll it back instead)" if row.status in ("confirmed", ROLLED_BACK) else ""
        return KassaError("redemption_not_reserved", f"Redemption {row.id} is {row.status}{hint}", status=409,
                          details={"status": row.status})
