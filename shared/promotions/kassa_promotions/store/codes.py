"""Codes: generic and unique codes, bulk generation and import, assignment, lookup for carts.

Codes match case-insensitively: each row keeps the code as issued and an upper-cased key with a
unique constraint per application, so no duplicate exists even under concurrent generation.

A code's status as read is computed (`effective_status`, and `_status_condition` for the list
filter): `expired` as soon as its own `expires_at` or its campaign's end (plus the grace period)
passed, `reserved` only while a redemption row holds it with a live hold (status `reserved`, not
past its `expires_at`), whatever made the hold; a stored `reserved` whose holds all lapsed reads as
usable again before the expiry job gives the counters back. `redeemed` and `deactivated` are final
as stored, and a redeemed code cannot be deactivated (409 `code_redeemed`): its history stays true.
"""

from __future__ import annotations

import builtins
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from kassa_contract.base import UNSET
from kassa_contract.common import check_metadata
from kassa_contract.errors import KassaError
from kassa_contract.promotions import CODE_STATUSES, AssignCodes, Code, CreateCodes, UpdateCode
from kassa_platform import audit
from kassa_platform.db import Database, Reads, transaction
from kassa_platform.ids import new_id
from kassa_platform.pagination import decode_cursor, encode_cursor
from kassa_platform.rows import insert_ignoring
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from .. import model
from .campaigns import codes_end, to_engine
from .tables import campaigns, codes, redemptions

# No 0/O, 1/I/L: codes are read aloud and typed from paper.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BATCH = 1000
USABLE = ("created", "distributed", "assigned", "active", "reserved")
CART_PREFIX = "cart_"  # `assigned_to` holding a cart id binds the code to that cart


def code_key(code: str) -> str:
    return code.strip().upper()


def make_code(prefix: str, pattern: str) -> str:
    return prefix + "".join(secrets.choice(ALPHABET) if ch == "#" else ch for ch in pattern)


FINAL = ("redeemed", "deactivated")


def live_hold(now: datetime) -> sa.Exists:
    """A redemption row holds the code now (ix_promo_redemptions_code_held)."""
    r = redemptions.c
    return sa.exists().where(r.code_id == codes.c.id, r.status == sa.literal_column("'reserved'"),
                             sa.or_(r.expires_at.is_(None), r.expires_at > now))


def _held_column(now: datetime) -> sa.ColumnElement[bool]:
    """Whether a stored-`reserved` code is held now (the subquery runs for those rows only)."""
    return sa.case((codes.c.status == "reserved", live_hold(now)), else_=sa.false()).label("held")


def effective_status(row: Any, *, ended: bool, held: bool, now: datetime) -> str:
    status = row.status
    if status in FINAL:
        return status
    if ended or status == "expired" or (row.expires_at is not None and row.expires_at <= now):
        return "expired"
    if status == "reserved" and not held:
        return "assigned" if row.assigned_to else "active"
    return status


def _status_condition(status: str, *, ended: bool, now: datetime) -> sa.ColumnElement[bool]:
    """`effective_status(row) == status` as SQL, for the codes of one campaign."""
    c = codes.c
    if status in FINAL:
        return c.status == status
    if status == "expired":
        if ended:
            return c.status.not_in(FINAL)
        return sa.and_(c.status.not_in(FINAL), sa.or_(c.status == "expired", c.expires_at <= now))
    if ended:
        return sa.false()
    valid = sa.or_(c.expires_at.is_(None), c.expires_at > now)
    if status == "reserved":
        return sa.and_(c.status == "reserved", valid, live_hold(now))
    lapsed = sa.and_(c.status == "reserved", valid, ~live_hold(now),
                     c.assigned_to.is_not(None) if status == "assigned" else c.assigned_to.is_(None))
    if status not in ("assigned", "active"):
        return sa.and_(c.status == status, valid)
    return sa.or_(sa.and_(c.status == status, valid), lapsed)


