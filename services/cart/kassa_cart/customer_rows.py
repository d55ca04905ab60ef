"""Customers' statements: every read and write of `customers`, `customer_segments` and `shopper_auth`.

SQLAlchemy Core on both databases (customers are not on the cart hot path): the domain module
(customers.py) never branches on the database. Uniqueness (email, external id, identity) is the
database's: a conflicting write raises the matching KassaError, also under a race.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from kassa_contract.common import Page
from kassa_contract.errors import KassaError
from kassa_platform.pagination import decode_cursor, encode_cursor
from kassa_promotions import model
from kassa_promotions.store.campaigns import to_engine
from kassa_promotions.store.tables import campaigns as promo_campaigns
from kassa_promotions.store.tables import codes as promo_codes
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import customer_segments, customers, shopper_auth

P = promo_codes.c

C = customers.c
S = customer_segments.c


def _conflict(exc: IntegrityError) -> KassaError:
    text = str(exc.orig)
    if "email_key" in text:
        return KassaError("customer_email_taken", "Another customer of this application has this email",
                          field="email")
    if "external_id" in text:
        return KassaError("customer_external_id_taken", "Another customer of this application has this externalId",
                          field="externalId")
    return KassaError("conflict", "This customer conflicts with another one of this application")


async def insert(conn: AsyncConnection, values: dict[str, Any]) -> None:
    try:
        async with conn.begin_nested():  # a savepoint: the caller's transaction survives a refused insert
            await conn.execute(customers.insert().values(values))
    except IntegrityError as exc:
        raise _conflict(exc) from None


async def update(conn: AsyncConnection, app_id: str, customer_id: str, values: dict[str, Any]) -> None:
    try:
        async with conn.begin_nested():
            await conn.execute(customers.update().where(C.app_id == app_id, C.id == customer_id).values(values))
    except IntegrityError as exc:
        raise _conflict(exc) from None


async def delete(conn: AsyncConnection, app_id: str, customer_id: str) -> None:
    await conn.execute(customer_segments.delete().where(S.app_id == app_id, S.customer_id == customer_id))
    await conn.execute(customers.delete().where(C.app_id == app_id, C.id == customer_id))


async def fetch(conn: AsyncConnection, app_id: str, customer_id: str, *, lock: bool = False) -> Any:
    query = sa.select(customers).where(C.app_id == app_id, C.id == customer_id)
    if lock:
        query = query.with_for_update()  # ignored by SQLite, whose writers are serialized anyway
    return (await conn.execute(query)).first()


async def fetch_by_identity(conn: AsyncConnection, app_id: str, issuer: str, subject: str) -> Any:
    return (await conn.execute(sa.select(customers).where(
        C.app_id == app_id, C.identity_issuer == issuer, C.identity_subject == subject))).first()


async def fetch_by_email(conn: AsyncConnection, app_id: str, email: str) -> Any:
    return (await conn.execute(sa.select(customers).where(C.app_id == app_id,
                                                           C.email_key == email.lower()))).first()


async def segments_of(conn: AsyncConnection, app_id: str, customer_ids: Iterable[str]) -> dict[str, list[str]]:
    ids = list(customer_ids)
    found: dict[str, list[str]] = {i: [] for i in ids}
    if ids:
        rows = await conn.execute(sa.select(S.customer_id, S.segment)
                                  .where(S.app_id == app_id, S.customer_id.in_(ids)).order_by(S.segment))
        for customer_id, segment in rows:
            found[customer_id].append(segment)
    return found


async def add_segments(conn: AsyncConnection, app_id: str, customer_id: str, segments: Iterable[str]) -> None:
    wanted = set(segments) - set((await segments_of(conn, app_id, [customer_id]))[customer_id])
    if wanted:
        await conn.execute(customer_segments.insert(), [{"customer_id": customer_id, "segment": s, "app_id": app_id}
                                                        for s in sorted(wanted)])


async def remove_segments(conn: AsyncConnection, app_id: str, customer_id: str, segments: Iterable[str]) -> None:
    gone = list(segments)
    if gone:
        await conn.execute(customer_segments.delete().where(S.app_id == app_id, S.customer_id == customer_id,
                                                            S.segment.in_(gone)))


async def page(conn: AsyncConnection, app_id: str, *, limit: int, cursor: str | None, email: str | None,
               external_id: str | None, segment: str | None, created_gte: datetime | None,
               created_lt: datetime | None) -> Page[Any]:
    """One page of the application's customers, newest first (rows; the caller adds segments)."""
    query = sa.select(customers).where(C.app_id == app_id)
    if email is not None:
        query = query.where(C.email_key == email.lower())
    if external_id is not None:
        query = query.where(C.external_id == external_id)
    if segment is not None:
        query = query.where(C.id.in_(sa.select(S.customer_id).where(S.app_id == app_id, S.segment == segment)))
    if created_gte is not None:
        query = query.where(C.created_at >= created_gte)
    if created_lt is not None:
        query = query.where(C.created_at < created_lt)
    if (before := decode_cursor(cursor)) is not None:
        query = query.where(C.id < before)
    rows = (await conn.execute(query.order_by(C.id.desc()).limit(limit + 1))).all()
    return Page(data=list(rows[:limit]), next_cursor=encode_cursor(rows[limit - 1].id) if len(rows) > limit else None)


