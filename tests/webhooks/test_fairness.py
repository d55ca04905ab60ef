"""Fair scheduling: one application's dead endpoints never hold another's deliveries back.

Application A's receivers accept the connection and never answer (each request ends at the
delivery timeout); A has a backlog far larger than a worker's concurrency. Application B then
emits one event to a healthy receiver while A's requests hang: B's delivery must arrive well
within one delivery timeout, on the real HTTP path, on both databases.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pytest
from kassa_webhooks import delivery_rows, fairness, jobs
from kassa_webhooks.config import WebhookConfig
from kassa_webhooks.service import DELIVER_JOB

from tests.webhooks.conftest import Merchant, Webhooks, make_merchant
from tests.webhooks.receiver import Receiver

TIMEOUT = 5.0  # the delivery timeout for these tests: a hung request holds its slot this long
BOUND = 1.5  # B's delivery must arrive within this (0.07 s when the worker is quiet)


@asynccontextmanager
async def dead_receivers(count: int) -> AsyncIterator[list[Receiver]]:
    """Receivers that take every request and never answer (until the test lets them go)."""
    gate = asyncio.Event()
    receivers = [await Receiver(gate=gate).start() for _ in range(count)]
    try:
        yield receivers
    finally:
        gate.set()
        for r in receivers:
            await r.stop()


async def _hung_requests(receivers: list[Receiver], count: int) -> None:
    """Wait (on real I/O) until the dead receivers together hold `count` requests."""
    async def enough() -> None:
        while sum(len(r.received) for r in receivers) < count:
            waits = [asyncio.create_task(r.wait_for(len(r.ok()) + 1, timeout=TIMEOUT * 4)) for r in receivers]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for w in waits:
                w.cancel()
            await asyncio.gather(*waits, return_exceptions=True)

    await asyncio.wait_for(enough(), TIMEOUT * 4)


@pytest.fixture
def short_timeout(webhooks: Webhooks) -> AsyncIterator[WebhookConfig]:
    config = webhooks.module.config
    saved = config.request_timeout
    config.request_timeout = TIMEOUT
    yield config
    config.request_timeout = saved


async def _disable_all(m: Merchant, endpoints: list[dict]) -> None:  # type: ignore[type-arg]
    for endpoint in endpoints:  # A's backlog is failed at the next claim: later tests never meet it
        await m.patch(f"/api/v1/webhook-endpoints/{endpoint['id']}", {"disabled": True})


async def test_a_dead_tenant_does_not_delay_another(webhooks: Webhooks, short_timeout: WebhookConfig,
                                                    receiver: Receiver) -> None:
    a, b = await make_merchant(webhooks), await make_merchant(webhooks)
    async with dead_receivers(4) as dead:
        # Four endpoints at the highest cap: 400 requests could hang at once, more than a worker's slots.
        a_endpoints = [await a.endpoint(r, maxConcurrency=100) for r in dead]
        for _ in range(150):
            await a.emit()
        await webhooks.relay()
        running = asyncio.create_task(webhooks.deliver())
        try:
            # The worker is busy with A: as many of A's requests hang as it will let them.
            await _hung_requests(dead, min(short_timeout.max_in_flight_per_app, short_timeout.max_in_flight))
            await b.endpoint(receiver)
            started = time.monotonic()
            event = await b.emit()
            await webhooks.relay()
            await webhooks.deliver()  # the hint a relay gives: it folds into the running loop
            await receiver.wait_for(1, timeout=TIMEOUT * 2)
            waited = time.monotonic() - started
            assert receiver.ok()[0].event_id == event
            assert waited < BOUND, f"B waited {waited:.2f} s behind A's dead endpoints"
            assert not running.done()  # A's backlog is still being worked
        finally:
            await _disable_all(a, a_endpoints)
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)


async def test_a_spent_budget_hands_open_requests_over(webhooks: Webhooks, short_timeout: WebhookConfig,
                                                       receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run whose budget is spent returns at once, not after its hung requests time out (the
    process would take no new work meanwhile); their results are still written, once."""
    monkeypatch.setattr(jobs, "DELIVER_BUDGET_SECONDS", 0.5)
    a, b = await make_merchant(webhooks), await make_merchant(webhooks)
    async with dead_receivers(2) as dead:
        for r in dead:
            await a.endpoint(r, maxConcurrency=100)
        for _ in range(20):
            await a.emit()
        await webhooks.relay()
        started = time.monotonic()
        await webhooks.deliver()
        assert time.monotonic() - started < TIMEOUT - 1  # it did not wait for A's requests
        await _hung_requests(dead, 40)  # all sent, all still open (they may reach the receivers after the run returns)
        assert any(name == DELIVER_JOB for name, _, _ in webhooks.queue.hints)  # the follow-up is queued
        # The follow-up run takes new work at once, beside the requests it inherited.
        await b.endpoint(receiver)
        started = time.monotonic()
        event = await b.emit()
        await webhooks.relay()
        await webhooks.deliver()
        await receiver.wait_for(1, timeout=TIMEOUT * 2)
        assert time.monotonic() - started < BOUND and receiver.ok()[0].event_id == event
        for r in dead:  # the dead endpoints answer at last: each open request writes its own result
            assert r.gate is not None
            r.gate.set()
        await webhooks.module.deliverer.settle()
    deliveries = await a.deliveries()
    assert len(deliveries) == 40 and {(d.status, d.attempt_count) for d in deliveries} == {("succeeded", 1)}


