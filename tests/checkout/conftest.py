"""Helpers for the checkout tests: a cart ready to pay, and calls on its session."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ADDRESS_DE, Backend, Tenant

OK_CARD = {"type": "card", "card": {"number": "4242424242424242", "expMonth": 12, "expYear": 2030, "cvc": "123"}}
DECLINE_CARD = {"type": "card", "card": {"number": "4000000000000002"}}
NO_FUNDS_CARD = {"type": "card", "card": {"number": "4000000000009995"}}
ERROR_CARD = {"type": "card", "card": {"number": "4000000000000119"}}
THREE_DS_CARD = {"type": "card", "card": {"number": "4000002760003184"}}


class Shop:
    """A tenant with a product, and shortcuts for carts and sessions."""

    def __init__(self, tenant: Tenant, variant: str) -> None:
        self.t = tenant
        self.variant = variant

    @property
    def backend(self) -> Backend:
        return self.t.backend

    async def cart(self, quantity: int = 2, **body: Any) -> dict[str, Any]:
        return await self.t.cart(lineItems=[{"variantId": self.variant, "quantity": quantity}], **body)

    async def session(self, cart_id: str | None = None, **body: Any) -> dict[str, Any]:
        if cart_id is None:
            cart_id = (await self.cart())["id"]
        response = await self.t.post("/api/v1/checkout/sessions", {"cartId": cart_id, **body})
        assert response.status_code == 201, response.text
        return response.json()

    async def complete(self, session_id: str, payment: dict[str, Any] | None = None, **body: Any) -> httpx.Response:
        payload = {"shippingAddress": ADDRESS_DE, "paymentMethod": payment or OK_CARD, **body}
        return await self.t.post(f"/api/v1/checkout-sessions/{session_id}/complete", payload)

    async def get_cart(self, cart_id: str) -> dict[str, Any]:
        response = await self.t.get(f"/api/v1/carts/{cart_id}")
        assert response.status_code == 200, response.text
        return response.json()

    async def events(self, *types: str) -> list[dict[str, Any]]:
        import msgspec
        import sqlalchemy as sa
        from kassa_platform.tables import outbox_events

        async with self.backend.runtime.db() as conn:
            rows = await conn.execute(sa.select(outbox_events.c.payload).where(
                outbox_events.c.app_id == self.t.app_id, outbox_events.c.type.in_(types)).order_by(outbox_events.c.id))
            return [msgspec.json.decode(r.payload) for r in rows]


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
