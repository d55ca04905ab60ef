"""The transactional outbox: the only way an event leaves a service.

`write_event` adds the event row inside the caller's transaction, so the event exists if and
only if the change it reports was committed. The payload is the envelope of API.md, encoded
once here: the webhook service later sends exactly these bytes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from kassa_contract.events import EVENT_VERSION, EventEnvelope
from sqlalchemy.ext.asyncio import AsyncConnection

from .ids import new_id
from .tables import outbox_events

_encoder = msgspec.json.Encoder()
_INSERT = outbox_events.insert()  # built once: compiled once


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
    event_id = new_id("evt")
    envelope = EventEnvelope(
        id=event_id,
        type=type,
        version=EVENT_VERSION,
        created_at=now,
        data=data,  # a Struct or a dict: msgspec encodes either, once
    )
    await conn.execute(_INSERT, {
        "id": event_id, "app_id": app_id, "type": type, "source": source, "aggregate_id": aggregate_id,
        "sequence": sequence, "payload": _encoder.encode(envelope), "created_at": now,
    })
    return event_id


def decode_envelope(payload: bytes) -> EventEnvelope:
    return msgspec.json.decode(payload, type=EventEnvelope)
