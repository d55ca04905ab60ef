"""Shared fixtures: real PostgreSQL and Redis, and SQLite, with one database per xdist worker.

Every test makes its own application (`tenant`), and every row is scoped to an application,
so tests share one migrated database per backend and never need truncation.
PostgreSQL and Redis come from KASSA_TEST_DATABASE_URL / KASSA_TEST_REDIS_URL or the default
local ports. Without them, their tests are skipped, except under CI=true, where that fails.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from kassa_platform.auth import create_application, create_key
from kassa_platform.clock import Clock
from kassa_platform.db import Database, transaction
from kassa_platform.migrate import migrate
from kassa_platform.runtime import Runtime
from kassa_platform.settings import Settings, normalize_database_url
from sqlalchemy import event

from kassa.gateway import PathRouter
from kassa.services import SERVICES, build_runtime, components
from tests.support.localstripe import LocalStripe, LocalStripeUnavailable, start_localstripe

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_URL = normalize_database_url(
    os.environ.get("KASSA_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
REDIS_URL = os.environ.get("KASSA_TEST_REDIS_URL", "redis://127.0.0.1:6379")


def worker_id() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "gw0")


# This run's own Redis keys: every runtime, worker and subprocess of the run reads the prefix from
# the environment, so the run never touches another run's (or anyone else's) keys in Redis.
REDIS_PREFIX = f"kassa-test-{(os.environ.get('PYTEST_XDIST_TESTRUNUID') or uuid.uuid4().hex)[:8]}-{worker_id()}"
os.environ["KASSA_REDIS_PREFIX"] = REDIS_PREFIX


class TestClock(Clock):
    """Real time plus an offset that tests move forward: order stays natural, no sleeping."""

    __test__ = False  # a helper, not a test class

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self):  # type: ignore[no-untyped-def]
        return super().now() + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


class StatementCounter:
    def __init__(self) -> None:
        self.active = False
        self.statements: list[str] = []

    def attach(self, db: Database) -> None:
        def count(statement: str) -> None:
            if self.active and not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")):
                self.statements.append(statement)

        @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
        def _count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            count(statement)

        if db.direct is not None:  # the hot-path statements that bypass SQLAlchemy
            db.direct.listeners.append(count)

    def __enter__(self) -> "StatementCounter":
        self.statements = []
        self.active = True
        return self

    def __exit__(self, *exc: object) -> None:
        self.active = False


# ---------------------------------------------------------------- service availability


def _pg_admin_dsn() -> str:
    return PG_URL.replace("postgresql+asyncpg://", "postgresql://")


def _unavailable(what: str, exc: BaseException) -> None:
    message = f"{what} is not reachable ({type(exc).__name__}: {exc})"
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires it", pytrace=False)
    pytest.skip(message)


@contextlib.asynccontextmanager
async def fresh_database(name: str) -> AsyncIterator[str]:
    """An empty PostgreSQL database `name` (replacing one left over by an earlier run), dropped on the
    way out; yields its URL. Skips the test when PostgreSQL is not reachable (fails under CI=true)."""
    try:
        admin = await asyncpg.connect(_pg_admin_dsn(), timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        _unavailable("PostgreSQL", exc)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield sa.engine.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        admin = await asyncpg.connect(_pg_admin_dsn(), timeout=5)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture(scope="session")
async def pg_url(testrun_uid: str) -> AsyncIterator[str]:
    """A fresh database for this xdist worker of this run, migrated, dropped at the end
    (the run id keeps two test runs on one machine out of each other's way)."""
    async with fresh_database(f"kassa_test_{testrun_uid[:8]}_{worker_id()}") as url:
        await migrate(url, components())
        yield url


@pytest.fixture(scope="session")
async def sqlite_url() -> AsyncIterator[str]:
    directory = tempfile.mkdtemp(prefix=f"kassa-test-{worker_id()}-")
    url = f"sqlite+aiosqlite:///{Path(directory) / 'kassa.db'}"
    await migrate(url, components())
    yield url


@pytest.fixture(scope="session")
async def redis_url() -> AsyncIterator[str]:
    """The test Redis, shared with whatever else uses it: the run writes only keys under
    REDIS_PREFIX (and arq's per-job keys, which expire), and deletes its prefix's keys at the end."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (OSError, aioredis.RedisError) as exc:
        await client.aclose()
        _unavailable("Redis", exc)
    try:
        yield REDIS_URL
    finally:
        async for key in client.scan_iter(match=f"{REDIS_PREFIX}:*", count=1000):
            await client.delete(key)
        await client.aclose()


@pytest.fixture(scope="session")
def localstripe() -> Iterator[LocalStripe]:
    """localstripe (Stripe's API and Stripe.js, faked and stateful) for this xdist worker, on a free
    port of 127.0.0.1 (tests/support/localstripe.py). Skips without it, fails under CI=true."""
    try:
        server = start_localstripe()
    except LocalStripeUnavailable as exc:
        _unavailable("localstripe", exc)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
async def stripe_kassa(localstripe: Any, testrun_uid: str) -> Any:
    """Kassa over real HTTP (so that localstripe's webhooks reach it) with Stripe's API and Stripe.js
    pointed at this worker's localstripe."""
    from tests.support.served import serve_kassa  # it imports this module

    # Races of fifty completions at once: above the default 25 completes a second per application.
    async with serve_kassa(f"kassa_stripe_{testrun_uid[:8]}_{worker_id()}", stripe_api_base=localstripe.url,
                           stripe_js_url=localstripe.js_url, rate_limits={"completes": "1000"}) as web:
        yield web


# ---------------------------------------------------------------- `kassa` processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_ready(proc: subprocess.Popen, base: str, output: Callable[[], str], *, name: str = "server",
                     timeout: float = 60) -> None:
    """Wait until a `kassa` server process answers 200 on `base`/readyz; fail with its `output` if it
    exits first or is not ready within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{name} exited ({proc.returncode}):\n{output()}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        time.sleep(0.05)  # waiting for another process to bind its port: nothing to move instead
    raise AssertionError(f"{name} did not become ready:\n{output()}")


# ---------------------------------------------------------------- a running cart service per backend


@dataclass
class Backend:
    name: str
    runtime: Runtime
    client: httpx.AsyncClient
    clock: TestClock
    counter: StatementCounter

    @property
    def is_postgres(self) -> bool:
        return self.name == "postgres"


async def _backend(name: str, url: str, clock: TestClock | None = None, **settings: Any) -> AsyncIterator[Backend]:
    clock = clock or TestClock()
    # Small pools: every test process of every run on the machine shares PostgreSQL's 100 connections.
    runtime = build_runtime(Settings.from_env(**{"database_url": url, "redis_url": None, "api_key_cache_seconds": 30,
                                                 "db_pool_size": 8, "data_dir": Path(tempfile.mkdtemp()),
                                                 "shopper_auth_allow_private_networks": True,  # JWKS on loopback
                                                 **settings}), clock=clock)
    counter = StatementCounter()
    counter.attach(runtime.db)
    # The cart, checkout and team services behind the embedded path router, as `kassa serve` runs them.
    apps = [(SERVICES[n].path_prefixes, SERVICES[n].create_app(runtime, owns_runtime=False))
            for n in ("cart", "checkout", "team")]
    app = PathRouter(apps, default=apps[0][1])
    # ASGITransport runs the app on this event loop (Litestar's AsyncTestClient uses a thread of its
    # own, which would tie pooled connections to another loop). The runtime is not started: its
    # minute ticker would run cron jobs at random moments; tests run the jobs they need explicitly.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kassa.test") as client:
        yield Backend(name, runtime, client, clock, counter)
    await runtime.close()


@pytest.fixture(scope="session")
async def sqlite_backend(sqlite_url: str) -> AsyncIterator[Backend]:
    async for b in _backend("sqlite", sqlite_url):
        yield b


@pytest.fixture(scope="session")
async def pg_backend(pg_url: str) -> AsyncIterator[Backend]:
    async for b in _backend("postgres", pg_url):
        yield b


@pytest.fixture(params=["sqlite", "pg"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Behaviour tests run on both databases."""
    return request.getfixturevalue(f"{request.param}_backend")


# ---------------------------------------------------------------- tenants: an application with keys


@dataclass
class Tenant:
    backend: Backend
    app_id: str
    secret_key: str
    publishable_key: str
    keys: dict[str, str] = field(default_factory=dict)

    def headers(self, key: str | None = None, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.secret_key}", **extra}

    async def request(self, method: str, path: str, *, json: Any = None, key: str | None = None,
                      headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
        return await self.backend.client.request(method, path, json=json, headers={**self.headers(key), **(headers or {})},
                                                 **kw)

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return await self.request("POST", path, json=json, **kw)

    async def patch(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return await self.request("PATCH", path, json=json, **kw)

    async def put(self, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return await self.request("PUT", path, json=json, **kw)

    async def delete(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kw)

    async def scoped_key(self, scopes: list[str]) -> str:
        async with transaction(self.backend.runtime.db) as conn:
            return await create_key(conn, self.app_id, kind="secret", scopes=scopes, now=self.backend.clock.now())

    # -- fixtures of the catalog and configuration, through the public API

    async def product(self, prices: dict[str, int] | None = None, *, tax_class: str = "standard",
                      categories: list[str] | None = None, variants: int = 1) -> dict[str, Any]:
        sku = uuid.uuid4().hex[:10]
        body = {"name": f"Product {sku}", "taxClass": tax_class, "categories": categories or ["general"],
                "variants": [{"sku": f"{sku}-{i}", "prices": prices or {"EUR": 1000}} for i in range(variants)]}
        response = await self.post("/api/v1/products", body)
        assert response.status_code == 201, response.text
        return response.json()

    async def variant(self, prices: dict[str, int] | None = None, **kw: Any) -> str:
        return (await self.product(prices, **kw))["variants"][0]["id"]

    async def cart(self, **body: Any) -> dict[str, Any]:
        response = await self.post("/api/v1/carts", {"currency": "EUR", **body})
        assert response.status_code == 201, response.text
        return response.json()


async def make_tenant(backend: Backend, environment: str = "test", api_version: str | None = None) -> Tenant:
    """An application with a secret and a publishable key, pinned to the newest API version or `api_version`."""
    now = backend.clock.now()
    async with transaction(backend.runtime.db) as conn:
        app_id = await create_application(conn, f"test-{uuid.uuid4().hex[:8]}", environment, now,  # type: ignore[arg-type]
                                          **({"api_version": api_version} if api_version else {}))
        secret = await create_key(conn, app_id, kind="secret", scopes=["*"], now=now)
        publishable = await create_key(conn, app_id, kind="publishable", scopes=None, now=now)
    return Tenant(backend, app_id, secret, publishable)


@pytest.fixture
async def tenant(backend: Backend) -> Tenant:
    return await make_tenant(backend)


@pytest.fixture
async def pg_tenant(pg_backend: Backend) -> Tenant:
    return await make_tenant(pg_backend)


ADDRESS_DE = {"addressLine1": "Unter den Linden 1", "city": "Berlin", "countryCode": "DE"}

