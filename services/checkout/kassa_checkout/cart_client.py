"""The checkout service's view of the cart service: typed calls over the service client."""

from __future__ import annotations

from urllib.parse import quote

import msgspec
from kassa_contract.abandoned import EmbedConfig
from kassa_contract.cart import Cart, CartAddress, SelectShippingMethod, ShippingOption, UpdateCart
from kassa_contract.checkout import CollectFlags
from kassa_contract.internal import (
    CancelledRedemptions,
    CancelOrderRedemptions,
    ConvertCart,
    LockCartForCheckout,
    LockedCart,
    ReopenCart,
)
from kassa_platform.service_client import ServiceClient


class CartClient:
    def __init__(self, client: ServiceClient) -> None:
        self.client = client

    async def get(self, app_id: str, cart_id: str) -> Cart:
        return await self.client.call("GET", f"/api/v1/carts/{cart_id}", app_id=app_id, into=Cart)

    async def apply_code(self, app_id: str, cart_id: str, code: str) -> Cart:
        answer = await self.client.call("POST", f"/api/v1/carts/{cart_id}/discount-codes", app_id=app_id,
                                        json={"code": code})
        return msgspec.convert(answer, Cart)

    async def update(self, app_id: str, cart_id: str, body: UpdateCart) -> Cart:
        return msgspec.convert(await self.client.call("PATCH", f"/api/v1/carts/{cart_id}", app_id=app_id, json=body),
                               Cart)

    async def shipping_options(self, app_id: str, cart_id: str) -> list[ShippingOption]:
        answer = await self.client.call("GET", f"/api/v1/carts/{cart_id}/shipping-methods", app_id=app_id)
        return msgspec.convert(answer["data"], list[ShippingOption])

    async def select_shipping(self, app_id: str, cart_id: str, method_id: str | None) -> Cart:
        answer = await self.client.call("PUT", f"/api/v1/carts/{cart_id}/shipping-method", app_id=app_id,
                                        json=SelectShippingMethod(shipping_method_id=method_id))
        return msgspec.convert(answer, Cart)

    async def remove_code(self, app_id: str, cart_id: str, code: str) -> Cart:
        answer = await self.client.call("DELETE", f"/api/v1/carts/{cart_id}/discount-codes/{quote(code, safe='')}",
                                        app_id=app_id)
        return msgspec.convert(answer, Cart)

    async def lock(self, app_id: str, cart_id: str, *, session_id: str, shipping: CartAddress | None,
                   billing: CartAddress | None, billing_same_as_shipping: bool, email: str | None,
                   collect: CollectFlags, reservation_minutes: int = 60) -> LockedCart:
        """`collect`: the addresses the session needs (and a shipping method where one is offered);
        `reservation_minutes`: how long the cart's discounts stay held."""
        body = LockCartForCheckout(session_id=session_id, shipping_address=shipping, billing_address=billing,
                                   reservation_minutes=reservation_minutes,
                                   billing_same_as_shipping=billing_same_as_shipping, customer_email=email,
                                   require_shipping_method=collect.shipping_address,
                                   require_shipping_address=collect.shipping_address,
                                   require_billing_address=collect.billing_address)
        answer = await self.client.call("POST", f"/internal/carts/{cart_id}/checkout-lock", app_id=app_id, json=body)
        return msgspec.convert(answer, LockedCart)

    async def reopen(self, app_id: str, cart_id: str, *, session_id: str, reason: str) -> None:
        await self.client.call("POST", f"/internal/carts/{cart_id}/reopen", app_id=app_id,
                               json=ReopenCart(session_id=session_id, reason=reason))

    async def convert(self, app_id: str, cart_id: str, *, session_id: str, order_id: str) -> None:
        await self.client.call("POST", f"/internal/carts/{cart_id}/convert", app_id=app_id,
                               json=ConvertCart(session_id=session_id, order_id=order_id))

    async def embed_config(self, app_id: str) -> EmbedConfig:
        return msgspec.convert(await self.client.call("GET", "/api/v1/embed-config", app_id=app_id), EmbedConfig)

    async def cancel_order_redemptions(self, app_id: str, order_id: str) -> CancelledRedemptions:
        answer = await self.client.call("POST", "/internal/redemptions/cancel-order", app_id=app_id,
                                        json=CancelOrderRedemptions(order_id=order_id))
        return msgspec.convert(answer, CancelledRedemptions)
