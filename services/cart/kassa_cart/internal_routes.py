"""`/internal/...`: the cart service's endpoints for other Kassa services (the checkout saga).

`opt={"internal": True}`: only a caller holding the deployment's service token gets through.
"""

from __future__ import annotations

from typing import Any

from kassa_contract.cart import Cart
from kassa_contract.internal import (
    CancelledRedemptions,
    CancelOrderRedemptions,
    ConvertCart,
    LockCartForCheckout,
    LockedCart,
    ReopenCart,
)
from kassa_platform.app import caller, runtime_of
from litestar import Controller, Request, post
from litestar.params import FromPath, JSONBody

from .service import module_of

INTERNAL = {"internal": True}


class InternalCartController(Controller):
    path = "/internal/carts"
    include_in_schema = False

    @post("/{cart_id:str}/checkout-lock", operation_id="internalLockCart", status_code=200, opt=INTERNAL)
    async def lock(self, request: Request[Any, Any, Any], cart_id: FromPath[str],
                   data: JSONBody[LockCartForCheckout]) -> LockedCart:
        return await module_of(runtime_of(request)).checkout.lock(caller(request), cart_id, data)

    @post("/{cart_id:str}/reopen", operation_id="internalReopenCart", status_code=200, opt=INTERNAL)
    async def reopen(self, request: Request[Any, Any, Any], cart_id: FromPath[str], data: JSONBody[ReopenCart]) -> Cart:
        return await module_of(runtime_of(request)).checkout.reopen(caller(request), cart_id, data)

    @post("/{cart_id:str}/convert", operation_id="internalConvertCart", status_code=200, opt=INTERNAL)
    async def convert(self, request: Request[Any, Any, Any], cart_id: FromPath[str], data: JSONBody[ConvertCart]) -> Cart:
        return await module_of(runtime_of(request)).checkout.convert(caller(request), cart_id, data)


class InternalRedemptionController(Controller):
    path = "/internal/redemptions"
    include_in_schema = False

    @post("/cancel-order", operation_id="internalCancelOrderRedemptions", status_code=200, opt=INTERNAL)
    async def cancel_order(self, request: Request[Any, Any, Any],
                           data: JSONBody[CancelOrderRedemptions]) -> CancelledRedemptions:
        return await module_of(runtime_of(request)).checkout.cancel_order_redemptions(caller(request), data.order_id)


ROUTES = [InternalCartController, InternalRedemptionController]