async def test_claims_list_endpoints_round_robin_across_applications(webhooks: Webhooks, receiver: Receiver) -> None:
    """However many endpoints one application has due, another's first endpoint is listed before
    its second: a claim of a few deliveries still reaches every application."""
    a, b = await make_merchant(webhooks), await make_merchant(webhooks)
    a_endpoints = [(await a.endpoint(receiver))["id"] for _ in range(5)]
    b_endpoint = (await b.endpoint(receiver))["id"]
    await a.emit()
    await b.emit()
    await webhooks.relay()
    now = webhooks.backend.clock.now()
    try:
        async with webhooks.backend.runtime.db() as conn:
            listed = (await conn.execute(delivery_rows._DUE_ENDPOINTS, {"now": now, "limit": 10_000,
                                                                   "recently": now - timedelta(days=1)})).all()
        order = [row.id for row in listed]
        assert set(a_endpoints) | {b_endpoint} <= set(order)
        a_positions = sorted(order.index(endpoint_id) for endpoint_id in a_endpoints)
        assert a_positions[0] < order.index(b_endpoint) < a_positions[1] or order.index(b_endpoint) < a_positions[0]
    finally:
        await webhooks.deliver()


# ---------------------------------------------------------------- the rule itself


NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _endpoint(id_: str, app: str, cap: int = 10, failing_since: datetime | None = None) -> fairness.DueEndpoint:
    return fairness.DueEndpoint(id=id_, app_id=app, max_concurrency=cap, failing_since=failing_since)


def test_one_application_never_takes_every_slot() -> None:
    config = WebhookConfig(max_in_flight=256, max_in_flight_per_app=128)
    a = [_endpoint(f"we_a{i}", "app_a", cap=100) for i in range(4)]
    b = [_endpoint("we_b0", "app_b")]
    # A already holds 128 requests in this worker: it gets nothing more, B gets its turn.
    allotted = fairness.allot([a[0], b[0], *a[1:]], in_flight={}, held={"app_a": 128}, limit=200, config=config,
                              now=NOW)
    assert allotted == {"we_b0": 10}
    # A fresh worker: A gets at most its share, spread over its endpoints, B its endpoint's cap.
    allotted = fairness.allot([a[0], b[0], *a[1:]], in_flight={}, held={}, limit=200, config=config, now=NOW)
    assert allotted["we_b0"] == 10 and sum(v for k, v in allotted.items() if k != "we_b0") == 128


def test_the_endpoint_cap_counts_every_worker() -> None:
    config = WebhookConfig()
    allotted = fairness.allot([_endpoint("we_1", "app", cap=5)], in_flight={"we_1": 4}, held={}, limit=50,
                              config=config, now=NOW)
    assert allotted == {"we_1": 1}


def test_an_endpoint_failing_for_a_while_gets_one_request_at_a_time() -> None:
    config = WebhookConfig()
    recent = _endpoint("we_new", "app", cap=50, failing_since=NOW - timedelta(seconds=5))
    long = _endpoint("we_old", "app", cap=50, failing_since=NOW - config.failing_backoff_after)
    allotted = fairness.allot([recent, long], in_flight={}, held={}, limit=200, config=config, now=NOW)
    assert allotted == {"we_new": 50, "we_old": 1}
    assert fairness.allot([long], in_flight={"we_old": 1}, held={}, limit=200, config=config, now=NOW) == {}
