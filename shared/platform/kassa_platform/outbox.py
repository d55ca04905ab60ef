"""The transactional outbox: the only way an event leaves a service.

`write_event` adds the event row inside the caller's transaction, so the event exists if and
only if the change it reports was committed. The payload is the envelope of docs/contract.md in the newest
API version, encoded once here: the webhook service sends exactly these bytes to endpoints on that
version, and renders them in an older endpoint's version (`kassa_contract.versions.render_event`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from kassa_contract.events import EVENT_VERSION, EventEnvelope
from kassa_contract.versions import LATEST_VERSION
from sqlalchemy.ext.asyncio import AsyncConnection

from .ids import new_id
from .tables import outbox_events

_encoder = msgspec.json.Encoder()
_INSERT = outbox_events.insert()  # built once: compiled once


def _row(*, app_id: str, type: str, source: str, aggregate_id: str, sequence: int, data: Any,
         now: datetime) -> dict[str, Any]:
    """One outbox row: the envelope of docs/contract.md, encoded once here (the webhook service later sends
    exactly these bytes)."""
    event_id = new_id("evt")
    envelope = EventEnvelope(id=event_id, type=type, version=EVENT_VERSION, api_version=LATEST_VERSION,
                             created_at=now, data=data)  # a Struct or a dict: msgspec encodes either, once
    return {"id": event_id, "app_id": app_id, "type": type, "source": source, "aggregate_id": aggregate_id,
            "sequence": sequence, "payload": _encoder.encode(envelope), "created_at": now}


async def write_event(
    conn: AsyncConnection,
    *,
    app_id: str,
    type: str,
    source: str,
    aggregate_id: str,
    sequence: int,
    data: Any,
    now: datetime,
) -> str:
    """Add one event to the outbox in `conn`'s open transaction; return its id."""
    row = _row(app_id=app_id, type=type, source=source, aggregate_id=aggregate_id, sequence=sequence, data=data,
               now=now)
    await conn.execute(_INSERT, row)
    return str(row["id"])


_EVENT_COLUMNS = ("id", "app_id", "type", "source", "aggregate_id", "sequence", "payload", "created_at")


def insert_event_after(written: sa.CTE, count: int = 1) -> sa.Insert:
    """One statement that adds `count` events only if `written` (an INSERT/UPDATE ... RETURNING, as a
    CTE) wrote a row (PostgreSQL). The change and its events commit together without a transaction: a
    guarded write plus its events costs one round trip instead of BEGIN, write, events, COMMIT.
    Execute it with `event_params(...)` (one event) or `events_params(...)` beside the write's own
    parameters."""
    rows = [sa.select(*[sa.bindparam(f"{_prefix(i)}{name}", type_=outbox_events.c[name].type)
                        for name in _EVENT_COLUMNS]).where(sa.exists(sa.select(written.c[0])))
            for i in range(count)]
    return (outbox_events.insert()
            .from_select(list(_EVENT_COLUMNS), rows[0] if count == 1 else sa.union_all(*rows))
            .returning(outbox_events.c.id))


def insert_event_only_if(ok: sa.ColumnElement[bool] | None = None) -> sa.Insert:
    """One event (`event_params(...)`), whose id is NULL unless `ok`: the NOT NULL violation then
    fails the statement, rolling back every change of its CTEs with it (`is_refused_event`). Its
    RETURNING makes it a write that kassa_platform.direct can mark for an Idempotency-Key."""
    values: dict[str, Any] = {n: sa.bindparam(f"event_{n}", type_=outbox_events.c[n].type) for n in _EVENT_COLUMNS}
    if ok is not None:
        values["id"] = sa.case((ok, values["id"]))
    return outbox_events.insert().values(values).returning(outbox_events.c.id)


def is_refused_event(table_name: str | None, column_name: str | None) -> bool:
    """Whether a NOT NULL violation is `insert_event_only_if`'s refusal."""
    return table_name == outbox_events.name and column_name == "id"


def _prefix(index: int) -> str:
    return "event_" if index == 0 else f"event{index}_"


def event_params(*, app_id: str, type: str, source: str, aggregate_id: str, sequence: int, data: Any,
                 now: datetime) -> dict[str, Any]:
    """The parameters of an `insert_event_after` statement for one event."""
    row = _row(app_id=app_id, type=type, source=source, aggregate_id=aggregate_id, sequence=sequence, data=data,
               now=now)
    return {f"event_{name}": value for name, value in row.items()}


def events_params(events: list[Event], *, app_id: str, source: str, now: datetime) -> dict[str, Any]:
    """The parameters of an `insert_event_after(written, len(events))` statement."""
    return {f"{_prefix(i)}{name}": value for i, e in enumerate(events)
            for name, value in _row(app_id=app_id, type=e.type, source=source, aggregate_id=e.aggregate_id,
                                    sequence=e.sequence, data=e.data, now=now).items()}


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """One event for `write_events`: the arguments of `write_event` but the connection and time."""

    type: str
    aggregate_id: str
    sequence: int
    data: Any


async def write_events(conn: AsyncConnection, events: list[Event], *, app_id: str, source: str,
                       now: datetime) -> list[str]:
    """Add several events of one change in one statement (one round trip); return their ids in order."""
    rows = [_row(app_id=app_id, type=e.type, source=source, aggregate_id=e.aggregate_id, sequence=e.sequence,
                 data=e.data, now=now) for e in events]
    if rows:
        await conn.execute(_INSERT, rows)
    return [r["id"] for r in rows]


def decode_envelope(payload: bytes) -> EventEnvelope:
    return msgspec.json.decode(payload, type=EventEnvelope)
