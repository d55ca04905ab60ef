"""An injectable clock: production reads the system time, tests move a frozen one."""

from __future__ import annotations

import time
from datetime import UTC, datetime


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def timestamp(self) -> float:
        """Seconds since the epoch by this clock, read cheaply where every request reads it (rate
        limits): the system's time unless a subclass moves `now`, whose time it then follows."""
        return time.time() if type(self).now is Clock.now else self.now().timestamp()


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every datetime leaving the store is UTC-aware."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
