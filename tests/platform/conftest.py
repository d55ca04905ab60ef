"""Fixtures of the platform tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from kassa_platform.service_client import APP_KEY_PREFIX

from kassa.gateway import PathRouter
from kassa.services import SERVICES
from tests.conftest import Tenant


@pytest.fixture
async def suite(tenant: Tenant) -> AsyncIterator[httpx.AsyncClient]:
    """Every service of the suite behind the embedded path router, on the tenant's backend (whose
    own client reaches the cart and checkout services only)."""
    runtime = tenant.backend.runtime
    apps = []
    for name, service in SERVICES.items():
        app = runtime.services.get(APP_KEY_PREFIX + name) or service.create_app(runtime, owns_runtime=False)
        apps.append((service.path_prefixes, app))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=PathRouter(apps, default=apps[0][1])),
                                 base_url="http://kassa.test") as client:
        yield client
