"""Erasure's statements in the webhook service's database: stored event bodies, deliveries, attempts.

SQLAlchemy Core on both databases (an erasure is rare); rewrites go through
`kassa_platform.redaction_rows.redact_rows`, which writes only the rows that change.
"""

from __future__ import annotations

import sqlalchemy as sa
from kassa_platform.redaction import Redactor
from kassa_platform.redaction_rows import mentions, redact_rows
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import webhook_attempts, webhook_deliveries, webhook_events

V = webhook_events.c
D = webhook_deliveries.c
A = webhook_attempts.c


async def subject_events(conn: AsyncConnection, app_id: str, aggregate_ids: list[str],
                         emails: list[str]) -> tuple[list[str], list[str]]:
    """The events about the person: (those of their rows — customer, carts, sessions, orders, … —, those
    of other rows that name their email)."""
    mine = V.aggregate_id.in_(aggregate_ids) if aggregate_ids else sa.false()
    own = [r.id for r in await conn.execute(sa.select(V.id).where(V.app_id == app_id, mine))]
    others = [r.id for r in await conn.execute(sa.select(V.id).where(
        V.app_id == app_id, sa.not_(mine), mentions(conn, V.payload, emails)))]
    return own, others


async def redact_events(conn: AsyncConnection, app_id: str, ids: list[str], redactor: Redactor,
                        changed_ids: list[str]) -> int:
    if not ids:
        return 0
    return await redact_rows(conn, webhook_events, sa.and_(V.app_id == app_id, V.id.in_(ids)),
                             {"payload": redactor.body}, changed_ids=changed_ids)


async def queued_deliveries(conn: AsyncConnection, app_id: str, event_ids: list[str]) -> int:
    """Deliveries of these events not sent yet (pending, or claimed and not answered): they send the
    stored body as it is when they go out, now redacted."""
    if not event_ids:
        return 0
    found = await conn.execute(sa.select(sa.func.count()).select_from(webhook_deliveries).where(
        D.app_id == app_id, D.event_id.in_(event_ids), D.status.in_(("pending", "sending"))))
    return int(found.scalar_one())


async def redact_attempts(conn: AsyncConnection, app_id: str, event_ids: list[str], redactor: Redactor) -> int:
    """What receivers answered (an excerpt) and delivery errors, where they echo the person's data."""
    if not event_ids:
        return 0
    deliveries = sa.select(D.id).where(D.app_id == app_id, D.event_id.in_(event_ids))
    count = await redact_rows(conn, webhook_attempts, sa.and_(A.app_id == app_id, A.delivery_id.in_(deliveries)),
                              {"response_excerpt": redactor.text, "error": redactor.text})
    await redact_rows(conn, webhook_deliveries, sa.and_(D.app_id == app_id, D.event_id.in_(event_ids)),
                      {"last_error": redactor.text})
    return count
