"""Erasure's statements: find a person's rows in a table and rewrite them with a `Redactor`.

Shared by every service's erasure rows layer, and used here for the platform's own tables (the
outbox, stored idempotent answers, the audit log). SQLAlchemy Core on both databases: an erasure is
rare and not on a hot path. Rows are read, rewritten in Python and written back only where a value
changed, so the count is of rows redacted now (a repeat counts 0).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from .audit import AUDIT_SOURCE
from .db import is_postgres
from .redaction import Redactor
from .tables import audit_events, idempotency_keys, outbox_events

Rewrite = Callable[[Any], Any]


def as_text(conn: AsyncConnection, column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
    """A stored body (bytes or JSON) as lower-cased text, to search for a person's strings in SQL."""
    if isinstance(column.type, sa.LargeBinary):
        text = (sa.func.convert_from(column, "UTF8") if is_postgres(conn)
                else sa.cast(column, sa.Text))
    else:
        text = sa.cast(column, sa.Text)
    return sa.func.lower(text)


def mentions(conn: AsyncConnection, column: sa.ColumnElement[Any], strings: Iterable[str]) -> sa.ColumnElement[bool]:
    """The stored body holds one of these strings (case-insensitive)."""
    terms = [as_text(conn, column).contains(s.lower(), autoescape=True) for s in strings if s]
    return sa.or_(*terms) if terms else sa.false()


async def redact_rows(conn: AsyncConnection, table: sa.Table, where: sa.ColumnElement[bool],
                      rewrites: dict[str, Rewrite], *, changed_ids: list[Any] | None = None) -> int:
    """Rewrite the named columns of the rows matching `where`; the number of rows that changed (their
    first key column's values appended to `changed_ids` where given)."""
    keys = list(table.primary_key.columns)
    rows = (await conn.execute(sa.select(*keys, *[table.c[name] for name in rewrites]).where(where))).all()
    changed = 0
    for row in rows:
        values = {}
        for name, rewrite in rewrites.items():
            old = getattr(row, name)
            new = rewrite(old)
            if new != old:
                values[name] = new
        if values:
            await conn.execute(table.update().where(*[k == getattr(row, k.name) for k in keys]).values(values))
            changed += 1
            if changed_ids is not None:
                changed_ids.append(getattr(row, keys[0].name))
    return changed


# ---------------------------------------------------------------- the platform's tables


async def redact_outbox(conn: AsyncConnection, app_id: str, source: str, aggregate_ids: Iterable[str],
                        redactor: Redactor) -> int:
    """A service's own events (published or not) about the person: of their rows (all their personal
    fields), or of other rows naming their email (only the person's strings)."""
    o = outbox_events.c
    ids = sorted(set(aggregate_ids))
    mine = o.aggregate_id.in_(ids) if ids else sa.false()
    scope = sa.and_(o.app_id == app_id, o.source == source)
    own = await redact_rows(conn, outbox_events, sa.and_(scope, mine), {"payload": redactor.body})
    others = await redact_rows(conn, outbox_events, sa.and_(scope, sa.not_(mine), mentions(conn, o.payload, redactor.emails)),
                               {"payload": redactor.values_only().body})
    return own + others


async def redact_answers(conn: AsyncConnection, app_id: str, ids: Iterable[str], redactor: Redactor) -> int:
    """Answers stored for Idempotency-Key replays that show the person: naming their email or their rows."""
    k = idempotency_keys.c
    where = sa.and_(k.app_id == app_id, k.response_body.is_not(None),
                    mentions(conn, k.response_body, [*redactor.emails, *ids]))
    return await redact_rows(conn, idempotency_keys, where, {"response_body": redactor.body})


async def redact_audit(conn: AsyncConnection, app_id: str, ids: Iterable[str], redactor: Redactor) -> int:
    """Audit entries whose changes name the person's email or their rows, and their `audit.entry.created`
    events (the outbox's source `audit`, which no service's own outbox redaction covers)."""
    a, o = audit_events.c, outbox_events.c
    strings = [*redactor.emails, *ids]
    where = sa.and_(a.app_id == app_id, mentions(conn, a.changes, strings))
    entries = await redact_rows(conn, audit_events, where, {"changes": redactor.value})
    events = sa.and_(o.app_id == app_id, o.source == AUDIT_SOURCE, mentions(conn, o.payload, strings))
    await redact_rows(conn, outbox_events, events, {"payload": redactor.values_only().body})
    return entries
