"""The jobs around relay and delivery: the outbox wake-up, coalesced runs, the sweeps."""

from __future__ import annotations

import asyncio
import contextlib
import time

import sqlalchemy as sa
from kassa_platform.tables import outbox_events
from kassa_webhooks import jobs
from kassa_webhooks.service import DELIVER_JOB, RELAY_JOB
from kassa_webhooks.tables import webhook_endpoints, webhook_events
from kassa_webhooks.waker import OutboxWaker

from tests.webhooks.conftest import Merchant, Webhooks
from tests.webhooks.receiver import Receiver


async def _wait_for_hint(wh: Webhooks, job: str, timeout: float = 10) -> None:
    """Wait (on real I/O: a NOTIFY or the poll) until `job` has been hinted."""
    async def hinted() -> None:
        while not any(name == job for name, _, _ in wh.queue.hints):
            wh.queue.arrived.clear()
            await wh.queue.arrived.wait()

    await asyncio.wait_for(hinted(), timeout)


async def test_an_outbox_commit_wakes_the_relay(webhooks: Webhooks, merchant: Merchant) -> None:
    await webhooks.relay()
    waker = OutboxWaker(webhooks.module, webhooks.backend.runtime.settings.database_url)
    waker.start()
    try:
        if webhooks.backend.is_postgres:
            await _wait_for_hint(webhooks, RELAY_JOB)  # on start: whatever was written while nobody listened
            await asyncio.sleep(0)  # let the listener settle on its wait before the next commit
        webhooks.queue.hints.clear()
        await merchant.emit()  # PostgreSQL: NOTIFY at commit; SQLite: the pending index is polled
        await _wait_for_hint(webhooks, RELAY_JOB)
    finally:
        await waker.stop()


async def test_commits_within_the_gathering_window_make_one_relay_pass(webhooks: Webhooks, merchant: Merchant) -> None:
    """The first commit opens the window; the pass is queued when it closes, for all its commits."""
    await webhooks.relay()
    window = 0.5
    waker = OutboxWaker(webhooks.module, webhooks.backend.runtime.settings.database_url, gather_seconds=window)
    waker.start()
    try:
        if webhooks.backend.is_postgres:
            await _wait_for_hint(webhooks, RELAY_JOB)  # on start: whatever was written while nobody listened
            await asyncio.sleep(0)
        webhooks.queue.hints.clear()
        started = time.monotonic()
        for _ in range(5):
            await merchant.emit()
        await _wait_for_hint(webhooks, RELAY_JOB)
        waited = time.monotonic() - started
        assert waited < window + 1.0  # bounded by the window (plus a busy machine's slack)
        if webhooks.backend.is_postgres:  # (SQLite looks once per window: the burst may straddle two looks)
            assert waited >= window
            assert [name for name, _, _ in webhooks.queue.hints] == [RELAY_JOB]  # one pass for the five
    finally:
        await waker.stop()
    assert await webhooks.relay() >= 5


async def test_a_burst_of_commits_closes_the_window_early(pg_webhooks: Webhooks) -> None:
    """A window of a minute: only `gather_commits` commits can close it within the test. Commits go on
    until the hint comes (those made before the listener is up are not heard), one at a time."""
    from tests.webhooks.conftest import make_merchant

    merchant = await make_merchant(pg_webhooks)
    await pg_webhooks.relay()
    waker = OutboxWaker(pg_webhooks.module, pg_webhooks.backend.runtime.settings.database_url, gather_seconds=60.0,
                        gather_commits=3)
    pg_webhooks.queue.hints.clear()
    waker.start()
    try:
        for _ in range(50):
            await merchant.emit()
            with contextlib.suppress(TimeoutError):
                await _wait_for_hint(pg_webhooks, RELAY_JOB, timeout=0.2)
            if pg_webhooks.queue.hints:
                break
        assert [name for name, _, _ in pg_webhooks.queue.hints] == [RELAY_JOB]
    finally:
        await waker.stop()


async def test_a_relay_that_made_deliveries_hints_the_delivery_job(webhooks: Webhooks, merchant: Merchant,
                                                                   receiver: Receiver) -> None:
    await merchant.endpoint(receiver)
    await webhooks.relay()
    webhooks.queue.hints.clear()
    await merchant.emit()
    await webhooks.relay()
    assert [name for name, _, _ in webhooks.queue.hints] == [DELIVER_JOB]


async def test_a_hint_during_a_run_folds_into_it(webhooks: Webhooks, merchant: Merchant, receiver: Receiver) -> None:
    receiver.gate = asyncio.Event()
    await merchant.endpoint(receiver)
    first = await merchant.emit()
    await webhooks.relay()
    running = asyncio.create_task(webhooks.deliver())
    await receiver.wait_for(1)
    second = await merchant.emit()
    await webhooks.relay()
    assert await webhooks.deliver() is None  # the running loop takes it: no second loop beside it
    receiver.gate.set()
    assert await running >= 2  # (other tests' retries that have come due may ride along)
    assert receiver.event_ids == {first, second}


async def test_the_hourly_sweep_disables_an_endpoint_that_gets_no_more_events(webhooks: Webhooks, merchant: Merchant,
                                                                              receiver: Receiver) -> None:
    receiver.respond = lambda _: (500, {}, b"down")
    endpoint = await merchant.endpoint(receiver)
    await merchant.emit()
    await webhooks.run()
    await jobs.disable_failing(webhooks.ctx)  # (other tests' endpoints may be disabled: the clock is shared)
    async with merchant.backend.runtime.db() as conn:
        still = (await conn.execute(sa.select(webhook_endpoints.c.disabled)
                                    .where(webhook_endpoints.c.id == endpoint["id"]))).scalar_one()
    assert still is False  # failing, but not yet for 5 days
    merchant.backend.clock.advance(days=5, seconds=1)
    assert await jobs.disable_failing(webhooks.ctx) >= 1
    async with merchant.backend.runtime.db() as conn:
        row = (await conn.execute(sa.select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint["id"]))).one()
        notice = (await conn.execute(sa.select(outbox_events.c.type).where(outbox_events.c.aggregate_id == row.id)
                                     )).scalars().all()
    assert row.disabled and notice == ["webhook_endpoint.disabled"]


async def test_relayed_outbox_rows_are_purged_after_a_day(webhooks: Webhooks, merchant: Merchant) -> None:
    event_id = await merchant.emit()
    await webhooks.relay()
    await jobs.purge_outbox(webhooks.ctx)

    async def outbox_has_it() -> bool:
        async with merchant.backend.runtime.db() as conn:
            found = await conn.execute(sa.select(outbox_events.c.id).where(outbox_events.c.id == event_id))
            return found.first() is not None

    assert await outbox_has_it()
    merchant.backend.clock.advance(hours=25)
    assert await jobs.purge_outbox(webhooks.ctx) >= 1
    assert not await outbox_has_it()
    async with merchant.backend.runtime.db() as conn:  # the event itself stays on record
        assert (await conn.execute(sa.select(webhook_events.c.id).where(webhook_events.c.id == event_id))).first()
