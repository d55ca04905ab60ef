"""A merchant whose application takes payments with Stripe (localstripe), and the calls its tests make."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import stripe
from stripe import WebhookSignature

from tests.conftest import ADDRESS_DE, Tenant, make_tenant
from tests.support.localstripe import LocalStripe
from tests.support.served import KassaWeb

# Stripe's test cards, as localstripe plays them (tests/support/localstripe.py).
SUCCESS = "4242424242424242"
DECLINED_AT_CONFIRM = "4000000000000341"  # attaches, then declines when charged
DECLINED = "4000000000000002"  # declined when the card is checked
NO_FUNDS = "4000000000009995"
THREE_D_SECURE = "4000002760003184"


class StripeShop:
    def __init__(self, web: KassaWeb, localstripe: LocalStripe, tenant: Tenant, variant: str,
                 webhook_secret: str) -> None:
        self.web = web
        self.stripe = localstripe
        self.t = tenant
        self.variant = variant
        self.webhook_secret = webhook_secret

    @classmethod
    async def open(cls, web: KassaWeb, localstripe: LocalStripe, *, capture: str = "automatic",
                   price: int = 2500) -> StripeShop:
        tenant = await make_tenant(web.backend)
        secret = "whsec_" + uuid.uuid4().hex
        response = await tenant.put("/api/v1/payment-settings", {
            "provider": "stripe", "secretKey": localstripe.api_key, "publishableKey": localstripe.publishable_key,
            "webhookSecret": secret, "captureMethod": capture})
        assert response.status_code == 200, response.text
        return cls(web, localstripe, tenant, await tenant.variant({"EUR": price}), secret)

    @property
    def webhook_url(self) -> str:
        return f"{self.web.origin}/webhooks/stripe/{self.t.app_id}"

    async def session(self, quantity: int = 1, **body: Any) -> dict[str, Any]:
        cart = await self.t.cart(lineItems=[{"variantId": self.variant, "quantity": quantity}],
                                 shippingAddress=ADDRESS_DE)
        response = await self.t.post("/api/v1/checkout/sessions", {"cartId": cart["id"], **body})
        assert response.status_code == 201, response.text
        return response.json()

    async def complete(self, session_id: str, method: dict[str, Any], **body: Any) -> httpx.Response:
        return await self.t.post(f"/api/v1/checkout-sessions/{session_id}/complete",
                                 {"paymentMethod": method, **body})

    async def pay_card(self, session_id: str, number: str = SUCCESS) -> httpx.Response:
        """What the hosted page does: the card through Stripe.js (a token), the token to Kassa."""
        return await self.complete(session_id, {"type": "card", "token": await self.stripe.card_token(number)})

    async def intents_of(self, session_id: str) -> list[dict[str, Any]]:
        """Every PaymentIntent Stripe holds for the session (by Kassa's metadata)."""
        listed = await self.stripe.get("/v1/payment_intents", limit=100)
        return [i for i in listed["data"] if (i.get("metadata") or {}).get("kassa_session_id") == session_id]

    async def confirm_headless(self, intent_id: str, number: str = SUCCESS) -> dict[str, Any]:
        """What a headless storefront does with Stripe.js: the card on the intent, then confirmed."""
        async with self.stripe.client() as client:
            customer = await client.v1.customers.create_async({"source": await self.stripe.card_token(number)})
            card = customer.sources.data[0].id
            await client.v1.payment_intents.update_async(intent_id, {"customer": customer.id, "payment_method": card})
            try:
                return (await client.v1.payment_intents.confirm_async(intent_id)).to_dict()
            except stripe.CardError:
                return (await client.v1.payment_intents.retrieve_async(intent_id)).to_dict()

    def signed(self, event: dict[str, Any], *, at: int | None = None, secret: str | None = None) -> dict[str, str]:
        """Headers of Stripe's signature over the event's exact bytes (for events localstripe cannot send)."""
        import json

        body = json.dumps(event)
        timestamp = at if at is not None else int(time.time())
        signature = WebhookSignature._compute_signature(f"{timestamp}.{body}", secret or self.webhook_secret)
        return {"content": body, "Stripe-Signature": f"t={timestamp},v1={signature}"}

    async def post_event(self, event: dict[str, Any], **kw: Any) -> httpx.Response:
        signed = self.signed(event, **kw)
        content = signed.pop("content")
        async with httpx.AsyncClient(timeout=10) as http:
            return await http.post(self.webhook_url, content=content,
                                   headers={"Content-Type": "application/json", **signed})

    async def events(self, *types: str) -> list[dict[str, Any]]:
        """The application's outbox events of `types`, oldest first."""
        import msgspec
        import sqlalchemy as sa
        from kassa_platform.tables import outbox_events

        async with self.web.backend.runtime.db() as conn:
            rows = await conn.execute(sa.select(outbox_events.c.payload).where(
                outbox_events.c.app_id == self.t.app_id, outbox_events.c.type.in_(types)).order_by(outbox_events.c.id))
            return [msgspec.json.decode(r.payload) for r in rows]

    async def orders_of(self, session_id: str) -> list[dict[str, Any]]:
        orders = (await self.t.get("/api/v1/orders?limit=100")).json()["data"]
        return [o for o in orders if o["sessionId"] == session_id]

    async def wait_for_order(self, session_id: str, timeout: float = 15.0) -> dict[str, Any]:
        """The session's order, once Stripe's webhook (sent by another process) has made it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            session = (await self.t.get(f"/api/v1/checkout/sessions/{session_id}")).json()
            if session["status"] == "complete":
                return session
            await asyncio.sleep(0.05)  # waiting on localstripe's delivery, which has its own one-second delay
        raise AssertionError(f"no order for {session_id} within {timeout} s")
