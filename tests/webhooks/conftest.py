"""Fixtures for the webhook tests: the webhook app beside the cart app on each backend, jobs run
by the test itself (deterministic: hints are only recorded), and real receivers on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from kassa_cart.app import PATH_PREFIXES as CART_PREFIXES
from kassa_cart.app import create_app as create_cart_app
from kassa_platform.db import transaction
from kassa_platform.ids import new_id
from kassa_platform.jobs import JobContext
from kassa_platform.outbox import write_event
from kassa_webhooks import jobs
from kassa_webhooks.app import PATH_PREFIXES, create_app
from kassa_webhooks.service import KEY, WebhookModule, build_module
from kassa_webhooks.tables import webhook_deliveries

from kassa.gateway import PathRouter
from tests.conftest import Backend, Tenant, make_tenant
from tests.webhooks.receiver import Receiver


@dataclass
class RecordingQueue:
    """Hints are recorded, not run: each test runs the jobs when it means to."""

    hints: list[tuple[str, str | None, timedelta | None]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def enqueue(self, name: str, *args: Any, job_id: str | None = None, defer: timedelta | None = None) -> None:
        self.hints.append((name, job_id, defer))
        self.arrived.set()


@dataclass
class Webhooks:
    backend: Backend
    client: httpx.AsyncClient
    module: WebhookModule
    queue: RecordingQueue

    @property
    def ctx(self) -> JobContext:
        return JobContext(settings=self.backend.runtime.settings, db=self.backend.runtime.db,
                          clock=self.backend.clock, queue=self.queue, services=self.backend.runtime.services)

    async def relay(self) -> int | None:
        return await jobs.relay_outbox(self.ctx)

    async def deliver(self) -> int | None:
        return await jobs.deliver_webhooks(self.ctx)

    async def run(self) -> None:
        """Relay, then deliver everything that is due now."""
        await self.relay()
        await self.deliver()


_apps: dict[str, Webhooks] = {}


def attach_webhooks(backend: Backend) -> Webhooks:
    """The webhook app beside the cart app on a backend's runtime, with hints only recorded."""
    runtime = backend.runtime
    if runtime.runner is not None:
        # The runtime's minute ticker would run the webhook sweeps in the background at any moment;
        # these tests run every job themselves, when they mean to.
        for name in [n for n in runtime.runner.registry.crons if n.startswith("webhooks_")]:
            del runtime.runner.registry.crons[name]
    queue = RecordingQueue()
    module = runtime.services[KEY] = build_module(runtime.db, backend.clock, runtime.settings, queue)
    cart = create_cart_app(runtime, owns_runtime=False)
    router = PathRouter([(CART_PREFIXES, cart), (PATH_PREFIXES, create_app(runtime, owns_runtime=False))],
                        default=cart)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=router), base_url="http://kassa.test")
    return Webhooks(backend, client, module, queue)


def webhooks_on(backend: Backend) -> Webhooks:
    """The webhook app on a backend's runtime, built once per session and backend."""
    found = _apps.get(backend.name)
    if found is None:
        found = _apps[backend.name] = attach_webhooks(backend)
    return found


@pytest.fixture
def webhooks(backend: Backend) -> Webhooks:
    return webhooks_on(backend)


@pytest.fixture
def pg_webhooks(pg_backend: Backend) -> Webhooks:
    return webhooks_on(pg_backend)


class Merchant(Tenant):
    """A tenant whose requests reach the cart and webhook apps (one path router, like the gateway)."""

    wh: Webhooks

    async def request(self, method: str, path: str, *, json: Any = None, key: str | None = None,
                      headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
        return await self.wh.client.request(method, path, json=json, headers={**self.headers(key), **(headers or {})},
                                            **kw)

    async def endpoint(self, receiver: Receiver, **body: Any) -> dict[str, Any]:
        response = await self.post("/api/v1/webhook-endpoints", {"url": receiver.url, "enabledEvents": ["*"], **body})
        assert response.status_code == 201, response.text
        created = response.json()
        receiver.secrets.append(created["secret"])
        return created

    async def emit(self, type_: str = "cart.updated", *, aggregate: str | None = None, sequence: int = 1,
                   data: dict[str, Any] | None = None) -> str:
        """Write one event to the outbox, as a service does in the transaction of its change."""
        async with transaction(self.backend.runtime.db) as conn:
            return await write_event(conn, app_id=self.app_id, type=type_, source="test",
                                     aggregate_id=aggregate or new_id("cart"), sequence=sequence,
                                     data=data if data is not None else {"sequence": sequence},
                                     now=self.backend.clock.now())

    async def deliveries(self, **where: Any) -> list[Any]:
        query = sa.select(webhook_deliveries).where(webhook_deliveries.c.app_id == self.app_id)
        for name, value in where.items():
            query = query.where(webhook_deliveries.c[name] == value)
        async with self.backend.runtime.db() as conn:
            return list((await conn.execute(query.order_by(webhook_deliveries.c.id))).all())


async def make_merchant(wh: Webhooks, environment: str = "test", api_version: str | None = None) -> Merchant:
    tenant = await make_tenant(wh.backend, environment, api_version)
    merchant = Merchant(tenant.backend, tenant.app_id, tenant.secret_key, tenant.publishable_key)
    merchant.wh = wh
    wh.module.config.allow_private_apps.add(merchant.app_id)  # the receivers listen on 127.0.0.1
    return merchant


@pytest.fixture
async def merchant(webhooks: Webhooks) -> Merchant:
    return await make_merchant(webhooks)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    yield r
    await r.stop()
