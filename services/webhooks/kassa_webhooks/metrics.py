"""The webhook service's Prometheus figures.

Counted where deliveries are recorded (the worker processes): attempts by result and their
latency. Read from the database when the service's `/metrics` is scraped (they belong to the
deployment, not to a process, so every replica shows the same figures; alert on `max`): the
outbox backlog and the age of its oldest row, the open deliveries and how late the most overdue
one is, and the endpoints failing or disabled.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import sqlalchemy as sa
from kassa_platform.tables import outbox_events
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

from .tables import OPEN_DELIVERY, webhook_deliveries, webhook_endpoints

if TYPE_CHECKING:
    from kassa_platform.runtime import Runtime


DELIVERY_ATTEMPTS = Counter(
    "kassa_webhook_delivery_attempts", "Webhook delivery attempts by result: succeeded, retrying (failed, another "
    "attempt is scheduled), failed (failed for good: retries exhausted or 410 Gone)", ["result"])
ATTEMPT_DURATION = Histogram(
    "kassa_webhook_attempt_duration_seconds", "Time from sending a webhook to its answer (or the error)",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0))
_RESULT = {"succeeded": "succeeded", "pending": "retrying", "failed": "failed"}

o = outbox_events.c
d = webhook_deliveries.c
e = webhook_endpoints.c
_OUTBOX = sa.select(sa.func.count(), sa.func.min(o.created_at)).where(o.published_at.is_(None))
_OPEN = sa.select(sa.func.count(), sa.func.min(d.next_attempt_at)).where(OPEN_DELIVERY)
_ENDPOINTS = sa.select(
    sa.func.count().filter(sa.and_(e.disabled.is_(False), e.failing_since.is_not(None))),
    sa.func.count().filter(e.disabled.is_(True)),
).where(e.deleted_at.is_(None))


def count_attempts(latencies_ms: list[int], statuses: list[str]) -> None:
    """Once the results are written: each attempt (its latency) by the status its delivery took."""
    for latency_ms, status in zip(latencies_ms, statuses, strict=True):
        DELIVERY_ATTEMPTS.labels(_RESULT[status]).inc()
        ATTEMPT_DURATION.observe(latency_ms / 1000)


async def backlog_figures(runtime: Runtime) -> Iterable[Metric]:
    now = runtime.clock.now()
    async with runtime.db() as conn:
        pending, oldest = (await conn.execute(_OUTBOX)).one()
        open_deliveries, earliest_due = (await conn.execute(_OPEN)).one()
        failing, disabled = (await conn.execute(_ENDPOINTS)).one()
    endpoints = GaugeMetricFamily("kassa_webhook_endpoints", "Webhook endpoints failing (no success since their "
                                  "last failure) or disabled", labels=["state"])
    endpoints.add_metric(["failing"], failing)
    endpoints.add_metric(["disabled"], disabled)
    return [
        GaugeMetricFamily("kassa_outbox_pending_events", "Outbox rows not relayed yet", value=pending),
        GaugeMetricFamily("kassa_outbox_oldest_pending_age_seconds", "Age of the oldest outbox row not relayed yet "
                          "(0 when none)", value=max((now - oldest).total_seconds(), 0.0) if oldest else 0.0),
        GaugeMetricFamily("kassa_webhook_deliveries_open", "Deliveries pending or being sent", value=open_deliveries),
        GaugeMetricFamily("kassa_webhook_delivery_lag_seconds", "How late the most overdue open delivery is (0 when "
                          "none is due): grows when workers do not keep up or are down",
                          value=max((now - earliest_due).total_seconds(), 0.0) if earliest_due else 0.0),
        endpoints,
    ]
