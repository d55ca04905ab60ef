"""The scheduling rule: how many due deliveries of each endpoint one claim takes.

One tenant's dead endpoints must not delay anyone else's deliveries: a request to an endpoint that
never answers holds a worker's slot for the whole delivery timeout, so a tenant with a backlog and
dead endpoints would otherwise fill every slot and the others would wait for the timeouts. The rule:

1. **Round robin across applications.** The claim lists due endpoints in turns: every
   application's first endpoint, then every application's second, ... (within an application the
   endpoint whose work has waited longest comes first), so a new application's work is always in
   the next claim however many endpoints another has due (delivery_rows.py, `_DUE_ENDPOINTS`).
2. **A per-endpoint cap across workers.** At most `maxConcurrency` deliveries of an endpoint are
   in flight, counted over every worker (its `sending` rows with a live lease).
3. **A per-application share of the worker.** One application holds at most
   `max_in_flight_per_app` of a worker's `max_in_flight` requests (half by default), so the
   others always find free slots in it.
4. **Failing endpoints back off.** An endpoint that has had no success for
   `failing_backoff_after` (30 s) gets one request in flight at a time, a probe, until one
   succeeds; its other deliveries keep their own retry schedule and wait their turn.

Within those limits a claim of `limit` deliveries gives each listed endpoint an equal share,
in the listed order. And a delivery run never waits on hung requests: when its time budget is
spent it hands them to the next run (delivery.Deliverer.run).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from .config import WebhookConfig


@dataclass(frozen=True)
class DueEndpoint:
    id: str
    app_id: str
    max_concurrency: int
    failing_since: datetime | None


def endpoint_cap(endpoint: DueEndpoint, config: WebhookConfig, now: datetime) -> int:
    """Requests the endpoint may have in flight across all workers (rules 2 and 4)."""
    if endpoint.failing_since is not None and endpoint.failing_since <= now - config.failing_backoff_after:
        return 1
    return endpoint.max_concurrency


def allot(endpoints: Sequence[DueEndpoint], *, in_flight: Mapping[str, int], held: Mapping[str, int], limit: int,
          config: WebhookConfig, now: datetime) -> dict[str, int]:
    """How many deliveries to claim per endpoint id (endpoints with none are left out).

    `endpoints` in the round-robin order of rule 1; `in_flight` per endpoint across all workers;
    `held` per application in this worker.
    """
    if not endpoints or limit <= 0:
        return {}
    share = -(-limit // len(endpoints))  # the first endpoints listed must not take the whole batch
    app_room = {ep.app_id: config.max_in_flight_per_app - held.get(ep.app_id, 0) for ep in endpoints}
    allotted: dict[str, int] = {}
    left = limit
    for ep in endpoints:
        room = min(endpoint_cap(ep, config, now) - in_flight.get(ep.id, 0), share, app_room[ep.app_id], left)
        if room <= 0:
            continue
        allotted[ep.id] = room
        app_room[ep.app_id] -= room
        left -= room
        if left <= 0:
            break
    return allotted
