"""Helpers for the abandoned-cart tests: sweep one application's carts, read its outbox and rows,
and a database of its own for the tests that run the sweep as the cron job does (every application).

The shared test database holds every test's carts, and the clock only moves forward: a sweep of
every application would abandon other tests' carts. So behaviour tests sweep their own
application (`sweep_for`); the cron job and the concurrent sweepers run on `isolated_*` databases.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import sqlalchemy as sa
from kassa_cart import abandonment
from kassa_cart.tables import cart_abandonments
from kassa_platform.migrate import migrate
from kassa_platform.tables import outbox_events

from kassa.services import components
from tests.conftest import Backend, Tenant, _backend, fresh_database, worker_id


async def sweep_for(*tenants: Tenant, batch: int | None = None) -> int:
    """The sweep as the cron job runs it, limited to these tenants' applications."""
    backend = tenants[0].backend
    return await abandonment.sweep(backend.runtime.db, backend.clock, backend.runtime.settings.signing_key,
                                   batch=batch, app_ids={t.app_id for t in tenants})


async def events_of(tenant: Tenant, type_: str, cart_id: str | None = None) -> list[dict[str, Any]]:
    """The tenant's outbox events of one type (decoded envelopes), oldest first."""
    query = sa.select(outbox_events.c.payload).where(outbox_events.c.app_id == tenant.app_id,
                                                     outbox_events.c.type == type_)
    if cart_id is not None:
        query = query.where(outbox_events.c.aggregate_id == cart_id)
    async with tenant.backend.runtime.db() as conn:
        rows = (await conn.execute(query.order_by(outbox_events.c.sequence, outbox_events.c.id))).scalars().all()
    return [msgspec.json.decode(p) for p in rows]


async def abandonment_rows(tenant: Tenant, cart_id: str | None = None) -> list[Any]:
    query = sa.select(cart_abandonments).where(cart_abandonments.c.app_id == tenant.app_id)
    if cart_id is not None:
        query = query.where(cart_abandonments.c.cart_id == cart_id)
    async with tenant.backend.runtime.db() as conn:
        return list((await conn.execute(query.order_by(cart_abandonments.c.sequence))).all())


async def filled_cart(tenant: Tenant, **body: Any) -> dict[str, Any]:
    variant = await tenant.variant({"EUR": 2500, "USD": 2700})
    return await tenant.cart(lineItems=[{"variantId": variant, "quantity": 2}], **body)


# ---------------------------------------------------------------- databases of their own


@pytest.fixture(scope="module")
async def isolated_sqlite() -> AsyncIterator[Backend]:
    url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp(prefix='kassa-abandon-')) / 'kassa.db'}"
    await migrate(url, components())
    async for backend in _backend("sqlite", url):
        yield backend


@pytest.fixture(scope="module")
async def isolated_pg(testrun_uid: str) -> AsyncIterator[Backend]:
    async with fresh_database(f"kassa_test_{testrun_uid[:8]}_{worker_id()}_abandon") as url:
        await migrate(url, components())
        async for backend in _backend("postgres", url):
            yield backend
