"""Every statement on `payment_settings` and `provider_events` (one SQLAlchemy Core path serves both
databases: none of them is on a hot path)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from kassa_platform import audit
from kassa_platform.db import Database, transaction

from .tables import payment_settings, provider_events

PS = payment_settings.c


class PaymentSettingsRows:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def load(self, app_id: str) -> Any:
        async with self.db() as conn:
            return (await conn.execute(sa.select(payment_settings).where(PS.app_id == app_id))).first()

    async def head(self, app_id: str) -> tuple[str | None, datetime | None]:
        """(provider, updated_at) of the application's settings; (None, None) when it has none."""
        async with self.db() as conn:
            row = (await conn.execute(sa.select(PS.provider, PS.updated_at).where(PS.app_id == app_id))).first()
        return (row.provider, row.updated_at) if row is not None else (None, None)

    async def save(self, app_id: str, values: dict[str, Any], now: datetime, view: Callable[[Any], Any]) -> Any:
        """Insert or update the application's settings; the row as stored. Audited as the change of
        `view(row)` (the settings as the API shows them: no secret in it)."""
        for _ in range(2):
            try:
                async with transaction(self.db) as conn:
                    before = (await conn.execute(sa.select(payment_settings).where(PS.app_id == app_id))).first()
                    updated = await conn.execute(sa.update(payment_settings).where(PS.app_id == app_id)
                                                 .values(**values, updated_at=now))
                    if updated.rowcount == 0:
                        await conn.execute(sa.insert(payment_settings).values(app_id=app_id, **values, created_at=now,
                                                                              updated_at=now))
                    row = (await conn.execute(sa.select(payment_settings).where(PS.app_id == app_id))).first()
                    await audit.record(conn, "payment_settings.updated", app_id, app_id=app_id, now=now,
                                       before=view(before), after=view(row))
                    return row
            except sa.exc.IntegrityError:
                continue  # a concurrent first save inserted it: update that one
        raise RuntimeError("payment settings could not be saved")

    async def first_sight(self, app_id: str, event_id: str, event_type: str, now: datetime) -> bool:
        """Record a provider's event; False when it was seen before (a redelivery)."""
        try:
            async with transaction(self.db) as conn:
                await conn.execute(sa.insert(provider_events).values(app_id=app_id, event_id=event_id,
                                                                     type=event_type, received_at=now))
            return True
        except sa.exc.IntegrityError:
            return False

    async def forget(self, app_id: str, event_id: str) -> None:
        """Un-record an event whose handling failed, so that the provider's redelivery is handled."""
        async with transaction(self.db) as conn:
            await conn.execute(sa.delete(provider_events).where(provider_events.c.app_id == app_id,
                                                                provider_events.c.event_id == event_id))