def parse_statuses(value: str | None) -> builtins.list[str]:
    """`status=active,assigned`: one or more of the statuses a code reads as."""
    if not value:
        return []
    wanted = [v.strip() for v in value.split(",") if v.strip()]
    for v in wanted:
        if v not in CODE_STATUSES:
            raise KassaError("validation_error", f"status must be one or more of {', '.join(CODE_STATUSES)}",
                             field="status", status=400)
    return wanted


def view(row: Any, status: str | None = None) -> Code:
    return Code(id=row.id, campaign_id=row.campaign_id, code=row.code, status=status or row.status,  # type: ignore[arg-type]
                usage_limit=row.usage_limit, uses=row.uses, reserved_uses=row.reserved_uses, balance=row.balance,
                assigned_to=row.assigned_to, created_at=row.created_at, expires_at=row.expires_at,
                external_id=row.external_id, metadata=row.metadata, updated_at=row.updated_at)


class CodeStore:
    async def _campaign(self, conn: AsyncConnection, app_id: str, campaign_id: str) -> Any:
        row = (await conn.execute(sa.select(campaigns.c.id, campaigns.c.trigger, campaigns.c.definition)
                                  .where(campaigns.c.app_id == app_id, campaigns.c.id == campaign_id))).first()
        if row is None:
            raise KassaError("campaign_not_found", f"No campaign {campaign_id}", status=404)
        if row.trigger != "code":
            raise KassaError("validation_error", "Automatic campaigns apply without codes", field="campaignId")
        return row

    @staticmethod
    def _row(app_id: str, campaign_id: str, code: str, *, usage_limit: int | None, balance: int | None,
             assigned_to: str | None, status: str, now: datetime, expires_at: datetime | None = None,
             external_id: str | None = None, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"id": new_id("vch"), "app_id": app_id, "campaign_id": campaign_id, "code": code,
                "code_key": code_key(code), "status": status, "usage_limit": usage_limit, "uses": 0,
                "reserved_uses": 0, "balance": balance, "assigned_to": assigned_to, "created_at": now,
                "updated_at": now, "expires_at": expires_at, "external_id": external_id, "metadata": metadata}

    row_values = _row  # one new code's values, for a caller inserting it in its own transaction

    async def create(self, db: Database, app_id: str, campaign_id: str, body: CreateCodes, now: datetime,
                     progress: Callable[[int], None] | None = None) -> tuple[int, list[Code]]:
        """One generic code, or `count` unique codes.

        Unique codes are inserted in batches, each in its own short transaction, sorted by key and
        with ON CONFLICT DO NOTHING: concurrent generators then never deadlock on each other's
        uncommitted keys, a collision just makes one more code, and a 100,000-code run holds no
        long transaction.
        """
        async with transaction(db) as conn:
            campaign = await self._campaign(conn, app_id, campaign_id)
        is_gift = campaign.definition["reward"].get("type") == "gift_card"
        if is_gift and body.balance is None:
            raise KassaError("validation_error", "Gift card codes need a balance", field="balance")
        if (body.code is None) == (body.count is None):
            raise KassaError("validation_error", "Give either `code` (one generic code) or `count` (unique codes)",
                             field="code")
        if body.external_id is not None and body.code is None:
            raise KassaError("validation_error", "An externalId names one code: give it with `code`, or set it on "
                             "each code afterwards (PATCH /api/v1/codes/{code})", field="externalId")
        check_metadata(body.metadata)
        status = "assigned" if body.assigned_to else "active" if body.code else "created"
        if body.code is not None:
            row = self._row(app_id, campaign_id, body.code, usage_limit=body.usage_limit, balance=body.balance,
                            assigned_to=body.assigned_to, status=status, now=now, external_id=body.external_id,
                            expires_at=body.expires_at, metadata=body.metadata)
            try:
                async with transaction(db) as conn:
                    await conn.execute(sa.insert(codes), [row])
                    await audit.record(conn, "code.created", row["id"], app_id=app_id, now=now, after=view(_Obj(row)))
            except IntegrityError:
                raise KassaError("code_taken", f"The code {body.code} exists already", field="code", status=409) from None
            return 1, [view(_Obj(row))]
        # A unique code is single-use unless told otherwise; a gift card is spent until its balance is gone.
        limit = body.usage_limit if body.usage_limit is not None else (None if is_gift else 1)
        count = body.count or 0
        made: list[dict[str, Any]] = []
        misses = 0
        while len(made) < count:
            want = min(BATCH, count - len(made))
            batch = sorted({code_key(c): c for c in (make_code(body.prefix, body.pattern) for _ in range(want))}.items())
            rows = [self._row(app_id, campaign_id, text, usage_limit=limit, balance=body.balance,
                              assigned_to=body.assigned_to, status=status, now=now, expires_at=body.expires_at,
                              metadata=body.metadata) for _, text in batch]
            async with transaction(db) as conn:
                kept = set((await conn.execute(insert_ignoring(conn, codes, rows, ["app_id", "code_key"])
                                               .returning(codes.c.code_key))).scalars())
                # One entry per batch, in the batch's transaction (the codes themselves: listed by the API).
                await audit.record(conn, "campaign.codes_generated", campaign_id, app_id=app_id, now=now,
                                   after={"created": len(kept), "usageLimit": limit, "balance": body.balance,
                                          "assignedTo": body.assigned_to})
            inserted = [r for r in rows if r["code_key"] in kept]
            made.extend(inserted)
            misses = misses + 1 if not inserted else 0
            if misses >= 20:
                raise KassaError("code_space_exhausted", "The pattern leaves no unused codes: make it longer",
                                 field="pattern", status=422)
            if progress and inserted:
                progress(len(inserted))
        return len(made), [view(_Obj(r)) for r in made[:100]]

    async def import_codes(self, conn: AsyncConnection, app_id: str, campaign_id: str, texts: Sequence[str], *,
                           usage_limit: int | None, balance: int | None, now: datetime,
                           progress: Callable[[int], None] | None = None) -> int:
        await self._campaign(conn, app_id, campaign_id)
        keys = [code_key(t) for t in texts]
        if len(set(keys)) != len(keys):
            dup = next(k for k in keys if keys.count(k) > 1)
            raise KassaError("code_taken", f"The import holds {dup} twice (codes match case-insensitively)",
                             field="codes", status=409)
        for start in range(0, len(texts), BATCH):
            chunk = texts[start:start + BATCH]
            taken = (await conn.execute(sa.select(codes.c.code).where(
                codes.c.app_id == app_id, codes.c.code_key.in_([code_key(t) for t in chunk])).limit(1))).first()
            if taken:
                raise KassaError("code_taken", f"The code {taken.code} exists already", field="codes", status=409)
            try:
                async with conn.begin_nested():
                    await conn.execute(sa.insert(codes), [self._row(app_id, campaign_id, t.strip(), usage_limit=usage_limit,
                                                                    balance=balance, assigned_to=None, status="created",
                                                                    now=now) for t in chunk])
            except IntegrityError:
                raise KassaError("code_taken", "A code of the import was created meanwhile", field="codes",
                                 status=409) from None
            if progress:
                progress(len(chunk))
        await audit.record(conn, "campaign.codes_imported", campaign_id, app_id=app_id, now=now,
                           after={"imported": len(texts), "usageLimit": usage_limit, "balance": balance})
        return len(texts)

    async def row(self, conn: Reads, app_id: str, code_id_or_text: str) -> Any:
        cond = codes.c.id == code_id_or_text if code_id_or_text.startswith("vch_") else \
            codes.c.code_key == code_key(code_id_or_text)
        row = (await conn.execute(sa.select(codes).where(codes.c.app_id == app_id, cond))).first()
        if row is None:
            raise KassaError("code_not_found", f"No code {code_id_or_text}", status=404)
        return row

    async def _read(self, conn: AsyncConnection, app_id: str, conds: Sequence[sa.ColumnElement[bool]],
                    now: datetime) -> builtins.list[tuple[Any, str]]:
        """Codes with their status as read (one statement: the campaign's end and the live holds)."""
        rows = (await conn.execute(
            sa.select(codes, campaigns.c.ends_at.label("c_ends_at"), campaigns.c.definition.label("c_definition"),
                      _held_column(now))
            .join(campaigns, campaigns.c.id == codes.c.campaign_id)
            .where(codes.c.app_id == app_id, *conds))).all()
        out = []
        for r in rows:
            end = codes_end(_Obj({"ends_at": r.c_ends_at, "definition": r.c_definition}))
            out.append((r, effective_status(r, ended=end is not None and end <= now, held=bool(r.held), now=now)))
        return out

    async def get(self, conn: AsyncConnection, app_id: str, code: str, now: datetime) -> Code:
        cond = codes.c.id == code if code.startswith("vch_") else codes.c.code_key == code_key(code)
        found = await self._read(conn, app_id, [cond], now)
        if not found:
            raise KassaError("code_not_found", f"No code {code}", status=404)
        return view(*found[0])

    async def list(self, conn: AsyncConnection, app_id: str, campaign: Any, *, limit: int, cursor: str | None,
                   now: datetime, statuses: Sequence[str] = ()) -> tuple[builtins.list[Code], str | None]:
        """A campaign's codes (`campaign`: its row), oldest first; `statuses`: as read, any of them."""
        end = codes_end(campaign)
        ended = end is not None and end <= now
        query = sa.select(codes, _held_column(now)).where(codes.c.app_id == app_id, codes.c.campaign_id == campaign.id)
        after = decode_cursor(cursor)
        if after:
            query = query.where(codes.c.id > after)
        if statuses:
            query = query.where(sa.or_(*(_status_condition(s, ended=ended, now=now) for s in statuses)))
        rows = (await conn.execute(query.order_by(codes.c.id).limit(limit + 1))).all()
        page = [view(r, effective_status(r, ended=ended, held=bool(r.held), now=now)) for r in rows[:limit]]
        return page, encode_cursor(rows[limit - 1].id) if len(rows) > limit else None

    async def set_status(self, conn: AsyncConnection, app_id: str, code: str, status: str, now: datetime,
                         assigned_to: str | None = None) -> Code:
        found = await self.get(conn, app_id, code, now)
        self._check_move(found.status, status)
        values: dict[str, Any] = {"status": status, "updated_at": now}
        if status == "assigned":
            values["assigned_to"] = assigned_to
        # `status IN (…)`: a code redeemed meanwhile (a checkout confirming) is not relabelled.
        done = await conn.execute(sa.update(codes).where(codes.c.id == found.id, codes.c.status.not_in(FINAL))
                                  .values(**values))
        if not done.rowcount:
            return await self.set_status(conn, app_id, found.id, status, now, assigned_to)
        after = await self.get(conn, app_id, found.id, now)
        await audit.record(conn, f"code.{status}", found.id, app_id=app_id, now=now, before=found, after=after)
        return after

    @staticmethod
    def _check_move(current: str, status: str, field: str | None = None) -> None:
        if current == "redeemed":
            raise KassaError("code_redeemed", "The code is redeemed: its uses are history and it cannot be "
                             f"{status} (cancel the order's redemptions to give the use back)", field=field, status=409)
        if current in ("deactivated", "expired") and status != "deactivated":
            raise KassaError("code_not_usable", f"The code is {current}", field=field, status=409)

    async def update(self, conn: AsyncConnection, app_id: str, code: str, body: UpdateCode, now: datetime) -> Code:
        row = await self.row(conn, app_id, code)
        values: dict[str, Any] = {"updated_at": now}
        for f in ("external_id", "metadata", "expires_at"):
            if getattr(body, f) is not UNSET:
                values[f] = getattr(body, f)
        if body.metadata is not UNSET:
            check_metadata(body.metadata)
        before = await self.get(conn, app_id, row.id, now)
        await conn.execute(sa.update(codes).where(codes.c.id == row.id).values(**values))
        after = await self.get(conn, app_id, row.id, now)
        await audit.record(conn, "code.updated", row.id, app_id=app_id, now=now, before=before, after=after)
        return after

    async def assign_many(self, conn: AsyncConnection, app_id: str, body: AssignCodes,
                          now: datetime) -> builtins.list[Code]:
        """Assign every code of the call to its customer, or none: each item is checked first (the
        first refused one fails the call and is named `assignments[i]`), then one statement
        assigns them all."""
        items = body.assignments
        ids = [a.code for a in items if a.code.startswith("vch_")]
        keys = [code_key(a.code) for a in items if not a.code.startswith("vch_")]
        found = await self._read(conn, app_id, [sa.or_(codes.c.id.in_(ids), codes.c.code_key.in_(keys))], now)
        by_ref: dict[str, tuple[Any, str]] = {}
        for r, status in found:
            by_ref[r.id] = by_ref[r.code_key] = (r, status)
        seen: set[str] = set()
        params = []
        for i, a in enumerate(items):
            hit = by_ref.get(a.code if a.code.startswith("vch_") else code_key(a.code))
            if hit is None:
                raise KassaError("code_not_found", f"No code {a.code}", field=f"assignments[{i}].code",
                                 details={"index": i})
            r, status = hit
            if r.id in seen:
                raise KassaError("validation_error", f"The code {r.code} is in the call twice",
                                 field=f"assignments[{i}].code", details={"index": i})
            seen.add(r.id)
            try:
                self._check_move(status, "assigned", f"assignments[{i}].code")
            except KassaError as exc:
                exc.details = {"index": i}
                raise
            params.append({"_id": r.id, "_customer": a.customer})
        not_final = codes.c.status.not_in([sa.literal_column(f"'{v}'") for v in FINAL])  # inlined for executemany
        stmt = (sa.update(codes).where(codes.c.id == sa.bindparam("_id"), not_final)
                .values(status=sa.case((codes.c.status == "reserved", codes.c.status), else_=sa.literal("assigned")),
                        assigned_to=sa.bindparam("_customer"), updated_at=now))
        await conn.execute(stmt, params)
        order = {p["_id"]: i for i, p in enumerate(params)}
        read = await self._read(conn, app_id, [codes.c.id.in_(list(order))], now)
        after = [view(r, status) for r, status in sorted(read, key=lambda x: order[x[0].id])]
        for r, status in found:
            if r.id in order:  # one entry per code, as a single assignment records
                await audit.record(conn, "code.assigned", r.id, app_id=app_id, now=now, before=view(r, status),
                                   after=after[order[r.id]])
        return after

    async def resolve(self, conn: Reads, app_id: str, texts: Sequence[str],
                      now: datetime | None = None) -> dict[str, model.AppliedCode]:
        """The codes on a cart as the engine needs them (one query), keyed by upper-cased code. A
        code whose own validity ended by `now` is passed as `expired` (its campaign's end the engine
        checks itself)."""
        if not texts:
            return {}
        rows = await conn.execute(
            sa.select(codes.c.code, codes.c.code_key, codes.c.status, codes.c.usage_limit, codes.c.uses,
                      codes.c.reserved_uses, codes.c.balance, codes.c.assigned_to, codes.c.expires_at,
                      *[c.label(f"c_{c.name}") for c in campaigns.c])
            .join(campaigns, campaigns.c.id == codes.c.campaign_id)
            .where(codes.c.app_id == app_id, codes.c.code_key.in_([code_key(t) for t in texts])))
        return {r.code_key: applied_code(r, now) for r in rows}


def applied_code(r: Any, now: datetime | None) -> model.AppliedCode:
    """The engine's view of a code read with its campaign's columns (labelled `c_<name>`). A code
    whose own validity ended by `now` is passed as `expired`."""
    campaign_row = _Obj({c.name: getattr(r, f"c_{c.name}") for c in campaigns.c})
    remaining = None if r.usage_limit is None else max(0, r.usage_limit - r.uses - r.reserved_uses)
    status = r.status
    if now is not None and r.expires_at is not None and r.expires_at <= now and status not in FINAL:
        status = "expired"
    # A code assigned to a cart id (`cart_…`: no customer id or email looks like it) is bound to that cart.
    bound = r.assigned_to if r.assigned_to and r.assigned_to.startswith(CART_PREFIX) else None
    return model.AppliedCode(
        code=r.code, campaign=to_engine(campaign_row), status=status, remaining_uses=remaining,
        balance=r.balance, assigned_to=None if bound else r.assigned_to, bound_cart_id=bound)


class _Obj:
    """Attribute access over a dict (rows built in memory look like fetched rows)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