# ---------------------------------------------------------------- shopper auth


async def shopper_auth_of(conn: AsyncConnection, app_id: str) -> Any:
    return (await conn.execute(sa.select(shopper_auth).where(shopper_auth.c.app_id == app_id))).first()


async def save_shopper_auth(conn: AsyncConnection, app_id: str, values: dict[str, Any], now: datetime) -> None:
    exists = await shopper_auth_of(conn, app_id)
    if exists is None:
        await conn.execute(shopper_auth.insert().values(app_id=app_id, updated_at=now, **values))
    else:
        await conn.execute(shopper_auth.update().where(shopper_auth.c.app_id == app_id)
                           .values(updated_at=now, **values))


# ---------------------------------------------------------------- vouchers

_USABLE = ("created", "distributed", "assigned", "active", "reserved")


async def voucher_candidates(conn: AsyncConnection, app_id: str, customer_id: str, email: str | None, *,
                             now: datetime, limit: int) -> list[tuple[model.AppliedCode, datetime | None]]:
    """Codes of active code campaigns that may be this customer's: generic ones (active, assigned to
    nobody) and those assigned to the customer's id or email, usable by status and within their own
    validity at `now`, with their campaign; each with its own expiry (None: none)."""
    owners = [customer_id] + ([email.lower()] if email else [])
    mine = sa.func.lower(P.assigned_to).in_([o.lower() for o in owners])
    query = (sa.select(P.code, P.status, P.usage_limit, P.uses, P.reserved_uses, P.balance, P.assigned_to,
                       P.expires_at, *[c.label(f"c_{c.name}") for c in promo_campaigns.c])
             .join(promo_campaigns, promo_campaigns.c.id == P.campaign_id)
             .where(P.app_id == app_id, promo_campaigns.c.active.is_(True), promo_campaigns.c.trigger == "code",
                    P.status.in_(_USABLE), sa.or_(P.expires_at.is_(None), P.expires_at > now),
                    sa.or_(mine, sa.and_(P.assigned_to.is_(None), P.status == "active")))
             .order_by(P.created_at.desc(), P.id.desc()).limit(limit))
    found = []
    for r in await conn.execute(query):
        campaign = to_engine(_Row({c.name: getattr(r, f"c_{c.name}") for c in promo_campaigns.c}))
        remaining = None if r.usage_limit is None else max(0, r.usage_limit - r.uses - r.reserved_uses)
        found.append((model.AppliedCode(code=r.code, campaign=campaign, status=r.status, remaining_uses=remaining,
                                        balance=r.balance, assigned_to=r.assigned_to), r.expires_at))
    return found


class _Row:
    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
