"""`/internal/checkout/erasures`: the checkout service's part of an erasure, for the cart service (which runs it)."""

from __future__ import annotations

from typing import Any

from kassa_contract.erasure import ErasurePart, ErasureSubject
from kassa_platform.app import caller, runtime_of
from litestar import Controller, Request, post
from litestar.params import JSONBody

from . import erasure


class InternalErasureController(Controller):
    path = "/internal/checkout/erasures"
    include_in_schema = False

    @post("/", operation_id="internalCheckoutErasure", status_code=200, opt={"internal": True})
    async def erase(self, request: Request[Any, Any, Any], data: JSONBody[ErasureSubject]) -> ErasurePart:
        return await erasure.erase(runtime_of(request).db, caller(request).app_id, data)


ROUTES = [InternalErasureController]
