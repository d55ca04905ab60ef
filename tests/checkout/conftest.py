"""Fixtures for the checkout tests: a shop (tests/support/shop.py) on each backend, and Stripe behind a fault proxy."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Tenant
from tests.support.shop import Shop


@pytest.fixture
async def shop(tenant: Tenant) -> Shop:
    return Shop(tenant, await tenant.variant({"EUR": 1500}))

@pytest.fixture
async def pg_shop(pg_tenant: Tenant) -> Shop:
    return Shop(pg_tenant, await pg_tenant.variant({"EUR": 1500}))

@pytest.fixture(scope="session")
async def stripe_proxy(localstripe: Any) -> Any:
    """A fault proxy in front of this worker's localstripe (tests/support/fault_proxy.py)."""
    from tests.support.fault_proxy import FaultProxy

    async with FaultProxy(localstripe.url) as proxy:
        yield proxy

@pytest.fixture(scope="session")
async def proxied_stripe_kassa(stripe_proxy: Any, localstripe: Any, testrun_uid: str) -> Any:
    """Kassa whose calls to Stripe go through `stripe_proxy`, with a one-second timeout."""
    from tests.conftest import worker_id
    from tests.support.served import serve_kassa

    async with serve_kassa(f"kassa_stripe_faults_{testrun_uid[:8]}_{worker_id()}", stripe_api_base=stripe_proxy.url,
                           stripe_js_url=localstripe.js_url, stripe_timeout_seconds=1.0) as web:
        yield web
