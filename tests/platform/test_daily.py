"""Days in the viewer's time zone (kassa_platform.daily): local midnights, DST days of 23 and 25 hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from kassa_contract.errors import KassaError
from kassa_platform.daily import day_window


def test_a_window_ends_with_today_in_the_zone_and_its_days_follow_dst() -> None:
    now = datetime(2026, 11, 2, 23, 30, tzinfo=UTC)  # already 3 November in Berlin
    window = day_window(30, "Europe/Berlin", now)
    assert window.dates[-1] == date(2026, 11, 3) and window.dates[0] == date(2026, 10, 5) and len(window.dates) == 30
    assert window.until == datetime(2026, 11, 3, 23, tzinfo=UTC)  # local midnight, CET
    spans = {window.bounds[i + 1] - window.bounds[i] for i in range(30)}
    assert spans == {timedelta(hours=24), timedelta(hours=25)}  # 25 October 2026: back to CET
    assert window.since == datetime(2026, 10, 4, 22, tzinfo=UTC)  # local midnight, CEST


@pytest.mark.parametrize(("days", "zone", "field"), [(0, None, "days"), (91, None, "days"), ("x", None, "days"),
                                                     (7, "Nowhere/City", "timeZone"), (7, "../etc/passwd", "timeZone")])
def test_bad_input_names_its_parameter(days: object, zone: str | None, field: str) -> None:
    with pytest.raises(KassaError) as raised:
        day_window(days, zone, datetime.now(UTC))  # type: ignore[arg-type]
    assert raised.value.field == field and raised.value.status == 400
