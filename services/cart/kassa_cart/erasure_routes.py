"""HTTP for erasure (docs/contract.md, "Erasure"): `POST /api/v1/customers/erase` (scope
`customers:erase`), the erasure requests, and the customer settings (which metadata keys are personal)."""

from __future__ import annotations

from typing import Any

from kassa_contract.erasure import CustomerSettings, EraseCustomer, Erasure, UpdateCustomerSettings
from kassa_platform.app import caller
from litestar import Controller, Request, get, post, put
from litestar.params import FromPath, JSONBody

from .http import cart_module

ERASE = {"scope": "customers:erase"}


class ErasureController(Controller):
    path = "/api/v1/customers/erase"
    tags = ["customers"]

    @post("/", operation_id="eraseCustomer", status_code=200, opt=ERASE)
    async def erase(self, request: Request[Any, Any, Any], data: JSONBody[EraseCustomer]) -> Erasure:
        """Redact a customer's (or a guest's) personal data everywhere; rows redacted per place."""
        return await cart_module(request).erasure.erase(caller(request).app_id, data)


class ErasureRequestController(Controller):
    path = "/api/v1/customer-erasures"
    tags = ["customers"]

    @get("/{erasure_id:str}", operation_id="getCustomerErasure", opt=ERASE)
    async def get_erasure(self, request: Request[Any, Any, Any], erasure_id: FromPath[str]) -> Erasure:
        return await cart_module(request).erasure.get(caller(request).app_id, erasure_id)


class CustomerSettingsController(Controller):
    path = "/api/v1/customer-settings"
    tags = ["customers"]

    @get("/", operation_id="getCustomerSettings", opt={"scope": "settings:read"})
    async def get_settings(self, request: Request[Any, Any, Any]) -> CustomerSettings:
        return await cart_module(request).erasure.settings(caller(request).app_id)

    @put("/", operation_id="updateCustomerSettings", opt={"scope": "settings:write"})
    async def put_settings(self, request: Request[Any, Any, Any],
                           data: JSONBody[UpdateCustomerSettings]) -> CustomerSettings:
        return await cart_module(request).erasure.update_settings(caller(request).app_id, data)


ROUTES = [ErasureController, ErasureRequestController, CustomerSettingsController]
