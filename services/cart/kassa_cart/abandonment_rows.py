"""The abandonment sweep's statements, on PostgreSQL and on SQLite (kassa_cart.abandonment holds the rules).

PostgreSQL finds the due applications with one probe each (LATERAL), claims carts with SKIP LOCKED
and COPYs the new rows in; SQLite, one writer at a time, takes smaller batches and plain INSERTs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from kassa_platform.columns import JSON, UTCDateTime
from kassa_platform.db import Database, is_postgres
from kassa_platform.tables import outbox_events
from kassa_promotions.store.tables import campaigns, codes
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeEngine

from .tables import ABANDONABLE, cart_abandonments, carts, customers

BATCH_POSTGRES = 1000  # carts per transaction
BATCH_SQLITE = 200  # SQLite holds its one write lock for the whole batch: keep it short

c = carts.c

_QUALIFIED = "c.status IN ('open', 'checkout') AND c.abandoned_at IS NULL AND c.item_count > 0"  # ABANDONABLE, of `c`
_DUE_APPS_COLUMNS: dict[str, TypeEngine[Any] | type[TypeEngine[Any]]] = {"app_id": sa.String(), "oldest": UTCDateTime(), "threshold": sa.Integer(), "template": sa.String(),
                     "branding": JSON, "incentive": JSON}
_WITH_CONFIG = """
SELECT apps.app_id AS app_id, apps.oldest AS oldest, e.abandonment_threshold_minutes AS threshold,
       e.recovery_url_template AS template, e.branding AS branding, e.recovery_incentive AS incentive
FROM apps LEFT JOIN embed_configs e ON e.app_id = apps.app_id
WHERE apps.app_id IS NOT NULL
"""
# The applications with abandonable carts, each with the last activity of its longest-idle cart and
# its own threshold and recovery template: a loose index scan over ix_carts_abandonable, whose
# first entry per application is that application's longest-idle cart. PostgreSQL takes both in
# one probe per application (LATERAL); SQLite, which has no LATERAL, in two.
_DUE_APPS = {
    True: sa.text(f"""
WITH RECURSIVE apps(app_id, oldest) AS (
    SELECT * FROM (SELECT app_id, last_activity_at FROM carts WHERE {ABANDONABLE}
                   ORDER BY app_id, last_activity_at LIMIT 1) AS first_app
  UNION ALL
    SELECT n.app_id, n.last_activity_at FROM apps CROSS JOIN LATERAL (
        SELECT c.app_id, c.last_activity_at FROM carts c WHERE {_QUALIFIED} AND c.app_id > apps.app_id
        ORDER BY c.app_id, c.last_activity_at LIMIT 1) AS n
)""" + _WITH_CONFIG).columns(**_DUE_APPS_COLUMNS),
    False: sa.text(f"""
