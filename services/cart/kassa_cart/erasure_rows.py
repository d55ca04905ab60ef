"""Erasure's statements in the cart service's database: its own tables (customers, carts,
abandonments, erasure requests, customer settings) and the promotions store's (codes, redemptions).

SQLAlchemy Core on both databases (an erasure is rare): the domain module (erasure.py) never
branches on the database. Rewrites go through `kassa_platform.redaction_rows.redact_rows`, which
writes only rows that change, so every count is of rows redacted by this run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from kassa_platform.redaction import Redactor
from kassa_platform.redaction_rows import redact_rows
from kassa_platform.rows import for_update
from kassa_promotions.store.tables import codes as promo_codes
from kassa_promotions.store.tables import redemptions as promo_redemptions
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import cart_abandonments, carts, customer_erasures, customer_segments, customer_settings, customers

C = carts.c
E = customer_erasures.c


@dataclass(frozen=True)
class CustomerRow:
    id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None
    external_id: str | None
    identity_subject: str | None
    metadata: dict[str, Any] | None
    version: int


@dataclass(frozen=True)
class SubjectCart:
    id: str
    customer_email: str | None
    shipping_address: dict[str, Any] | None
    billing_address: dict[str, Any] | None
    document: dict[str, Any]
    metadata: dict[str, Any] | None


@dataclass(frozen=True)
class ErasureRow:
    id: str
    app_id: str
    customer_id: str | None
    status: str
    subject: dict[str, Any] | None
    report: dict[str, int]
    created_at: datetime
    completed_at: datetime | None


_ERASURE = (E.id, E.app_id, E.customer_id, E.status, E.subject, E.report, E.created_at, E.completed_at)


# ---------------------------------------------------------------- settings


async def personal_metadata_keys(conn: AsyncConnection, app_id: str) -> tuple[list[str], datetime | None]:
    row = (await conn.execute(sa.select(customer_settings.c.personal_metadata_keys, customer_settings.c.updated_at)
                              .where(customer_settings.c.app_id == app_id))).first()
    return ([], None) if row is None else (list(row.personal_metadata_keys), row.updated_at)


async def save_personal_metadata_keys(conn: AsyncConnection, app_id: str, keys: list[str], now: datetime) -> None:
    s = customer_settings.c
    done = await conn.execute(customer_settings.update().where(s.app_id == app_id)
                              .values(personal_metadata_keys=keys, updated_at=now))
    if done.rowcount == 0:
        await conn.execute(customer_settings.insert().values(app_id=app_id, personal_metadata_keys=keys, updated_at=now))


# ---------------------------------------------------------------- erasure requests


async def pending(conn: AsyncConnection, app_id: str) -> list[ErasureRow]:
    rows = await conn.execute(sa.select(*_ERASURE).where(E.app_id == app_id, E.status == "pending").order_by(E.id))
    return [ErasureRow(*r) for r in rows]


async def pending_due(conn: AsyncConnection, before: datetime, limit: int) -> list[tuple[str, str]]:
    """(app id, erasure id) of erasures still pending since before `before`, oldest first."""
    rows = await conn.execute(sa.select(E.app_id, E.id).where(E.status == "pending", E.updated_at < before)
                              .order_by(E.updated_at).limit(limit))
    return [(r.app_id, r.id) for r in rows]


async def fetch(conn: AsyncConnection, app_id: str, erasure_id: str) -> ErasureRow | None:
    row = (await conn.execute(sa.select(*_ERASURE).where(E.app_id == app_id, E.id == erasure_id))).first()
    return None if row is None else ErasureRow(*row)


async def erased_before(conn: AsyncConnection, app_id: str, customer_id: str) -> bool:
    return (await conn.execute(sa.select(E.id).where(E.app_id == app_id, E.customer_id == customer_id)
                               .limit(1))).first() is not None


async def insert(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(customer_erasures.insert().values(values))


async def update(conn: AsyncConnection, erasure_id: str, values: dict[str, Any]) -> None:
    await conn.execute(customer_erasures.update().where(E.id == erasure_id).values(values))


# ---------------------------------------------------------------- the person's rows


async def customer(conn: AsyncConnection, app_id: str, *, customer_id: str | None = None,
                   email: str | None = None) -> CustomerRow | None:
    """The customer, row-locked (PostgreSQL) so that two erasures of one customer run one after the other."""
    c = customers.c
    query = sa.select(c.id, c.email, c.first_name, c.last_name, c.phone, c.external_id, c.identity_subject,
                      c.metadata, c.version).where(c.app_id == app_id)
    query = query.where(c.id == customer_id) if customer_id is not None else query.where(c.email_key == (email or "").lower())
    row = (await conn.execute(for_update(conn, query))).first()
    return None if row is None else CustomerRow(*row)


async def delete_customer(conn: AsyncConnection, app_id: str, customer_id: str) -> tuple[int, int]:
    """The customer and its segments go: (customers deleted, segments deleted)."""
    s = customer_segments.c
    segments = await conn.execute(customer_segments.delete().where(s.app_id == app_id, s.customer_id == customer_id))
    gone = await conn.execute(customers.delete().where(customers.c.app_id == app_id, customers.c.id == customer_id))
    return gone.rowcount, segments.rowcount


def _carts_of(app_id: str, customer_id: str | None, emails: list[str], cart_ids: list[str]) -> sa.ColumnElement[bool]:
    mine: list[sa.ColumnElement[bool]] = [sa.func.lower(C.customer_email).in_(emails)] if emails else []
    if customer_id:
        mine.append(C.customer_id == customer_id)
    if cart_ids:
        mine.append(C.id.in_(cart_ids))
    return sa.and_(C.app_id == app_id, sa.or_(*mine) if mine else sa.false())


async def subject_carts(conn: AsyncConnection, app_id: str, customer_id: str | None, emails: list[str],
                        cart_ids: list[str]) -> list[SubjectCart]:
    rows = await conn.execute(sa.select(C.id, C.customer_email, C.shipping_address, C.billing_address, C.document, C.metadata)
                              .where(_carts_of(app_id, customer_id, emails, cart_ids)).order_by(C.id))
    return [SubjectCart(*r) for r in rows]


async def redact_carts(conn: AsyncConnection, app_id: str, cart_ids: list[str], redactor: Redactor) -> int:
    if not cart_ids:
        return 0
    return await redact_rows(conn, carts, sa.and_(C.app_id == app_id, C.id.in_(cart_ids)), {
        "customer_email": lambda _: None, "shipping_address": redactor.address, "billing_address": redactor.address,
        "document": redactor.value, "metadata": redactor.metadata})


async def redact_abandonments(conn: AsyncConnection, app_id: str, cart_ids: list[str], emails: list[str]) -> int:
    a = cart_abandonments.c
    mine = [a.cart_id.in_(cart_ids)] if cart_ids else []
    if emails:
        mine.append(sa.func.lower(a.customer_email).in_(emails))
    if not mine:
        return 0
    done = await conn.execute(cart_abandonments.update().where(a.app_id == app_id, a.customer_email.is_not(None),
                                                               sa.or_(*mine)).values(customer_email=None))
    return done.rowcount


async def redact_codes(conn: AsyncConnection, app_id: str, emails: list[str], owner: str) -> int:
    """Codes assigned to the person's email: assigned to `owner` instead (their customer id, or the
    erasure's placeholder), so that they stay theirs and no one else's."""
    if not emails:
        return 0
    p = promo_codes.c
    done = await conn.execute(promo_codes.update().where(p.app_id == app_id, sa.func.lower(p.assigned_to).in_(emails))
                              .values(assigned_to=owner))
    return done.rowcount


async def redact_redemptions(conn: AsyncConnection, app_id: str, emails: list[str], owner: str) -> int:
    """Redemptions counted against the person's email: counted against `owner` instead (limits hold)."""
    if not emails:
        return 0
    r = promo_redemptions.c
    done = await conn.execute(promo_redemptions.update()
                              .where(r.app_id == app_id, sa.func.lower(r.customer).in_(emails)).values(customer=owner))
    return done.rowcount
