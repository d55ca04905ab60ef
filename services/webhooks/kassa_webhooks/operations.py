"""What a merchant does with the record: list events, deliveries and attempts, resend one
delivery, recover an endpoint's failed deliveries since a time, read an endpoint's health.

Lists are newest first (what an operator looks for is the latest), by opaque cursor.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa
from kassa_contract.common import Page
from kassa_contract.errors import KassaError
from kassa_contract.webhooks import (
    DeliveryStatus,
    Event,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpointStats,
)
from kassa_platform import audit
from kassa_platform.pagination import newest_first_page
from kassa_platform.rows import for_update
from sqlalchemy.ext.asyncio import AsyncConnection

from .endpoints import load_endpoint
from .tables import webhook_attempts, webhook_deliveries, webhook_events

d = webhook_deliveries
a = webhook_attempts
ev = webhook_events


@dataclass(frozen=True)
class DeliveryFilter:
    status: DeliveryStatus | None = None
    event_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def event_view(row: Any) -> Event:
    return msgspec.json.decode(row.payload, type=Event)


def delivery_view(row: Any) -> WebhookDelivery:
    return WebhookDelivery(
        id=row.id, endpoint_id=row.endpoint_id, event_id=row.event_id, event_type=row.event_type, status=row.status,
        attempt_count=row.attempt_count, next_attempt_at=row.next_attempt_at, last_status_code=row.last_status_code,
        last_error=row.last_error, created_at=row.created_at, updated_at=row.updated_at,
        succeeded_at=row.succeeded_at,
    )


def attempt_view(row: Any) -> WebhookAttempt:
    return WebhookAttempt(
        id=row.id, delivery_id=row.delivery_id, endpoint_id=row.endpoint_id, attempt=row.attempt,
        started_at=row.started_at, succeeded=row.succeeded, status_code=row.status_code, latency_ms=row.latency_ms,
        response_excerpt=row.response_excerpt, error=row.error,
    )


def _events_between(app_id: str, since: datetime | None, until: datetime | None) -> sa.Select:
    """Ids of the application's events that happened in [since, until): time filters are about the
    event, not about when its delivery row was made."""
    query = sa.select(ev.c.id).where(ev.c.app_id == app_id)
    if since is not None:
        query = query.where(ev.c.created_at >= since)
    if until is not None:
        query = query.where(ev.c.created_at < until)
    return query


class Operations:
    # ---------------------------------------------------------------- events

    async def list_events(self, conn: AsyncConnection, app_id: str, limit: int, cursor: str | None,
                          event_type: str | None = None) -> Page[Event]:
        query = sa.select(ev.c.id, ev.c.payload).where(ev.c.app_id == app_id)
        if event_type:
            query = query.where(ev.c.type == event_type)
        return await newest_first_page(conn, query, ev.c.id, limit, cursor, event_view)

    async def get_event(self, conn: AsyncConnection, app_id: str, event_id: str) -> Event:
        row = (await conn.execute(sa.select(ev.c.id, ev.c.payload)
                                  .where(ev.c.id == event_id, ev.c.app_id == app_id))).first()
        if row is None:
            raise KassaError("event_not_found", f"No event {event_id}")
        return event_view(row)

    # ---------------------------------------------------------------- deliveries

    async def list_deliveries(self, conn: AsyncConnection, app_id: str, limit: int, cursor: str | None,
                              where: DeliveryFilter, *, endpoint_id: str | None = None,
                              event_id: str | None = None) -> Page[WebhookDelivery]:
        if endpoint_id is not None:
            await load_endpoint(conn, app_id, endpoint_id)
        if event_id is not None:
            await self.get_event(conn, app_id, event_id)
        query = sa.select(d).where(d.c.app_id == app_id)
        if endpoint_id is not None:
            query = query.where(d.c.endpoint_id == endpoint_id)
        if event_id is not None:
            query = query.where(d.c.event_id == event_id)
        if where.status:
            query = query.where(d.c.status == where.status)
        if where.event_type:
            query = query.where(d.c.event_type == where.event_type)
        if where.since or where.until:
            query = query.where(d.c.event_id.in_(_events_between(app_id, where.since, where.until)))
        return await newest_first_page(conn, query, d.c.id, limit, cursor, delivery_view)

    async def _delivery_row(self, conn: AsyncConnection, app_id: str, delivery_id: str, *, lock: bool = False) -> Any:
        query = sa.select(d).where(d.c.id == delivery_id, d.c.app_id == app_id)
        if lock:
            query = for_update(conn, query)
        row = (await conn.execute(query)).first()
        if row is None:
            raise KassaError("webhook_delivery_not_found", f"No webhook delivery {delivery_id}")
        return row

    async def get_delivery(self, conn: AsyncConnection, app_id: str, delivery_id: str) -> WebhookDelivery:
        return delivery_view(await self._delivery_row(conn, app_id, delivery_id))

    async def list_attempts(self, conn: AsyncConnection, app_id: str, delivery_id: str, limit: int,
                            cursor: str | None) -> Page[WebhookAttempt]:
        await self._delivery_row(conn, app_id, delivery_id)
        query = sa.select(a).where(a.c.delivery_id == delivery_id, a.c.app_id == app_id)
        return await newest_first_page(conn, query, a.c.id, limit, cursor, attempt_view)

    async def resend(self, conn: AsyncConnection, app_id: str, delivery_id: str, now: datetime) -> WebhookDelivery:
        """Send one delivery again now, with a fresh retry schedule (whatever its status)."""
        row = await self._delivery_row(conn, app_id, delivery_id, lock=True)
        endpoint = await load_endpoint(conn, app_id, row.endpoint_id)
        if endpoint.disabled:
            raise KassaError("webhook_endpoint_disabled", f"Webhook endpoint {endpoint.id} is disabled: enable it "
                             "first")
        if row.status != "sending":  # one in flight records its own outcome; it is not sent twice at once
            await conn.execute(sa.update(d).where(d.c.id == delivery_id).values(
                status="pending", next_attempt_at=now, schedule_step=0, updated_at=now))
        after = delivery_view(await self._delivery_row(conn, app_id, delivery_id))
        await audit.record(conn, "webhook_delivery.resent", delivery_id, app_id=app_id, now=now,
                           before={"status": row.status, "endpointId": row.endpoint_id},
                           after={"status": after.status, "endpointId": row.endpoint_id, "resent": True})
        return after

    async def recover(self, conn: AsyncConnection, app_id: str, endpoint_id: str, since: datetime,
                      until: datetime | None, now: datetime) -> int:
        """Every failed delivery of the endpoint whose event happened in [since, until) goes out again."""
        endpoint = await load_endpoint(conn, app_id, endpoint_id, lock=True)
        if endpoint.disabled:
            raise KassaError("webhook_endpoint_disabled", f"Webhook endpoint {endpoint_id} is disabled: enable it "
                             "first")
        if until is not None and until <= since:
            raise KassaError("validation_error", "`until` must be after `since`", field="until")
        query = sa.update(d).where(d.c.endpoint_id == endpoint_id, d.c.status == "failed",
                                   d.c.event_id.in_(_events_between(app_id, since, until)))
        result = await conn.execute(query.values(status="pending", next_attempt_at=now, schedule_step=0,
                                                 updated_at=now))
        await audit.record(conn, "webhook_endpoint.deliveries_recovered", endpoint_id, app_id=app_id, now=now,
                           after={"since": since, "until": until, "recovered": result.rowcount})
        return result.rowcount

    # ---------------------------------------------------------------- stats

    async def stats(self, conn: AsyncConnection, app_id: str, endpoint_id: str, window_hours: int,
                    now: datetime) -> WebhookEndpointStats:
        endpoint = await load_endpoint(conn, app_id, endpoint_id)
        since = now - timedelta(hours=window_hours)
        counts = (await conn.execute(
            sa.select(sa.func.count(), sa.func.count().filter(a.c.succeeded.is_(True)))
            .where(a.c.endpoint_id == endpoint_id, a.c.started_at >= since))).one()
        backlog = (await conn.execute(
            sa.select(sa.func.count(), sa.func.min(d.c.created_at))
            .where(d.c.endpoint_id == endpoint_id, d.c.status.in_(("pending", "sending"))))).one()
        last_success = (await conn.execute(
            sa.select(sa.func.max(a.c.started_at)).where(a.c.endpoint_id == endpoint_id,
                                                         a.c.succeeded.is_(True)))).scalar_one()
        total, succeeded = counts
        return WebhookEndpointStats(
            endpoint_id=endpoint_id, window_hours=window_hours, attempts=total, succeeded=succeeded,
            failed=total - succeeded, success_rate=round(succeeded / total, 4) if total else None,
            backlog=backlog[0], oldest_pending_at=backlog[1], last_success_at=last_success,
            last_failure_at=endpoint.last_failure_at, last_failure_reason=endpoint.last_failure_reason,
            failing_since=endpoint.failing_since,
        )
