"""No event is lost: a worker killed mid-delivery, Redis flushed, Redis stopped and restarted,
PostgreSQL restarted. Real receivers on 127.0.0.1 verify every request with svix and count the
events themselves; every event written must reach them at least once (receivers dedupe on
`webhook-id`, so a repeat is allowed, a gap is not)."""

from __future__ import annotations

import asyncio
import copy
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import redis.asyncio as aioredis
from arq.worker import Worker
from kassa_platform.ids import new_id
from kassa_platform.jobs import ArqQueue, JobContext, arq_worker_settings
from kassa_platform.migrate import migrate
from kassa_platform.runtime import Runtime
from kassa_platform.settings import Settings
from kassa_webhooks import jobs
from kassa_webhooks.service import RELAY_JOB, WebhookModule, module_of
from sqlalchemy.exc import DBAPIError

from kassa.services import build_runtime, components, job_registry
from tests.conftest import REDIS_PREFIX, Backend, StatementCounter, TestClock
from tests.support.worker import start_worker
from tests.webhooks.conftest import Merchant, Webhooks, attach_webhooks, make_merchant
from tests.webhooks.receiver import Receiver
from tests.webhooks.servers import PrivatePostgres, PrivateRedis

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

T = TypeVar("T")
ALLOW_PRIVATE = {"KASSA_WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "all"}


async def retrying(action: Callable[[], Awaitable[T]], attempts: int = 5) -> T:
    """Run `action` again when it meets a connection the database restart closed: the pool throws
    the stale connections away on the first such error, and the next try gets a fresh one."""
    for attempt in range(attempts):
        try:
            return await action()
        except (DBAPIError, OSError):
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


@pytest.fixture
async def private_redis() -> AsyncIterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


def arq_runtime(of: Runtime, redis_url: str) -> Runtime:
    """A runtime whose jobs go through arq on Redis, as `kassa serve webhooks` + `kassa worker` run,
    in the deployment of `of` (its database and signing key: it opens the secrets `of` sealed)."""
    runtime = build_runtime(Settings.from_env(database_url=of.settings.database_url, redis_url=redis_url,
                                              signing_key=of.settings.signing_key, webhooks_allow_private_networks="all",
                                              data_dir=Path(tempfile.mkdtemp())), clock=TestClock())
    module_of(runtime)
    return runtime


async def run_arq_worker(runtime: Runtime, redis_url: str) -> Worker:
    """An arq worker in burst mode: it runs what is queued (and what those jobs queue), then stops."""

    async def make_context() -> JobContext:
        return runtime.job_context()

    async def close_context(_: JobContext) -> None:
        return None

    # No crons: the tests run them by hand, and a minute boundary crossed mid-test must not start the
    # crons of services this runtime does not load.
    worker = Worker(**{**arq_worker_settings(job_registry(), make_context, close_context, redis_url, REDIS_PREFIX,
                                           burst=True),
                       "poll_delay": 0, "cron_jobs": []})
    await worker.main()
    await worker.close()
    return worker


# ---------------------------------------------------------------- a worker killed mid-delivery


@pytest.mark.slow
async def test_a_worker_killed_mid_delivery_loses_nothing(pg_webhooks: Webhooks, redis_url: str,
                                                          tmp_path: Path) -> None:
    merchant = await make_merchant(pg_webhooks)
    receiver = await Receiver(gate=asyncio.Event()).start()  # holds every request until the gate opens
    try:
        await merchant.endpoint(receiver, maxConcurrency=5)
        events = [await merchant.emit() for _ in range(20)]
        worker = start_worker(pg_webhooks.backend.runtime.settings, redis_url, tmp_path)
        try:
            queue = ArqQueue(redis_url, REDIS_PREFIX)
            await queue.enqueue(RELAY_JOB, job_id=new_id("test"))  # the worker relays, then delivers
            await queue.close()
            await receiver.wait_for(5, timeout=60)  # the worker has 5 requests open (its cap for the endpoint)
        finally:
            worker.kill()  # SIGKILL: no shutdown, no cleanup, mid-delivery
            worker.wait(10)
        in_flight = await merchant.deliveries(status="sending")
        assert len(in_flight) == 5, (tmp_path / "worker.log").read_text()[-2000:]
        receiver.gate.set()
        # Another worker takes over once the dead worker's lease has run out.
        pg_webhooks.backend.clock.advance(seconds=pg_webhooks.module.config.lease.total_seconds() + 1)
        await pg_webhooks.deliver()
        assert receiver.event_ids == set(events)
        assert {d.status for d in await merchant.deliveries()} == {"succeeded"}
        repeated = {r.event_id for r in receiver.received if sum(x.event_id == r.event_id for x in receiver.received) > 1}
        assert repeated == {d.event_id for d in in_flight}  # at least once: the interrupted ones came twice
    finally:
        await receiver.stop()


@pytest.mark.slow
async def test_a_killed_workers_deliveries_go_out_at_once_and_a_live_ones_stay_its_own(
        pg_webhooks: Webhooks, redis_url: str, tmp_path: Path) -> None:
    """Its liveness lock dies with it (kassa_platform.liveness): no lease has to run out. While it
    lives, its requests in flight fill the endpoint's cap and nobody else takes them."""
    from kassa_platform.clock import Clock
    from kassa_webhooks.delivery import Deliverer

    merchant = await make_merchant(pg_webhooks)
    receiver = await Receiver(gate=asyncio.Event()).start()
    other = Deliverer(pg_webhooks.backend.runtime.db, Clock(), pg_webhooks.module.config)
    try:
        await merchant.endpoint(receiver, maxConcurrency=5)
        events = [await merchant.emit() for _ in range(8)]
        worker = start_worker(pg_webhooks.backend.runtime.settings, redis_url, tmp_path)
        try:
            queue = ArqQueue(redis_url, REDIS_PREFIX)
            await queue.enqueue(RELAY_JOB, job_id=new_id("test"))
            await queue.close()
            await receiver.wait_for(5, timeout=60)
            in_flight = await merchant.deliveries(status="sending")
            assert len(in_flight) == 5 and len({d.lease_owner for d in in_flight}) == 1, \
                (tmp_path / "worker.log").read_text()[-2000:]
            assert in_flight[0].lease_owner is not None
            # Alive: the endpoint is at its cap; this process takes nothing of it. (Real time, as the
            # worker's: this session's test clock may have been moved ahead by other tests.)
            await other.run(budget_seconds=10)
            assert len(receiver.received) == 5
        finally:
            worker.kill()  # SIGKILL mid-delivery
            worker.wait(10)
        receiver.gate.set()
        # Dead: its five are due again and off the cap, with no clock moved.
        await other.run(budget_seconds=10)
        assert receiver.event_ids == set(events)
        assert {d.status for d in await merchant.deliveries()} == {"succeeded"}
    finally:
        await other.close()
        await receiver.stop()


async def test_a_live_workers_lease_is_renewed_while_its_request_runs(pg_webhooks: Webhooks) -> None:
    """A slow endpoint is not a dead worker: past the lease, the request still open keeps its claim."""
    from kassa_platform.liveness import Liveness
    from kassa_webhooks.delivery import Deliverer

    merchant = await make_merchant(pg_webhooks)
    receiver = await Receiver(gate=asyncio.Event()).start()
    runtime = pg_webhooks.backend.runtime
    live = Liveness(runtime.settings.database_url, "slow")
    await live.start()
    config = copy.copy(pg_webhooks.module.config)
    config.lease = timedelta(seconds=0.6)
    slow = Deliverer(runtime.db, pg_webhooks.backend.clock, config, liveness=live)
    try:
        await merchant.endpoint(receiver, maxConcurrency=1)
        await merchant.emit()
        await pg_webhooks.relay()
        running = asyncio.create_task(slow.run(budget_seconds=10))
        await receiver.wait_for(1)
        for _ in range(3):  # three leases long
            await asyncio.sleep(0.6)
            [delivery] = await merchant.deliveries()
            assert delivery.status == "sending" and delivery.lease_owner == live.id
            assert delivery.next_attempt_at > pg_webhooks.backend.clock.now(), "the lease ran out"
        await pg_webhooks.deliver()  # another worker: the endpoint's one slot is taken
        assert len(receiver.received) == 1
        receiver.gate.set()
        await running
        assert [d.status for d in await merchant.deliveries()] == ["succeeded"]
    finally:
        receiver.gate.set()
        await slow.close()
        await live.stop()
        await receiver.stop()


# ---------------------------------------------------------------- Redis flushed, stopped, restarted


async def test_a_flushed_redis_loses_nothing(pg_webhooks: Webhooks, private_redis: PrivateRedis,
                                             receiver: Receiver) -> None:
    merchant = await make_merchant(pg_webhooks)
    await merchant.endpoint(receiver)
    runtime = arq_runtime(pg_webhooks.backend.runtime, private_redis.url)
    try:
        module: WebhookModule = module_of(runtime)
        events = [await merchant.emit() for _ in range(10)]
        await module.hint(RELAY_JOB)  # the wake-up hint is queued in Redis ...
        client = aioredis.from_url(private_redis.url)
        await client.flushall()  # ... and Redis loses it
        await client.aclose()
        assert (await run_arq_worker(runtime, private_redis.url)).jobs_complete == 0
        assert receiver.received == []
        # The minute cron finds the work in PostgreSQL; its hints go through Redis again.
        await jobs.relay_sweep(runtime.job_context())
        worker = await run_arq_worker(runtime, private_redis.url)
        assert worker.jobs_complete >= 1 and worker.jobs_failed == 0
        assert receiver.event_ids >= set(events)
        assert {d.status for d in await merchant.deliveries()} == {"succeeded"}
    finally:
        await runtime.close()


async def test_redis_stopped_and_restarted_loses_nothing(pg_webhooks: Webhooks, private_redis: PrivateRedis,
                                                         receiver: Receiver) -> None:
    merchant = await make_merchant(pg_webhooks)
    await merchant.endpoint(receiver)
    runtime = arq_runtime(pg_webhooks.backend.runtime, private_redis.url)
    try:
        module: WebhookModule = module_of(runtime)
        private_redis.stop()
        while_down = [await merchant.emit() for _ in range(10)]
        await module.hint(RELAY_JOB)  # cannot be queued: logged, not raised
        assert (await runtime.check_ready())["redis"].startswith("error")
        ctx = runtime.job_context()
        await jobs.relay_sweep(ctx)  # PostgreSQL holds everything the sweeps need
        await jobs.deliver_sweep(ctx)
        assert receiver.event_ids == set(while_down)
        private_redis.start()  # same port: the queue reconnects
        after = [await merchant.emit() for _ in range(10)]
        for _ in range(3):  # the pool's first command after the restart may still meet the old socket
            if (await runtime.check_ready()).get("redis") == "ok":
                break
        await module.hint(RELAY_JOB)
        worker = await run_arq_worker(runtime, private_redis.url)
        assert worker.jobs_failed == 0
        assert receiver.event_ids >= set(while_down) | set(after)
        assert {d.status for d in await merchant.deliveries()} == {"succeeded"}
    finally:
        await runtime.close()


# ---------------------------------------------------------------- PostgreSQL restarted


@pytest.fixture
async def private_pg_webhooks() -> AsyncIterator[tuple[Webhooks, PrivatePostgres]]:
    server = PrivatePostgres()
    server.start()
    try:
        await migrate(server.url, components())
        clock = TestClock()
        runtime = build_runtime(Settings.from_env(database_url=server.url, redis_url=None, webhooks_allow_private_networks="all",
                                                  data_dir=Path(tempfile.mkdtemp())), clock=clock)
        backend = Backend("private-pg", runtime, httpx.AsyncClient(), clock, StatementCounter())
        wh = attach_webhooks(backend)
        try:
            yield wh, server
        finally:
            await wh.client.aclose()
            await runtime.close()
    finally:
        server.destroy()


async def test_a_postgres_restart_loses_nothing(private_pg_webhooks: tuple[Webhooks, PrivatePostgres]) -> None:
    wh, server = private_pg_webhooks
    merchant: Merchant = await make_merchant(wh)
    receiver = await Receiver(gate=asyncio.Event()).start()
    try:
        await merchant.endpoint(receiver, maxConcurrency=5)
        before = [await merchant.emit() for _ in range(20)]
        await wh.relay()
        delivering = asyncio.create_task(wh.deliver())
        await receiver.wait_for(5)  # five requests open when the database goes away
        await asyncio.to_thread(server.restart)
        receiver.gate.set()
        with pytest.raises((DBAPIError, OSError)):
            await delivering  # recording the results meets the closed connections: the job fails
        after = [await retrying(lambda: merchant.emit()) for _ in range(5)]
        wh.backend.clock.advance(seconds=wh.module.config.lease.total_seconds() + 1)

        async def sweep() -> Any:
            await wh.relay()
            return await wh.deliver()

        await retrying(sweep)
        assert receiver.event_ids == set(before) | set(after)
        assert {d.status for d in await merchant.deliveries()} == {"succeeded"}
    finally:
        await receiver.stop()