WITH RECURSIVE ids(app_id) AS (
    SELECT app_id FROM (SELECT app_id FROM carts WHERE {ABANDONABLE} ORDER BY app_id LIMIT 1) AS first_app
  UNION ALL
    SELECT (SELECT c.app_id FROM carts c WHERE {_QUALIFIED} AND c.app_id > ids.app_id ORDER BY c.app_id LIMIT 1)
    FROM ids WHERE ids.app_id IS NOT NULL
), apps(app_id, oldest) AS (
    SELECT ids.app_id, (SELECT c.last_activity_at FROM carts c WHERE c.app_id = ids.app_id AND {_QUALIFIED}
                        ORDER BY c.last_activity_at LIMIT 1)
    FROM ids
)""" + _WITH_CONFIG).columns(**_DUE_APPS_COLUMNS),
}

# Claim and mark in one statement: a batch of the due carts of some applications that share a
# threshold (one index range per application), locked and skipped when another sweeper holds them
# (PostgreSQL), get `abandoned_at` and the next version, and come back with what the event needs.
# No ORDER BY: the batch is whatever the index ranges give first; every due cart goes in the end.
_DUE_IDS = (
    sa.select(c.id)
    .where(c.app_id.in_(sa.bindparam("b_app_ids", expanding=True)), sa.text(ABANDONABLE),
           c.last_activity_at < sa.bindparam("b_cutoff"))
    .limit(sa.bindparam("b_limit"))
)


def _mark(postgres: bool) -> sa.Update:
    due = _DUE_IDS.with_for_update(skip_locked=True) if postgres else _DUE_IDS
    return (
        sa.update(carts)
        .where(c.id.in_(due.scalar_subquery()), sa.text(ABANDONABLE))
        .values(abandoned_at=sa.bindparam("b_now"), version=c.version + 1)
        .returning(c.id, c.app_id, c.version, c.currency, c.customer_email, c.shipping_address, c.billing_address, c.document,
                   c.subtotal, c.discount_total, c.shipping_total, c.tax_total, c.total, c.item_count, c.customer_id)
    )


_MARK = {True: _mark(True), False: _mark(False)}
_INSERT_ABANDONMENTS = cart_abandonments.insert()
_INSERT_EVENTS = outbox_events.insert()


def batch_size(db: Database) -> int:
    return BATCH_POSTGRES if is_postgres(db.engine) else BATCH_SQLITE


async def due_apps(db: Database) -> list[Any]:
    """The applications with abandonable carts: app_id, oldest (last activity of the longest-idle
    cart), threshold and template (of its embed config)."""
    async with db() as conn:
        return list((await conn.execute(_DUE_APPS[is_postgres(conn)])).all())


async def mark_batch(conn: AsyncConnection, *, app_ids: list[str], cutoff: datetime, limit: int,
                     now: datetime) -> list[Any]:
    """Claim and mark up to `limit` due carts of these applications; the rows the events need."""
    return list((await conn.execute(_MARK[is_postgres(conn)], {"b_app_ids": app_ids, "b_cutoff": cutoff,
                                                               "b_limit": limit, "b_now": now})).all())


async def insert_batch(conn: AsyncConnection, abandonments: list[dict[str, Any]],
                       events: list[dict[str, Any]]) -> None:
    """The batch's abandonment records and outbox events, in the open transaction."""
    if is_postgres(conn):
        await _copy(conn, cart_abandonments, abandonments)
        await _copy(conn, outbox_events, events)
    else:
        await conn.execute(_INSERT_ABANDONMENTS, abandonments)
        await conn.execute(_INSERT_EVENTS, events)


async def _copy(conn: AsyncConnection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: COPY the rows in, in the open transaction (several times faster than a
    thousand-row INSERT). The values are already what the columns store."""
    raw = await conn.get_raw_connection()
    columns = list(rows[0])
    await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
        table.name, records=[tuple(r[k] for k in columns) for r in rows], columns=columns)


@dataclass(frozen=True)
class CustomerRow:
    id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    locale: str | None
    marketing_consent: dict[str, Any] | None


async def customers_by_id(conn: AsyncConnection, ids: list[str]) -> dict[str, CustomerRow]:
    """The customers of a batch's carts (one query; ids are unique across applications)."""
    if not ids:
        return {}
    k = customers.c
    rows = await conn.execute(sa.select(k.id, k.email, k.first_name, k.last_name, k.locale, k.marketing_consent)
                              .where(k.id.in_(sorted(set(ids)))))
    return {r.id: CustomerRow(r.id, r.email, r.first_name, r.last_name, r.locale, r.marketing_consent) for r in rows}


async def code_campaigns(conn: AsyncConnection, ids: list[str]) -> dict[str, str]:
    """Of these campaign ids, the active code campaigns, each with its application id."""
    if not ids:
        return {}
    rows = await conn.execute(sa.select(campaigns.c.id, campaigns.c.app_id).where(
        campaigns.c.id.in_(sorted(set(ids))), campaigns.c.trigger == "code", campaigns.c.active.is_(True)))
    return {r.id: r.app_id for r in rows}


async def insert_codes(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Recovery incentive codes, in the batch's transaction (a plain INSERT: a few per batch at most
    per application, and a collision of 12 random characters is not to be expected)."""
    if rows:
        await conn.execute(codes.insert(), rows)


async def incentive_of(conn: AsyncConnection, app_id: str, cart_id: str) -> str | None:
    """The incentive code of the cart's latest abandonment."""
    a = cart_abandonments.c
    return (await conn.execute(sa.select(a.incentive_code).where(a.app_id == app_id, a.cart_id == cart_id)
                               .order_by(a.sequence.desc()).limit(1))).scalar_one_or_none()
