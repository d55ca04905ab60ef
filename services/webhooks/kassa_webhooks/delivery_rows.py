"""The delivery worker's statements, on PostgreSQL and on SQLite (kassa_webhooks.delivery holds the rules).

PostgreSQL runs several workers at once: a claim serializes on each endpoint it takes from (a
transaction-scoped advisory lock, taken in id order), ends the leases of dead workers on those
endpoints, and skips rows another claimer holds (`FOR UPDATE SKIP LOCKED`). SQLite runs one process
and one writer at a time (BEGIN IMMEDIATE): none of that is needed there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from kassa_platform.db import Database, is_postgres, transaction
from kassa_platform.liveness import owner_dead
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import OPEN_DELIVERY, webhook_attempts, webhook_deliveries, webhook_endpoints, webhook_events

d = webhook_deliveries
e = webhook_endpoints
_earlier = webhook_deliveries.alias("earlier")

_DUE = sa.and_(d.c.status.in_(("pending", "sending")), d.c.next_attempt_at <= sa.bindparam("now"))
# Endpoints with something due: one probe of the (endpoint_id, next_attempt_at) index per endpoint
# (the oldest due row), not a scan of every due row (a backlog of thousands stays as cheap as a
# backlog of one).
_oldest_due = sa.select(sa.func.min(d.c.next_attempt_at)).where(d.c.endpoint_id == e.c.id, _DUE).scalar_subquery()
_endpoints_due = (
    sa.select(e.c.id, e.c.app_id, e.c.disabled, e.c.deleted_at, e.c.max_concurrency, e.c.ordered_delivery,
              e.c.failing_since, _oldest_due.label("oldest_due"))
    .where(sa.or_(e.c.deleted_at.is_(None), e.c.deleted_at > sa.bindparam("recently")))
    .subquery("endpoints_due")
)
# Round robin across applications (fairness.py, rule 1): each application's endpoints numbered by
# how long their work has waited; every application's first endpoint is listed before any second.
_ranked = (
    sa.select(_endpoints_due, sa.func.row_number().over(partition_by=_endpoints_due.c.app_id,
                                                        order_by=(_endpoints_due.c.oldest_due, _endpoints_due.c.id))
              .label("turn"))
    .where(_endpoints_due.c.oldest_due.is_not(None))
    .subquery("ranked")
)
_DUE_ENDPOINTS = (sa.select(_ranked).order_by(_ranked.c.turn, _ranked.c.oldest_due, _ranked.c.id)
                  .limit(sa.bindparam("limit")))
_IN_FLIGHT = (
    sa.select(d.c.endpoint_id, sa.func.count())
    .where(d.c.endpoint_id.in_(sa.bindparam("endpoint_ids", expanding=True)), d.c.status == "sending",
           d.c.next_attempt_at > sa.bindparam("now"))
    .group_by(d.c.endpoint_id)
)
_NO_EARLIER_OPEN = ~sa.exists().where(
    _earlier.c.endpoint_id == d.c.endpoint_id, _earlier.c.aggregate_id == d.c.aggregate_id,
    _earlier.c.status.in_(("pending", "sending")),
    sa.tuple_(_earlier.c.sequence, _earlier.c.id) < sa.tuple_(d.c.sequence, d.c.id),
)
_CLAIM_COLUMNS = (d.c.id, d.c.app_id, d.c.endpoint_id, d.c.event_id, d.c.attempt_count, d.c.schedule_step)


def _claim_query(ordered: bool, postgres: bool) -> sa.Select[Any]:
    query = (sa.select(*_CLAIM_COLUMNS).where(d.c.endpoint_id == sa.bindparam("endpoint_id"), _DUE)
             .order_by(d.c.next_attempt_at, d.c.id).limit(sa.bindparam("limit")))
    if ordered:
        query = query.where(_NO_EARLIER_OPEN)
    return query.with_for_update(skip_locked=True, of=d) if postgres else query


_CLAIMS = {(o, p): _claim_query(o, p) for o in (False, True) for p in (False, True)}
_MARK_SENDING = (sa.update(d).where(d.c.id.in_(sa.bindparam("ids", expanding=True)))
                 .values(status="sending", next_attempt_at=sa.bindparam("lease"), updated_at=sa.bindparam("now"),
                         lease_owner=sa.bindparam("owner", type_=d.c.lease_owner.type)))
# Rows in flight whose worker is dead: their lease ends now (they are due, and off the endpoint's cap).
_OF_THE_DEAD = sa.and_(d.c.status == "sending", d.c.next_attempt_at > sa.bindparam("now"), owner_dead(d.c.lease_owner))
_RECLAIM_FOR = (sa.update(d).where(d.c.endpoint_id.in_(sa.bindparam("endpoint_ids", expanding=True)), _OF_THE_DEAD)
                .values(next_attempt_at=sa.bindparam("now")))
_RECLAIM_ALL = sa.update(d).where(_OF_THE_DEAD).values(next_attempt_at=sa.bindparam("now")).returning(d.c.id)
# A live worker's requests still open: their lease goes on (a slow endpoint is not a dead worker).
_RENEW = (sa.update(d).where(d.c.id.in_(sa.bindparam("ids", expanding=True)), d.c.status == "sending",
                             d.c.lease_owner == sa.bindparam("owner", type_=d.c.lease_owner.type))
          .values(next_attempt_at=sa.bindparam("lease")))
_FAIL_ORPHANS = (sa.update(d).where(d.c.endpoint_id.in_(sa.bindparam("endpoint_ids", expanding=True)), OPEN_DELIVERY)
                 .values(status="failed", next_attempt_at=None, last_error="endpoint disabled or deleted",
                         updated_at=sa.bindparam("now")))
_PAYLOADS = sa.select(webhook_events.c.id, webhook_events.c.payload).where(
    webhook_events.c.id.in_(sa.bindparam("ids", expanding=True)))
_URLS = sa.select(e.c.id, e.c.url, e.c.api_version).where(e.c.id.in_(sa.bindparam("ids", expanding=True)))
_RECORD = (
    sa.update(d)
    .where(d.c.id == sa.bindparam("b_id"), d.c.status == "sending")
    .values(status=sa.bindparam("b_status"), next_attempt_at=sa.bindparam("b_next"),
            attempt_count=sa.bindparam("b_attempts"), schedule_step=sa.bindparam("b_step"),
            last_status_code=sa.bindparam("b_code"), last_error=sa.bindparam("b_error"),
            updated_at=sa.bindparam("b_now"), succeeded_at=sa.bindparam("b_succeeded_at"))
)
_INSERT_ATTEMPTS = webhook_attempts.insert()


def _lock_key(endpoint_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"webhook-endpoint:{endpoint_id}".encode(), digest_size=8).digest(),
                          "big", signed=True)


async def due_endpoints(conn: AsyncConnection, *, now: datetime, limit: int,
                        recently: datetime) -> Sequence[sa.Row[Any]]:
    """Endpoints with something due, round robin across applications (fairness.py, rule 1), with those
    deleted since `recently` (their open deliveries fail)."""
    return (await conn.execute(_DUE_ENDPOINTS, {"now": now, "limit": limit, "recently": recently})).all()


async def fail_orphans(conn: AsyncConnection, endpoint_ids: list[str], now: datetime) -> None:
    """The open deliveries of these disabled or deleted endpoints fail."""
    await conn.execute(_FAIL_ORPHANS, {"endpoint_ids": endpoint_ids, "now": now})


async def take_endpoints(conn: AsyncConnection, endpoint_ids: list[str], now: datetime) -> None:
    """Serialize this claim with every other claim of these endpoints, until the transaction ends, and end
    the leases that dead workers hold on them (they are due, and off the endpoint's cap, now).
    PostgreSQL: advisory locks in id order (claimers never wait on each other in a cycle); SQLite: one
    process, one writer at a time, nothing to do."""
    if not is_postgres(conn):
        return
    for endpoint_id in sorted(endpoint_ids):
        await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_lock_key(endpoint_id))))
    await conn.execute(_RECLAIM_FOR, {"endpoint_ids": endpoint_ids, "now": now})


async def in_flight(conn: AsyncConnection, endpoint_ids: list[str], now: datetime) -> dict[str, int]:
    """Deliveries in flight (a live lease) per endpoint, across all workers."""
    return {endpoint_id: count for endpoint_id, count in
            (await conn.execute(_IN_FLIGHT, {"endpoint_ids": endpoint_ids, "now": now})).all()}


async def claim_due(conn: AsyncConnection, endpoint_id: str, *, ordered: bool, now: datetime,
                    limit: int) -> Sequence[sa.Row[Any]]:
    """Up to `limit` due deliveries of the endpoint, oldest first (`ordered`: only each aggregate's
    earliest open one), skipping rows another claimer holds."""
    return (await conn.execute(_CLAIMS[(ordered, is_postgres(conn))],
                               {"endpoint_id": endpoint_id, "now": now, "limit": limit})).all()


async def mark_sending(conn: AsyncConnection, ids: list[str], *, lease: datetime, now: datetime,
                       owner: int | None) -> None:
    await conn.execute(_MARK_SENDING, {"ids": ids, "lease": lease, "now": now, "owner": owner})


async def payloads(conn: AsyncConnection, event_ids: list[str]) -> dict[str, bytes]:
    """The stored payload of each event."""
    return {event_id: payload for event_id, payload in (await conn.execute(_PAYLOADS, {"ids": event_ids})).all()}


async def targets(conn: AsyncConnection, endpoint_ids: list[str]) -> dict[str, Any]:
    """Each endpoint's url and api_version."""
    return {ep.id: ep for ep in (await conn.execute(_URLS, {"ids": endpoint_ids})).all()}


async def renew(db: Database, ids: list[str], *, owner: int, lease: datetime) -> None:
    """The leases of these deliveries, still in flight in the worker `owner`, run until `lease`."""
    async with transaction(db) as conn:
        await conn.execute(_RENEW, {"ids": ids, "owner": owner, "lease": lease})


async def record(conn: AsyncConnection, updates: list[dict[str, Any]], attempts: list[dict[str, Any]]) -> None:
    """The deliveries' new states (`b_*` parameters of _RECORD) and their attempt rows."""
    await conn.execute(_RECORD, updates)
    await conn.execute(_INSERT_ATTEMPTS, attempts)


async def reclaim_dead(db: Database, now: datetime) -> int:
    """Every lease held by a dead process ends now; how many. SQLite: one process, nobody else's leases."""
    if not is_postgres(db.engine):
        return 0
    async with transaction(db) as conn:
        return len((await conn.execute(_RECLAIM_ALL, {"now": now})).all())
