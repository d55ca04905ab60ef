"""PostgreSQL going away and coming back: callers get a 503 envelope (never a 500), nothing half
written, and the service recovers by itself once the database is back (both pools: SQLAlchemy's
and the hot path's asyncpg pool)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from kassa_platform.migrate import migrate

from kassa.services import components
from tests.conftest import Backend, Tenant, _backend, make_tenant
from tests.webhooks.servers import PrivatePostgres

pytestmark = pytest.mark.postgres


@pytest.fixture
async def outage() -> AsyncIterator[tuple[Tenant, PrivatePostgres]]:
    server = PrivatePostgres()
    server.start()
    try:
        await migrate(server.url, components())
        backend: Backend
        async for backend in _backend("private-pg", server.url):
            yield await make_tenant(backend), server
    finally:
        server.destroy()


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["error"]["code"] == "service_unavailable" and body["requestId"]
    assert response.headers["retry-after"] == "1"


async def test_a_database_outage_is_a_503_and_the_service_recovers(outage: tuple[Tenant, PrivatePostgres]) -> None:
    tenant, server = outage
    variant = await tenant.variant()
    cart = await tenant.cart()
    lines = f"/api/v1/carts/{cart['id']}/line-items"
    assert (await tenant.post(lines, {"variantId": variant})).status_code == 200  # both pools hold connections now

    await asyncio.to_thread(server.stop)
    assert_unavailable(await tenant.get(f"/api/v1/carts/{cart['id']}"))  # the hot path (asyncpg directly)
    assert_unavailable(await tenant.post(lines, {"variantId": variant}))
    assert_unavailable(await tenant.get("/api/v1/products"))  # through SQLAlchemy

    await asyncio.to_thread(server.start)
    for path in (f"/api/v1/carts/{cart['id']}", "/api/v1/products"):
        for _ in range(3):  # a pooled connection that died with the server fails once, then is replaced
            response = await tenant.get(path)
            if response.status_code != 503:
                break
        assert response.status_code == 200, response.text
    added = await tenant.post(lines, {"variantId": variant})
    assert added.status_code == 200, added.text
    assert added.json()["lineItems"][0]["quantity"] == 2  # the adds refused during the outage left nothing
