"""HTTP for customers (docs/api-reference.md, "Customers"): secret keys with `customers:read|write`."""

from __future__ import annotations

from typing import Annotated, Any

from kassa_contract.common import Page
from kassa_contract.customers import (
    CreateCustomer,
    Customer,
    CustomerVoucher,
    ShopperAuth,
    UpdateCustomer,
    UpdateSegments,
    UpdateShopperAuth,
)
from kassa_platform.app import caller
from kassa_platform.pagination import DEFAULT_LIMIT, Cursor, Limit, check_limit, query_time
from litestar import Controller, Request, delete, get, patch, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from . import customer_rows as rows
from .customer_vouchers import vouchers_of
from .http import cart_module

READ = {"scope": "customers:read"}
WRITE = {"scope": "customers:write"}

EmailQuery = Annotated[str | None, QueryParameter(name="email", required=False)]
ExternalIdQuery = Annotated[str | None, QueryParameter(name="externalId", required=False)]
SegmentQuery = Annotated[str | None, QueryParameter(name="segment", required=False)]
FromQuery = Annotated[str | None, QueryParameter(name="createdFrom", required=False,
                                                 description="ISO 8601; customers created at or after it")]
ToQuery = Annotated[str | None, QueryParameter(name="createdTo", required=False,
                                               description="ISO 8601; customers created before it")]


class CustomerController(Controller):
    path = "/api/v1/customers"
    tags = ["customers"]

    @post("/", operation_id="createCustomer", opt=WRITE)
    async def create(self, request: Request[Any, Any, Any], data: JSONBody[CreateCustomer]) -> Customer:
        return await cart_module(request).customers.create(caller(request).app_id, data)

    @get("/", operation_id="listCustomers", opt=READ)
    async def list_customers(self, request: Request[Any, Any, Any], limit: Limit = DEFAULT_LIMIT,
                             cursor: Cursor = None, email: EmailQuery = None, external_id: ExternalIdQuery = None,
                             segment: SegmentQuery = None, created_from: FromQuery = None,
                             created_to: ToQuery = None) -> Page[Customer]:
        return await cart_module(request).customers.list(
            caller(request).app_id, limit=check_limit(limit), cursor=cursor, email=email, external_id=external_id,
            segment=segment, created_gte=query_time(created_from, "createdFrom"), created_lt=query_time(created_to, "createdTo"))

    @get("/{customer_id:str}", operation_id="getCustomer", opt=READ)
    async def get_customer(self, request: Request[Any, Any, Any], customer_id: FromPath[str]) -> Customer:
        return await cart_module(request).customers.get(caller(request).app_id, customer_id)

    @patch("/{customer_id:str}", operation_id="updateCustomer", opt=WRITE)
    async def update(self, request: Request[Any, Any, Any], customer_id: FromPath[str],
                     data: JSONBody[UpdateCustomer]) -> Customer:
        return await cart_module(request).customers.update(caller(request).app_id, customer_id, data)

    @delete("/{customer_id:str}", operation_id="deleteCustomer", status_code=200, opt=WRITE)
    async def delete_customer(self, request: Request[Any, Any, Any], customer_id: FromPath[str]) -> Customer:
        return await cart_module(request).customers.delete(caller(request).app_id, customer_id)

    @get("/{customer_id:str}/vouchers", operation_id="listCustomerVouchers", opt=READ)
    async def vouchers(self, request: Request[Any, Any, Any], customer_id: FromPath[str]) -> dict[str, list[CustomerVoucher]]:
        """The codes this customer may use now (generic codes they qualify for, codes assigned to them)."""
        m = cart_module(request)
        async with m.db() as conn:
            return {"data": await vouchers_of(conn, caller(request).app_id, customer_id, m.clock.now())}

    @post("/{customer_id:str}/segments", operation_id="updateCustomerSegments", status_code=200, opt=WRITE)
    async def segments(self, request: Request[Any, Any, Any], customer_id: FromPath[str],
                       data: JSONBody[UpdateSegments]) -> Customer:
        return await cart_module(request).customers.change_segments(caller(request).app_id, customer_id, data)


class ShopperAuthController(Controller):
    """The application's shopper-auth setting: which identity provider's tokens (X-Shopper-Token) it trusts."""

    path = "/api/v1/shopper-auth"
    tags = ["customers"]

    @get("/", operation_id="getShopperAuth", opt={"scope": "settings:read"})
    async def get_setting(self, request: Request[Any, Any, Any]) -> ShopperAuth:
        async with cart_module(request).db() as conn:
            row = await rows.shopper_auth_of(conn, caller(request).app_id)
        return ShopperAuth() if row is None else ShopperAuth(jwks_url=row.jwks_url, issuer=row.issuer,
                                                             audience=row.audience, updated_at=row.updated_at)

    @put("/", operation_id="updateShopperAuth", opt={"scope": "settings:write"})
    async def put_setting(self, request: Request[Any, Any, Any], data: JSONBody[UpdateShopperAuth]) -> ShopperAuth:
        return await cart_module(request).shoppers.update_setting(caller(request), data)


ROUTES = [CustomerController, ShopperAuthController]
