"""Campaigns and codes made through the public API, for tests that need a promotion to exist."""

from __future__ import annotations

from typing import Any

from tests.conftest import Tenant


async def campaign(tenant: Tenant, **body: Any) -> dict:
    response = await tenant.post("/api/v1/campaigns", {"name": "Promo", **body})
    assert response.status_code == 201, response.text
    return response.json()


async def code(tenant: Tenant, campaign_id: str, **body: Any) -> dict:
    response = await tenant.post(f"/api/v1/campaigns/{campaign_id}/codes", body)
    assert response.status_code == 201, response.text
    return response.json()
