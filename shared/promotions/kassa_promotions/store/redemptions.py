"""Two-step redemption: a cart reserves what its discounts need, the order confirms it.

    store = RedemptionStore()
    result = await store.reserve(conn, app_id=..., cart_id=..., customer=..., currency="EUR",
                                 requests=[ReservationRequest.from_discount(d, code_id) for d in ...],
                                 now=now, ttl=timedelta(minutes=30))
    ... await store.confirm(conn, app_id=..., cart_id=..., order_id=..., now=now)   # at checkout
    ... await store.release(conn, app_id=..., cart_id=..., now=now)                 # cart abandoned
    ... await store.expire(conn, now=now)                                           # periodic job
    ... await store.cancel_order(conn, app_id=..., order_id=..., now=now)           # refund / return

Every limit (campaign uses, code uses, campaign budget, gift-card balance) lives in a counter
that only conditional UPDATEs change (`… WHERE uses + reserved_uses < usage_limit`, checking the
rowcount), so no interleaving of carts can take more than the limit: nothing is read and then
written back. A reservation holds `reserved_uses` / `reserved_amount` (and has already taken the
gift-card balance); confirming moves them to `uses` / `granted`; releasing gives them back.

Redemption rows change state with a claim first (`UPDATE … SET status = … WHERE status = 'reserved'
RETURNING …`): the counters move only for the rows this call claimed, so concurrent calls (two
expiry jobs, an expiry and a confirmation) never move them twice.

Locking (PostgreSQL): every operation claims redemption rows first, then touches counter rows in
one order (campaigns by id, then codes by id); where a call would touch them in another order it
locks them up front, so two carts never deadlock on each other's campaigns.
"""

from __future__ import annotations

import builtins
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar, Union

import msgspec
import sqlalchemy as sa
from kassa_contract.errors import KassaError
from kassa_contract.money import format_amount
from kassa_platform import audit
from kassa_platform.ids import new_id
from kassa_platform.pagination import (
    DEFAULT_LIMIT,
    check_limit,
    decode_cursor,
    encode_cursor,
)
from kassa_platform.rows import for_update, lock_in_order
from sqlalchemy.ext.asyncio import AsyncConnection

from ..model import AppliedDiscount
from ..reasons import Miss, Reason, message
from .tables import campaigns, codes, redemptions

RedemptionStatus = Literal["reserved", "confirmed", "released", "cancelled", "rejected"]
STATUSES: tuple[str, ...] = ("reserved", "confirmed", "released", "cancelled", "rejected")

# Reason codes stored on redemption rows.
CODE_USAGE_LIMIT_REACHED = "code_usage_limit_reached"  # the code's own (USAGE_LIMIT_REACHED: the campaign's)
BUDGET_CLAMPED = "budget_clamped"  # granted, but less than asked: what was left of the budget
GIFT_CARD_CLAMPED = "gift_card_clamped"  # granted, but less than asked: what was left on the card
SUPERSEDED = "superseded"  # released because the cart reserved again
EXPIRED = "expired"  # released by `expire`
CANCELLED = "cancelled"

_INACTIVE = ("deactivated", "expired")
_UNUSABLE = ("deactivated", "expired", "redeemed")
_MAX_ATTEMPTS = 8  # compare-and-set rounds when a clamped take races with other carts
REJECTION_WINDOW = timedelta(minutes=1)  # one `rejected` row per code, reason and cart in this window


# ---------------------------------------------------------------------------------- types


class ReservationRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One discount of the cart to reserve. `amount` is in minor units: the discount (counted
    against the campaign budget) or, for a gift card, the value spent from its balance."""

    campaign_id: str
    amount: int
    code_id: str | None = None  # None: an automatic campaign
    code: str | None = None
    gift_card: bool = False

    @classmethod
    def from_discount(cls, discount: AppliedDiscount, code_id: str | None = None) -> ReservationRequest:
        """The request for one of the engine's applied discounts (`code_id` resolved by the caller)."""
        return cls(campaign_id=discount.campaign_id, amount=discount.amount, code_id=code_id, code=discount.code,
                   gift_card=discount.gift_card is not None)


class ReservationOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What one request got. `granted` with `clamped`: less than `requested` (budget or balance
    ran short; `reason`/`message` say which): the cart must be priced again with `amount`."""

    campaign_id: str
    code_id: str | None
    code: str | None
    redemption_id: str
    granted: bool
    requested: int
    amount: int  # granted amount (0 when rejected)
    clamped: bool = False
    reason: str | None = None
    message: str | None = None


class ReserveResult(msgspec.Struct, frozen=True, kw_only=True):
    outcomes: tuple[ReservationOutcome, ...]
    expires_at: datetime
    released: int  # reservations this cart held before, given back first

    @property
    def all_granted(self) -> bool:
        """Every request granted in full: the price the shopper saw stands."""
        return all(o.granted and not o.clamped for o in self.outcomes)

    @property
    def rejected(self) -> tuple[ReservationOutcome, ...]:
        return tuple(o for o in self.outcomes if not o.granted)

    @property
    def amount(self) -> int:
        return sum(o.amount for o in self.outcomes)


class Redemption(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    id: str
    app_id: str
    campaign_id: str
    code_id: str | None
    code: str | None
    cart_id: str | None
    order_id: str | None
    customer: str | None
    amount: int  # granted (reserved/confirmed/released/cancelled) or asked for (rejected)
    currency: str
    status: RedemptionStatus
    reason: str | None
    message: str | None
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


_FIELDS = tuple(Redemption.__struct_fields__)


def _redemption(row: Any) -> Redemption:
    m = row._mapping
    return Redemption(**{f: m[f] for f in _FIELDS})


class _Rejected(Exception):
    def __init__(self, reason: str, miss: Miss, name: str = "") -> None:
        super().__init__(reason)
        self.reason, self.miss, self.name = reason, miss, name


# ---------------------------------------------------------------------------------- SQL pieces


def _lit(value: str) -> sa.ColumnElement[str]:
    """A constant inlined in the SQL (partial-index predicates must match literally)."""
    return sa.literal_column(f"'{value}'", sa.String)


def _in(column: sa.ColumnElement[str], values: Sequence[str]) -> sa.ColumnElement[bool]:
    return column.in_([_lit(v) for v in values])  # inlined: no expanding parameter (executemany cannot have one)


def _code_status(uses: Any, reserved: Any, balance: Any) -> sa.ColumnElement[str]:
    """A code's status from its counters after the statement (expressions over the old row).

    All uses taken: `redeemed`; the rest held by open reservations: `reserved`; a gift card with
    nothing left: `redeemed` (`reserved` while a reservation holds the last of it); used but with
    uses left: `active`; back from `reserved`/`redeemed`: `assigned` when assigned, else `active`.
    `deactivated` and `expired` never change here; otherwise the status stays as it is.
    """
    c = codes.c
    limited = c.usage_limit.is_not(None)
    usable_again = sa.case((c.assigned_to.is_not(None), _lit("assigned")), else_=_lit("active"))
    return sa.case(
        (_in(c.status, _INACTIVE), c.status),
        (sa.and_(limited, uses >= c.usage_limit), _lit("redeemed")),
        (sa.and_(limited, uses + reserved >= c.usage_limit), _lit("reserved")),
        (sa.and_(c.balance.is_not(None), balance <= 0), sa.case((reserved > 0, _lit("reserved")),
                                                                 else_=_lit("redeemed"))),
        (uses > 0, _lit("active")),
        (_in(c.status, ("reserved", "redeemed")), usable_again),
        else_=c.status,
    )


_T = TypeVar("_T")
# A value, or the bind parameter that stands for it in a statement compiled once (reservation_rows).
_Arg = Union[_T, sa.ColumnElement[_T]]


def _campaign_take(app_id: _Arg[str], campaign_id: _Arg[str], n: _Arg[int], amount: _Arg[int], *,
                   reserve: bool) -> sa.Update:
    """Take `n` uses and `amount` of budget from an active campaign, if they fit.

    A campaign's counters are its statistics: they leave `updated_at` (the merchant's last change,
    which the campaign list sorts on) alone. That also keeps the update off every index of the
    table (a HOT update), which the hottest row of a busy shop needs."""
    c = campaigns.c
    values: dict[str, Any] = ({"reserved_uses": c.reserved_uses + n, "reserved_amount": c.reserved_amount + amount}
                              if reserve else {"uses": c.uses + n, "granted": c.granted + amount})
    return sa.update(campaigns).where(
        c.id == campaign_id, c.app_id == app_id, c.active == sa.true(),
        sa.or_(c.usage_limit.is_(None), c.uses + c.reserved_uses + n <= c.usage_limit),
        sa.or_(c.budget.is_(None), c.granted + c.reserved_amount + amount <= c.budget),
    ).values(**values)


def _code_take(app_id: _Arg[str], campaign_id: _Arg[str], code_id: _Arg[str], n: _Arg[int], amount: _Arg[int], *,
               gift_card: bool | None, reserve: bool, now: _Arg[datetime]) -> sa.Update:
    """Take `n` uses of a usable code of the campaign and, for a gift card, `amount` of its balance.

    `gift_card=None` (re-taking a lapsed reservation): whatever the code is, a gift card's balance
    must still cover `amount`.
    """
    c = codes.c
    du, dr = (0, n) if reserve else (n, 0)
    conditions = [
        c.id == code_id, c.app_id == app_id, c.campaign_id == campaign_id, sa.not_(_in(c.status, _UNUSABLE)),
        sa.or_(c.usage_limit.is_(None), c.uses + c.reserved_uses + n <= c.usage_limit),
        sa.or_(c.expires_at.is_(None), c.expires_at > now),  # the code's own validity
    ]
    if gift_card is None:
        conditions.append(sa.or_(c.balance.is_(None), c.balance >= amount))
    elif gift_card:
        conditions += [c.balance.is_not(None), c.balance >= amount, c.balance > 0]
    else:
        conditions.append(c.balance.is_(None))
    spends = gift_card is not False
    balance = c.balance - amount if spends else c.balance  # NULL (not a gift card) stays NULL
    values: dict[str, Any] = {"uses": c.uses + du, "reserved_uses": c.reserved_uses + dr,
                              "status": _code_status(c.uses + du, c.reserved_uses + dr, balance), "updated_at": now}
    if spends:
        values["balance"] = balance
    return sa.update(codes).where(*conditions).values(**values)


def _bp(name: str, type_: Any = None) -> sa.BindParameter[Any]:
    return sa.bindparam(name, type_=type_)


def counter_moves(kind: str, id_: _Arg[str], n: _Arg[int], amount: _Arg[int],
                  now: _Arg[datetime]) -> tuple[sa.Update, sa.Update]:
    """The counter moves of claimed rows for one campaign and one code: `release` (a hold given back),
    `confirm` (a hold becomes a use), `cancel` (a use given back). A non-gift code has a NULL
    balance, which `balance + amount` leaves NULL."""
    cc, kc = campaigns.c, codes.c
    if kind == "release":
        return (sa.update(campaigns).where(cc.id == id_).values(
                    reserved_uses=cc.reserved_uses - n, reserved_amount=cc.reserved_amount - amount),
                sa.update(codes).where(kc.id == id_).values(
                    reserved_uses=kc.reserved_uses - n, balance=kc.balance + amount,
                    status=_code_status(kc.uses, kc.reserved_uses - n, kc.balance + amount), updated_at=now))
    if kind == "confirm":
        return (sa.update(campaigns).where(cc.id == id_).values(
                    reserved_uses=cc.reserved_uses - n, uses=cc.uses + n, reserved_amount=cc.reserved_amount - amount,
                    granted=cc.granted + amount),
                sa.update(codes).where(kc.id == id_).values(
                    reserved_uses=kc.reserved_uses - n, uses=kc.uses + n,
                    status=_code_status(kc.uses + n, kc.reserved_uses - n, kc.balance), updated_at=now))
    assert kind == "cancel"
    return (sa.update(campaigns).where(cc.id == id_).values(
                uses=cc.uses - n, granted=cc.granted - amount),
            sa.update(codes).where(kc.id == id_).values(
                uses=kc.uses - n, balance=kc.balance + amount,
                status=_code_status(kc.uses - n, kc.reserved_uses, kc.balance + amount), updated_at=now))


# The moves as two statements (campaigns, codes) for executemany, one parameter set per row, by id.
_MOVES: dict[str, tuple[sa.Update, sa.Update]] = {
    kind: counter_moves(kind, _bp("_id", sa.String()), _bp("_n", sa.Integer()), _bp("_amt", sa.BigInteger()),
                        _bp("_now", campaigns.c.updated_at.type))
    for kind in ("release", "confirm", "cancel")}


def _totals(rows: Iterable[Any], key: str) -> list[tuple[str, int, int]]:
    """(id, count, amount) per campaign or code, ordered by id (the lock order)."""
    acc: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        ident = getattr(r, key)
        if ident is not None:
            acc[ident][0] += 1
            acc[ident][1] += r.amount
    return [(ident, n, amt) for ident, (n, amt) in sorted(acc.items())]


# ---------------------------------------------------------------------------------- the store


class RedemptionStore:
    """Stateless: every method works in the caller's transaction (`conn`) at the caller's `now`."""

    # -- reserve

    async def reserve(self, conn: AsyncConnection, *, app_id: str, cart_id: str, customer: str | None, currency: str,
                      requests: Sequence[ReservationRequest], now: datetime, ttl: timedelta) -> ReserveResult:
        """Give back what this cart holds, then reserve each request in order, until `now + ttl`.

        A request that cannot be had is recorded as a `rejected` redemption and changes no counter;
        the others are still reserved. A budget or gift card that cannot cover the amount grants
        what is left (`clamped`).
        """
        if ttl <= timedelta(0):
            raise KassaError("validation_error", "The reservation TTL must be positive", field="ttl", status=422)
        for i, req in enumerate(requests):
            if req.amount < 0:
                raise KassaError("validation_error", "A reservation amount must not be negative",
                                 field=f"requests[{i}].amount", status=422)
            if req.gift_card and req.code_id is None:
                raise KassaError("validation_error", "A gift card reservation needs its code",
                                 field=f"requests[{i}].codeId", status=422)
        r = redemptions.c
        held = await self._claim(conn, [r.app_id == app_id, r.cart_id == cart_id, r.status == "reserved"],
                                 status="released", reason=SUPERSEDED, now=now)
        await self._lock(conn, {x.campaign_id for x in held} | {q.campaign_id for q in requests},
                         {x.code_id for x in held if x.code_id} | {q.code_id for q in requests if q.code_id})
        await self._move(conn, "release", held, now)

        expires_at = now + ttl
        outcomes: list[ReservationOutcome] = []
        rows: list[dict[str, Any]] = []
        for req in requests:
            rid = new_id("red")
            row = {"id": rid, "app_id": app_id, "campaign_id": req.campaign_id, "code_id": req.code_id,
                   "code": req.code, "cart_id": cart_id, "order_id": None, "customer": customer, "currency": currency,
                   "created_at": now, "updated_at": now}
            try:
                async with conn.begin_nested():  # a rejection undoes whatever this request had taken
                    amount, clamp, name = await self._reserve_one(conn, app_id, req, now)
            except _Rejected as rej:
                text = message(rej.miss, is_code=req.code_id is not None, name=rej.name, currency=currency)
                rows.append({**row, "amount": req.amount, "status": "rejected", "reason": str(rej.reason),
                             "message": text, "expires_at": None})
                outcomes.append(ReservationOutcome(
                    campaign_id=req.campaign_id, code_id=req.code_id, code=req.code, redemption_id=rid, granted=False,
                    requested=req.amount, amount=0, reason=str(rej.reason), message=text))
                continue
            note = self._clamp_message(clamp, req, amount, name, currency) if clamp else None
            rows.append({**row, "amount": amount, "status": "reserved", "reason": clamp, "message": note,
                         "expires_at": expires_at})
            outcomes.append(ReservationOutcome(
                campaign_id=req.campaign_id, code_id=req.code_id, code=req.code, redemption_id=rid, granted=True,
                requested=req.amount, amount=amount, clamped=clamp is not None, reason=clamp, message=note))
        if rows:
            await conn.execute(sa.insert(redemptions), rows)
        return ReserveResult(outcomes=tuple(outcomes), expires_at=expires_at, released=len(held))

    async def _reserve_one(self, conn: AsyncConnection, app_id: str, req: ReservationRequest,
                           now: datetime) -> tuple[int, str | None, str]:
        """Take a use of the campaign and its budget, then a use of the code and its balance.
        Returns (amount granted, clamp reason, campaign name when read); raises `_Rejected`."""
        take, clamp, name = req.amount, None, ""
        # The campaign: one use, and the amount against its budget (what is left if it falls short).
        for _ in range(_MAX_ATTEMPTS):
            if (await conn.execute(_campaign_take(app_id, req.campaign_id, 1, take, reserve=True))).rowcount:
                break
            camp = (await conn.execute(sa.select(
                campaigns.c.name, campaigns.c.active, campaigns.c.usage_limit, campaigns.c.uses,
                campaigns.c.reserved_uses, campaigns.c.budget, campaigns.c.granted, campaigns.c.reserved_amount,
            ).where(campaigns.c.id == req.campaign_id, campaigns.c.app_id == app_id))).first()
            if camp is None or not camp.active:
                raise _Rejected(Reason.CODE_INACTIVE, Miss(Reason.CODE_INACTIVE), camp.name if camp else "this offer")
            name = camp.name
            if camp.usage_limit is not None and camp.uses + camp.reserved_uses >= camp.usage_limit:
                raise _Rejected(Reason.USAGE_LIMIT_REACHED, Miss(Reason.USAGE_LIMIT_REACHED), name)
            if camp.budget is not None:
                left = camp.budget - camp.granted - camp.reserved_amount
                if left <= 0:
                    raise _Rejected(Reason.BUDGET_EXHAUSTED, Miss(Reason.BUDGET_EXHAUSTED), name)
                if left < take:
                    take, clamp = left, BUDGET_CLAMPED
            # else another cart changed the row between our update and our read: try again
        else:
            raise _Rejected(Reason.BUDGET_EXHAUSTED, Miss(Reason.BUDGET_EXHAUSTED), name)
        taken_from_budget = take

        if req.code_id is not None:
            # The code: one use and, for a gift card, the amount from its balance (what is left).
            for _ in range(_MAX_ATTEMPTS):
                if (await conn.execute(_code_take(app_id, req.campaign_id, req.code_id, 1, take,
                                                  gift_card=req.gift_card, reserve=True, now=now))).rowcount:
                    break
                code = (await conn.execute(sa.select(
                    codes.c.campaign_id, codes.c.status, codes.c.usage_limit, codes.c.uses, codes.c.reserved_uses,
                    codes.c.balance, codes.c.expires_at,
                ).where(codes.c.id == req.code_id, codes.c.app_id == app_id))).first()
                if code is not None and code.expires_at is not None and code.expires_at <= now:
                    raise _Rejected(Reason.EXPIRED, Miss(Reason.EXPIRED), name)
                if (code is None or code.campaign_id != req.campaign_id or code.status in _INACTIVE
                        or req.gift_card != (code.balance is not None)):
                    raise _Rejected(Reason.CODE_INACTIVE, Miss(Reason.CODE_INACTIVE), name)
                if req.gift_card and (code.balance <= 0 or code.status == "redeemed"):
                    raise _Rejected(Reason.GIFT_CARD_EMPTY, Miss(Reason.GIFT_CARD_EMPTY), name)
                if code.status == "redeemed" or (code.usage_limit is not None
                                                 and code.uses + code.reserved_uses >= code.usage_limit):
                    used = code.status == "redeemed" or (code.usage_limit is not None and code.uses >= code.usage_limit)
                    raise _Rejected(CODE_USAGE_LIMIT_REACHED,
                                    Miss(Reason.USAGE_LIMIT_REACHED, {"variant": "redeemed"} if used else {}), name)
                if req.gift_card and code.balance < take:
                    take, clamp = code.balance, GIFT_CARD_CLAMPED
            else:
                raise _Rejected(Reason.GIFT_CARD_EMPTY if req.gift_card else CODE_USAGE_LIMIT_REACHED,
                                Miss(Reason.GIFT_CARD_EMPTY if req.gift_card else Reason.USAGE_LIMIT_REACHED), name)
            if take < taken_from_budget:  # the card covered less than the budget gave: give the difference back
                await conn.execute(sa.update(campaigns).where(campaigns.c.id == req.campaign_id).values(
                    reserved_amount=campaigns.c.reserved_amount - (taken_from_budget - take)))
        return take, clamp, name

    @staticmethod
    def _clamp_message(clamp: str, req: ReservationRequest, amount: int, name: str, currency: str) -> str:
        got, asked = format_amount(amount, currency), format_amount(req.amount, currency)
        if clamp == GIFT_CARD_CLAMPED:
            return f"This gift card had only {got} left, so {got} of {asked} is paid with it"
        offer = "This code's offer" if req.code_id is not None else f'"{name}"'
        return f"{offer} has almost run out: a discount of {got} instead of {asked} applies"

    # -- confirm, release, expire, cancel

    async def confirm(self, conn: AsyncConnection, *, app_id: str, cart_id: str, order_id: str,
                      now: datetime) -> builtins.list[Redemption]:
        """The cart's reservations become the order's `confirmed` redemptions.

        Idempotent by order id: once the order has confirmed redemptions, they are returned and
        nothing changes. Reservations of the cart's latest `reserve` that lapsed (expired or
        released, not superseded by a later `reserve`) are taken again under the same limits;
        if one no longer fits, nothing is confirmed and `redemption_expired` (409) is raised.
        """
        done = await self._of_order(conn, app_id, order_id, "confirmed")
        if done:
            return done
        r = redemptions.c
        async with conn.begin_nested():  # a lapsed reservation that no longer fits undoes the whole confirmation
            held = await self._claim(conn, [r.app_id == app_id, r.cart_id == cart_id, r.status == "reserved"],
                                     status="confirmed", reason=None, now=now, keep_reason=True, order_id=order_id)
            prior = redemptions.alias("prior")  # an alias: not correlated with the row being updated
            latest = (sa.select(sa.func.max(prior.c.created_at))
                      .where(prior.c.app_id == app_id, prior.c.cart_id == cart_id).scalar_subquery())
            lapsed = await self._claim(conn, [r.app_id == app_id, r.cart_id == cart_id, r.status == "released",
                                              sa.or_(r.reason.is_(None), r.reason != SUPERSEDED),
                                              r.created_at == latest],
                                       status="confirmed", reason=None, now=now, order_id=order_id)
            both = [*held, *lapsed]
            await self._lock(conn, {x.campaign_id for x in both}, {x.code_id for x in both if x.code_id})
            await self._move(conn, "confirm", held, now)
            await self._retake(conn, app_id, lapsed, now)
        return sorted((_redemption(x) for x in both), key=lambda x: x.id)

    async def _retake(self, conn: AsyncConnection, app_id: str, rows: Sequence[Any], now: datetime) -> None:
        if not rows:
            return
        code_campaign = {x.code_id: x.campaign_id for x in rows if x.code_id}
        for campaign_id, n, amount in _totals(rows, "campaign_id"):
            taken = await conn.execute(_campaign_take(app_id, campaign_id, n, amount, reserve=False))
            if not taken.rowcount:
                raise self._lapsed()
        for code_id, n, amount in _totals(rows, "code_id"):
            if not (await conn.execute(_code_take(app_id, code_campaign[code_id], code_id, n, amount, gift_card=None,
                                                  reserve=False, now=now))).rowcount:
                raise self._lapsed()

    @staticmethod
    def _lapsed() -> KassaError:
        return KassaError("redemption_expired",
                          "A discount of this cart was no longer reserved and is not available any more",
                          status=409)

    async def release(self, conn: AsyncConnection, *, app_id: str, cart_id: str, now: datetime,
                      reason: str = "released") -> int:
        """Every reservation of the cart becomes `released` and gives back what it held. Idempotent."""
        r = redemptions.c
        rows = await self._claim(conn, [r.app_id == app_id, r.cart_id == cart_id, r.status == "reserved"],
                                 status="released", reason=reason, now=now)
        await self._lock(conn, {x.campaign_id for x in rows}, {x.code_id for x in rows if x.code_id})
        await self._move(conn, "release", rows, now)
        return len(rows)

    async def expire(self, conn: AsyncConnection, *, now: datetime, limit: int = 1000) -> int:
        """Release every reservation (of every application) whose `expires_at <= now`, `limit` rows
        at a time, in `conn`'s transaction (the job commits batch by batch: `expire_batch`)."""
        total, more = 0, True
        while more:
            released, more = await self.expire_batch(conn, now=now, limit=limit)
            total += released
        return total

    async def expire_batch(self, conn: AsyncConnection, *, now: datetime, limit: int = 1000) -> tuple[int, bool]:
        """Release up to `limit` reservations whose `expires_at <= now`: how many, and whether more may
        be due. On PostgreSQL rows are claimed with SKIP LOCKED: concurrent runs take disjoint rows and
        never release one twice. The counters move last: a busy campaign's row stays locked from
        there to the commit."""
        r = redemptions.c
        query = (sa.select(r.id).where(r.status == _lit("reserved"), r.expires_at <= now)
                 .order_by(r.expires_at, r.id).limit(limit))
        ids = (await conn.execute(for_update(conn, query, skip_locked=True))).scalars().all()
        if not ids:
            return 0, False
        rows = await self._claim(conn, [r.id.in_(ids), r.status == "reserved"], status="released", reason=EXPIRED,
                                 now=now)
        await self._lock(conn, {x.campaign_id for x in rows}, {x.code_id for x in rows if x.code_id})
        await self._move(conn, "release", rows, now)
        return len(rows), len(ids) == limit

    async def cancel_order(self, conn: AsyncConnection, *, app_id: str, order_id: str,
                           now: datetime) -> builtins.list[Redemption]:
        """Refund or return: the order's confirmed redemptions become `cancelled` and give back their
        uses, budget and gift-card value (a redeemed single-use code is usable again). Idempotent:
        returns the order's cancelled redemptions."""
        r = redemptions.c
        rows = await self._claim(conn, [r.app_id == app_id, r.order_id == order_id, r.status == "confirmed"],
                                 status="cancelled", reason=CANCELLED, now=now)
        if not rows:
            return await self._of_order(conn, app_id, order_id, "cancelled")
        await self._lock(conn, {x.campaign_id for x in rows}, {x.code_id for x in rows if x.code_id})
        await self._move(conn, "cancel", rows, now)
        await audit.record(conn, "order_redemptions.cancelled", order_id, app_id=app_id, now=now,
                           after={"cancelled": sorted(x.id for x in rows)})
        return sorted((_redemption(x) for x in rows), key=lambda x: x.id)

    # -- refusals

    async def record_rejected(self, conn: AsyncConnection, *, app_id: str, code: str, cart_id: str | None,
                              customer: str | None, amount: int, currency: str, reason: str, message: str | None,
                              now: datetime) -> bool:
        """Record a refusal of a code at apply or validate as a `rejected` redemption: one
        statement (an INSERT … SELECT from the code's row), run only when a code was refused, so
        the common path pays nothing. A flood cannot grow the table without bound: a code the store
        does not know writes nothing, the same code, reason and cart (or cart-less call) is
        recorded once a minute (calls racing each other may each write one: a bound, not a
        count), and `purge_rejected` drops refusals past their retention.
        Returns whether a row was written."""
        r, c = redemptions.c, codes.c
        same_cart = r.cart_id.is_(None) if cart_id is None else r.cart_id == cart_id
        recent = sa.exists().where(r.code_id == c.id, r.status == _lit("rejected"),
                                   r.created_at > now - REJECTION_WINDOW, r.reason == reason, same_cart)
        given = {"id": new_id("red"), "app_id": app_id, "cart_id": cart_id, "order_id": None, "customer": customer,
                 "amount": amount, "currency": currency, "status": "rejected", "reason": reason[:60],
                 "message": (message or "")[:300] or None, "expires_at": None, "created_at": now, "updated_at": now}
        chosen = [sa.literal(v, r[k].type).label(k) for k, v in given.items()]
        select = (sa.select(*chosen, c.campaign_id.label("campaign_id"), c.id.label("code_id"), c.code.label("code"))
                  .where(c.app_id == app_id, c.code_key == code.strip().upper(), ~recent))
        columns = [*given, "campaign_id", "code_id", "code"]
        done = await conn.execute(sa.insert(redemptions).from_select(columns, select))
        return bool(done.rowcount)

    async def purge_rejected(self, conn: AsyncConnection, *, before: datetime, limit: int = 1000,
                             app_id: str | None = None) -> int:
        """Delete refusals recorded before `before`, `limit` rows a statement (the retention job;
        `app_id`: one application's only)."""
        r = redemptions.c
        total = 0
        while True:
            query = sa.select(r.id).where(r.status == _lit("rejected"), r.created_at < before)
            if app_id is not None:
                query = query.where(r.app_id == app_id)
            ids = (await conn.execute(query.limit(limit))).scalars().all()
            if not ids:
                return total
            await conn.execute(sa.delete(redemptions).where(r.id.in_(ids)))
            total += len(ids)
            if len(ids) < limit:
                return total

    # -- reading

    async def list(self, conn: AsyncConnection, *, app_id: str, campaign_id: str | None = None,
                   status: str | None = None, created_from: datetime | None = None,
                   created_to: datetime | None = None, limit: int = DEFAULT_LIMIT,
                   cursor: str | None = None) -> tuple[builtins.list[Redemption], str | None]:
        """Redemptions of the application, oldest first, `created_from <= created_at < created_to`."""
        check_limit(limit)
        if status is not None and status not in STATUSES:
            raise KassaError("validation_error", f"status must be one of {', '.join(STATUSES)}", field="status",
                             status=400)
        r = redemptions.c
        query = sa.select(redemptions).where(r.app_id == app_id)
        after = decode_cursor(cursor)
        if after:
            query = query.where(r.id > after)
        if campaign_id is not None:
            query = query.where(r.campaign_id == campaign_id)
        if status is not None:
            query = query.where(r.status == status)
        if created_from is not None:
            query = query.where(r.created_at >= created_from)
        if created_to is not None:
            query = query.where(r.created_at < created_to)
        rows = (await conn.execute(query.order_by(r.id).limit(limit + 1))).all()
        page = [_redemption(x) for x in rows[:limit]]
        return page, encode_cursor(page[-1].id) if len(rows) > limit else None

    async def _of_order(self, conn: AsyncConnection, app_id: str, order_id: str,
                        status: str) -> builtins.list[Redemption]:
        r = redemptions.c
        rows = await conn.execute(sa.select(redemptions).where(r.app_id == app_id, r.order_id == order_id,
                                                               r.status == status).order_by(r.id))
        return [_redemption(x) for x in rows]

    # -- internals

    @staticmethod
    async def _claim(conn: AsyncConnection, where: builtins.list[Any], *, status: str, reason: str | None,
                     now: datetime, keep_reason: bool = False, **values: Any) -> builtins.list[Any]:
        """Move the matching redemption rows to `status`; only the rows returned are this call's."""
        if not keep_reason:
            values["reason"] = reason
        stmt = (sa.update(redemptions).where(*where).values(status=status, updated_at=now, **values)
                .returning(*redemptions.c))
        return builtins.list((await conn.execute(stmt)).all())

    @staticmethod
    async def _lock(conn: AsyncConnection, campaign_ids: set[str], code_ids: set[str]) -> None:
        """Lock the counter rows a call will touch, campaigns then codes, by id (kassa_platform.rows).

        With one campaign and at most one code the statements already run in that order, so
        there is nothing to do."""
        if len(campaign_ids) <= 1 and len(code_ids) <= 1:
            return
        await lock_in_order(conn, campaigns, campaign_ids)
        await lock_in_order(conn, codes, code_ids)

    @staticmethod
    async def _move(conn: AsyncConnection, kind: str, rows: Sequence[Any], now: datetime) -> None:
        """Move the counters of claimed rows: give back (release), settle (confirm) or undo (cancel)."""
        if not rows:
            return
        campaign_stmt, code_stmt = _MOVES[kind]
        await conn.execute(campaign_stmt, [{"_id": i, "_n": n, "_amt": a, "_now": now}
                                           for i, n, a in _totals(rows, "campaign_id")])
        code_params = [{"_id": i, "_n": n, "_amt": a, "_now": now} for i, n, a in _totals(rows, "code_id")]
        if code_params:
            await conn.execute(code_stmt, code_params)
