"""A tenant with a product, and shortcuts for carts and checkout sessions (the checkout tests' shop)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import ADDRESS_DE, Backend, Tenant
from tests.support.cards import OK_CARD


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
