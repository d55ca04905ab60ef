"""Inserts shared by the relay and the test delivery: an event stored once, a delivery per endpoint.

Both tolerate repeats (a relay that died after its inserts but before its commit is not a
problem, but one that runs twice over the same event is): the event's id and the
(endpoint, event) pair are unique, and a repeat changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kassa_platform.ids import new_id
from kassa_platform.rows import ignoring_duplicates
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import webhook_deliveries, webhook_events


async def store_events(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(ignoring_duplicates(conn, webhook_events), rows)


def delivery_row(*, app_id: str, endpoint_id: str, event_id: str, event_type: str, aggregate_id: str, sequence: int,
                 now: datetime) -> dict[str, Any]:
    return {"id": new_id("whd"), "app_id": app_id, "endpoint_id": endpoint_id, "event_id": event_id,
            "event_type": event_type, "aggregate_id": aggregate_id, "sequence": sequence, "status": "pending",
            "next_attempt_at": now, "attempt_count": 0, "schedule_step": 0, "last_status_code": None,
            "last_error": None, "created_at": now, "updated_at": now, "succeeded_at": None}


async def store_deliveries(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(ignoring_duplicates(conn, webhook_deliveries), rows)
