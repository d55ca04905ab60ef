"""Erasure's statements in the checkout service's database: sessions, orders, payments, refunds.

SQLAlchemy Core on both databases (an erasure is rare); rewrites go through
`kassa_platform.redaction_rows.redact_rows`, which writes only the rows that change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from kassa_platform.redaction import Redactor
from kassa_platform.redaction_rows import redact_rows
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import checkout_sessions, orders, payments, refunds

O = orders.c
S = checkout_sessions.c


@dataclass(frozen=True)
class SubjectOrder:
    id: str
    session_id: str
    cart_id: str
    payment_id: str
    customer_email: str | None
    shipping_address: dict[str, Any] | None
    billing_address: dict[str, Any] | None
    document: dict[str, Any]
    metadata: dict[str, Any] | None


async def subject_orders(conn: AsyncConnection, app_id: str, cart_ids: list[str], emails: list[str]) -> list[SubjectOrder]:
    mine = [O.cart_id.in_(cart_ids)] if cart_ids else []
    if emails:
        mine.append(sa.func.lower(O.customer_email).in_(emails))
    if not mine:
        return []
    rows = await conn.execute(sa.select(O.id, O.session_id, O.cart_id, O.payment_id, O.customer_email,
                                        O.shipping_address, O.billing_address, O.document, O.metadata)
                              .where(O.app_id == app_id, sa.or_(*mine)).order_by(O.id))
    return [SubjectOrder(*r) for r in rows]


async def sessions_of(conn: AsyncConnection, app_id: str, cart_ids: list[str]) -> dict[str, dict[str, Any] | None]:
    """The carts' sessions: id -> metadata."""
    if not cart_ids:
        return {}
    rows = await conn.execute(sa.select(S.id, S.metadata).where(S.app_id == app_id, S.cart_id.in_(cart_ids)))
    return {r.id: r.metadata for r in rows}


async def payment_and_refund_ids(conn: AsyncConnection, app_id: str, session_ids: list[str],
                                 order_ids: list[str]) -> list[str]:
    found: list[str] = []
    if session_ids:
        found += [r.id for r in await conn.execute(sa.select(payments.c.id).where(
            payments.c.app_id == app_id, payments.c.session_id.in_(session_ids)))]
    if order_ids:
        found += [r.id for r in await conn.execute(sa.select(refunds.c.id).where(
            refunds.c.app_id == app_id, refunds.c.order_id.in_(order_ids)))]
    return found


async def redact_sessions(conn: AsyncConnection, app_id: str, ids: list[str], redactor: Redactor) -> int:
    if not ids:
        return 0

    def url(value: str | None) -> str | None:
        return None if redactor.mentions(value) else value  # a return URL carrying the email, say

    return await redact_rows(conn, checkout_sessions, sa.and_(S.app_id == app_id, S.id.in_(ids)), {
        "metadata": redactor.metadata, "locked_cart": redactor.value, "last_payment_error": redactor.value,
        "success_url": url, "cancel_url": url})


async def redact_orders(conn: AsyncConnection, app_id: str, ids: list[str], redactor: Redactor) -> int:
    """Contact data goes; amounts, lines, discounts, tax and the address's country and region stay."""
    if not ids:
        return 0
    return await redact_rows(conn, orders, sa.and_(O.app_id == app_id, O.id.in_(ids)), {
        "customer_email": lambda _: None, "shipping_address": redactor.address, "billing_address": redactor.address,
        "document": redactor.value, "metadata": redactor.metadata})


async def redact_refunds(conn: AsyncConnection, app_id: str, order_ids: list[str], redactor: Redactor) -> int:
    if not order_ids:
        return 0
    r = refunds.c
    return await redact_rows(conn, refunds, sa.and_(r.app_id == app_id, r.order_id.in_(order_ids)),
                             {"reason": redactor.text})
