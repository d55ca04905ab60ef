"""Figures per calendar day in the viewer's time zone, for the dashboards' charts.

A day is the span between two local midnights of an IANA zone (so a day of a DST change is 23 or 25
hours, as the merchant lives it). The days' UTC bounds are computed here once; a query then buckets
its rows with one CASE over those bounds, the same Core expression on PostgreSQL and SQLite (no
time zone arithmetic in either database), over a range its index answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from kassa_contract.errors import KassaError

DAYS_MIN, DAYS_MAX, DAYS_DEFAULT = 1, 90, 30


@dataclass(frozen=True)
class DayWindow:
    time_zone: str
    dates: list[date]  # oldest first
    bounds: list[datetime]  # UTC: bounds[i] is the start of dates[i]; bounds[-1] the end of the last day

    @property
    def since(self) -> datetime:
        return self.bounds[0]

    @property
    def until(self) -> datetime:
        return self.bounds[-1]

    def bucket(self, column: sa.ColumnElement[datetime]) -> sa.ColumnElement[int]:
        """The index of the day `column` falls in (for rows already within since ≤ column < until): CASEs
        nested as a binary search over the bounds, so a row costs about log2(days) comparisons (5 for
        30 days), not one per day."""
        def between(first: int, last: int) -> sa.ColumnElement[int]:  # a day in dates[first..last]
            if first == last:
                return sa.literal(first, sa.Integer())
            middle = (first + last + 1) // 2
            return sa.case((column < self.bounds[middle], between(first, middle - 1)), else_=between(middle, last))

        return between(0, len(self.dates) - 1)


def day_window(days: str | int | None, time_zone: str | None, now: datetime) -> DayWindow:
    """The last `days` days up to and including today in `time_zone` (default UTC); bad input is a 400
    naming the parameter."""
    try:
        count = DAYS_DEFAULT if days in (None, "") else int(days)
    except ValueError:
        count = 0
    if not DAYS_MIN <= count <= DAYS_MAX:
        raise KassaError("validation_error", f"days must be a whole number between {DAYS_MIN} and {DAYS_MAX}",
                         field="days", status=400)
    name = time_zone or "UTC"
    try:
        zone = ZoneInfo(name) if len(name) <= 64 and ".." not in name else None
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    if zone is None:
        raise KassaError("validation_error", "timeZone must be an IANA time zone, e.g. Europe/Berlin",
                         field="timeZone", status=400)
    today = now.astimezone(zone).date()
    dates = [today - timedelta(days=count - 1 - i) for i in range(count)]
    bounds = [datetime.combine(d, time(0), tzinfo=zone).astimezone(UTC) for d in [*dates, today + timedelta(days=1)]]
    return DayWindow(name, dates, bounds)
