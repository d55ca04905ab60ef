"""Codes: generic and unique codes, bulk generation and import, assignment, lookup for carts.

Codes match case-insensitively: each row keeps the code as issued and an upper-cased key with a
unique constraint per application, so no duplicate exists even under concurrent generation.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from kassa_contract.errors import KassaError
from kassa_contract.promotions import Code, CreateCodes
from kassa_platform import audit
from kassa_platform.db import Database, transaction
from kassa_platform.ids import new_id
from kassa_platform.pagination import decode_cursor, encode_cursor
from kassa_platform.rows import insert_ignoring
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from .. import model
from .campaigns import to_engine
from .tables import campaigns, codes

# No 0/O, 1/I/L: codes are read aloud and typed from paper.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BATCH = 1000
USABLE = ("created", "distributed", "assigned", "active", "reserved")


def code_key(code: str) -> str:
    return code.strip().upper()


def make_code(prefix: str, pattern: str) -> str:
    return prefix + "".join(secrets.choice(ALPHABET) if ch == "#" else ch for ch in pattern)


def view(row: Any) -> Code:
    return Code(id=row.id, campaign_id=row.campaign_id, code=row.code, status=row.status,
                usage_limit=row.usage_limit, uses=row.uses, reserved_uses=row.reserved_uses, balance=row.balance,
                assigned_to=row.assigned_to, created_at=row.created_at)


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
             assigned_to: str | None, status: str, now: datetime) -> dict[str, Any]:
        return {"id": new_id("vch"), "app_id": app_id, "campaign_id": campaign_id, "code": code,
                "code_key": code_key(code), "status": status, "usage_limit": usage_limit, "uses": 0,
                "reserved_uses": 0, "balance": balance, "assigned_to": assigned_to, "created_at": now,
                "updated_at": now}

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
        status = "assigned" if body.assigned_to else "active" if body.code else "created"
        if body.code is not None:
            row = self._row(app_id, campaign_id, body.code, usage_limit=body.usage_limit, balance=body.balance,
                            assigned_to=body.assigned_to, status=status, now=now)
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
                              assigned_to=body.assigned_to, status=status, now=now) for _, text in batch]
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

    async def row(self, conn: AsyncConnection, app_id: str, code_id_or_text: str) -> Any:
        cond = codes.c.id == code_id_or_text if code_id_or_text.startswith("vch_") else \
            codes.c.code_key == code_key(code_id_or_text)
        row = (await conn.execute(sa.select(codes).where(codes.c.app_id == app_id, cond))).first()
        if row is None:
            raise KassaError("code_not_found", f"No code {code_id_or_text}", status=404)
        return row

    async def get(self, conn: AsyncConnection, app_id: str, code: str) -> Code:
        return view(await self.row(conn, app_id, code))

    async def list(self, conn: AsyncConnection, app_id: str, campaign_id: str, *, limit: int, cursor: str | None,
                   status: str | None = None) -> tuple[list[Code], str | None]:
        query = sa.select(codes).where(codes.c.app_id == app_id, codes.c.campaign_id == campaign_id)
        after = decode_cursor(cursor)
        if after:
            query = query.where(codes.c.id > after)
        if status:
            query = query.where(codes.c.status == status)
        rows = (await conn.execute(query.order_by(codes.c.id).limit(limit + 1))).all()
        return [view(r) for r in rows[:limit]], encode_cursor(rows[limit - 1].id) if len(rows) > limit else None

    async def set_status(self, conn: AsyncConnection, app_id: str, code: str, status: str, now: datetime,
                         assigned_to: str | None = None) -> Code:
        row = await self.row(conn, app_id, code)
        if row.status in ("redeemed", "deactivated", "expired") and status != "deactivated":
            raise KassaError("code_not_usable", f"The code is {row.status}", status=409)
        values: dict[str, Any] = {"status": status, "updated_at": now}
        if status == "assigned":
            values["assigned_to"] = assigned_to
        await conn.execute(sa.update(codes).where(codes.c.id == row.id).values(**values))
        after = await self.get(conn, app_id, row.id)
        await audit.record(conn, f"code.{status}", row.id, app_id=app_id, now=now, before=view(row), after=after)
        return after

    async def resolve(self, conn: AsyncConnection, app_id: str, texts: Sequence[str]) -> dict[str, model.AppliedCode]:
        """The codes on a cart as the engine needs them (one query), keyed by upper-cased code."""
        if not texts:
            return {}
        rows = await conn.execute(
            sa.select(codes.c.code, codes.c.code_key, codes.c.status, codes.c.usage_limit, codes.c.uses,
                      codes.c.reserved_uses, codes.c.balance, codes.c.assigned_to,
                      *[c.label(f"c_{c.name}") for c in campaigns.c])
            .join(campaigns, campaigns.c.id == codes.c.campaign_id)
            .where(codes.c.app_id == app_id, codes.c.code_key.in_([code_key(t) for t in texts])))
        found: dict[str, model.AppliedCode] = {}
        for r in rows:
            campaign_row = _Obj({c.name: getattr(r, f"c_{c.name}") for c in campaigns.c})
            remaining = None if r.usage_limit is None else max(0, r.usage_limit - r.uses - r.reserved_uses)
            found[r.code_key] = model.AppliedCode(
                code=r.code, campaign=to_engine(campaign_row), status=r.status, remaining_uses=remaining,
                balance=r.balance, assigned_to=r.assigned_to)
        return found


class _Obj:
    """Attribute access over a dict (rows built in memory look like fetched rows)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
