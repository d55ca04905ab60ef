"""HTTP for the cart service: thin handlers that decode, call the domain and encode."""

from __future__ import annotations

from typing import Annotated, Any

from kassa_contract.abandoned import CartRecovery
from kassa_contract.cart import (
    Cart,
    CreateCart,
    CreateProduct,
    CreateShippingMethod,
    CreateTaxRate,
    LineItemInput,
    Product,
    SelectShippingMethod,
    ShippingMethod,
    ShippingOption,
    TaxRate,
    TaxSettings,
    UpdateCart,
    UpdateLineItem,
    UpdateProduct,
    UpdateShippingMethod,
    UpdateTaxSettings,
    UpdateVariant,
    VariantInput,
)
from kassa_contract.common import Page
from kassa_contract.errors import KassaError
from kassa_contract.promotions import ApplyDiscountCode
from kassa_platform.app import caller
from kassa_platform.db import transaction
from kassa_platform.pagination import DEFAULT_LIMIT, Cursor, Limit, check_limit
from litestar import Controller, Request, delete, get, patch, post, put
from litestar.params import FromPath, HeaderParameter, JSONBody

from .cart_recovery import recover
from .http import cart_module
from .shopper_identity import cart_customer, shopper_customer
from .vouchers import record_refusal

CartSecret = Annotated[str | None, HeaderParameter(name="x-cart-secret", required=False)]
# A signed-in shopper's JWT from the merchant's identity provider (docs/storefront.md, "Shopper identity").
ShopperToken = Annotated[str | None, HeaderParameter(name="x-shopper-token", required=False)]

# Browser-safe routes: publishable keys may call them (with the cart's client secret).
BROWSER = {"publishable": True}


class CartController(Controller):
    path = "/api/v1/carts"
    tags = ["carts"]

    @post("/", operation_id="createCart", opt={"scope": "carts:write", **BROWSER})
    async def create(self, request: Request[Any, Any, Any], data: JSONBody[CreateCart],
                     shopper_token: ShopperToken = None) -> Cart:
        m, principal = cart_module(request), caller(request)
        customer = await cart_customer(m.shoppers, principal, data.customer_id, shopper_token)
        try:
            return await m.carts.create(principal, data, customer=customer)
        except KassaError as exc:
            details = exc.details or {}
            if exc.code == "discount_invalid" and details.get("code"):  # rare: a code refused at creation
                await record_refusal(m, principal.app_id, str(details["code"]), details.get("reason"), exc.message,
                                     currency=data.currency, customer=data.customer_id or data.customer_email)
            raise

    @get("/{cart_id:str}", operation_id="getCart", opt={"scope": "carts:read", **BROWSER})
    async def get_cart(self, request: Request[Any, Any, Any], cart_id: FromPath[str], cart_secret: CartSecret = None) -> Cart:
        return await cart_module(request).carts.get(caller(request), cart_id, cart_secret)

    @patch("/{cart_id:str}", operation_id="updateCart", opt={"scope": "carts:write", **BROWSER})
    async def update(self, request: Request[Any, Any, Any], cart_id: FromPath[str], data: JSONBody[UpdateCart],
                     cart_secret: CartSecret = None, shopper_token: ShopperToken = None) -> Cart:
        m, principal = cart_module(request), caller(request)
        customer = await cart_customer(m.shoppers, principal, data.customer_id, shopper_token)
        return await m.carts.update(principal, cart_id, cart_secret, data, customer=customer,
                                    shopper=shopper_token is not None)

    @post("/{cart_id:str}/line-items", operation_id="addLineItem", status_code=200,
          opt={"scope": "carts:write", **BROWSER})
    async def add_line(self, request: Request[Any, Any, Any], cart_id: FromPath[str], data: JSONBody[LineItemInput],
                       cart_secret: CartSecret = None, shopper_token: ShopperToken = None) -> Cart:
        m, principal = cart_module(request), caller(request)
        return await m.carts.add_line(principal, cart_id, cart_secret, data,
                                      await shopper_customer(m.shoppers, principal, shopper_token))

    @patch("/{cart_id:str}/line-items/{line_id:str}", operation_id="updateLineItem",
           opt={"scope": "carts:write", **BROWSER})
    async def update_line(self, request: Request[Any, Any, Any], cart_id: FromPath[str], line_id: FromPath[str],
                          data: JSONBody[UpdateLineItem], cart_secret: CartSecret = None,
                          shopper_token: ShopperToken = None) -> Cart:
        m, principal = cart_module(request), caller(request)
        return await m.carts.update_line(principal, cart_id, cart_secret, line_id, data.quantity,
                                         await shopper_customer(m.shoppers, principal, shopper_token))

    @delete("/{cart_id:str}/line-items/{line_id:str}", operation_id="removeLineItem", status_code=200,
            opt={"scope": "carts:write", **BROWSER})
    async def remove_line(self, request: Request[Any, Any, Any], cart_id: FromPath[str], line_id: FromPath[str],
                          cart_secret: CartSecret = None, shopper_token: ShopperToken = None) -> Cart:
        m, principal = cart_module(request), caller(request)
        return await m.carts.remove_line(principal, cart_id, cart_secret, line_id,
                                         await shopper_customer(m.shoppers, principal, shopper_token))

    @get("/{cart_id:str}/shipping-methods", operation_id="listCartShippingMethods",
         opt={"scope": "carts:read", **BROWSER})
    async def shipping_options(self, request: Request[Any, Any, Any], cart_id: FromPath[str],
                               cart_secret: CartSecret = None) -> dict[str, list[ShippingOption]]:
        return {"data": await cart_module(request).carts.shipping_options(caller(request), cart_id, cart_secret)}

    @put("/{cart_id:str}/shipping-method", operation_id="selectShippingMethod", opt={"scope": "carts:write", **BROWSER})
    async def select_shipping(self, request: Request[Any, Any, Any], cart_id: FromPath[str], data: JSONBody[SelectShippingMethod],
                              cart_secret: CartSecret = None, shopper_token: ShopperToken = None) -> Cart:
        m, principal = cart_module(request), caller(request)
        return await m.carts.select_shipping(principal, cart_id, cart_secret, data.shipping_method_id,
                                             await shopper_customer(m.shoppers, principal, shopper_token))


    @post("/{cart_id:str}/discount-codes", operation_id="applyDiscountCode", status_code=200,
          opt={"scope": "carts:write", **BROWSER})
    async def apply_code(self, request: Request[Any, Any, Any], cart_id: FromPath[str], data: JSONBody[ApplyDiscountCode],
                         cart_secret: CartSecret = None, shopper_token: ShopperToken = None) -> Cart:
        m, principal = cart_module(request), caller(request)
        try:
            return await m.carts.apply_code(principal, cart_id, cart_secret, data.code,
                                            await shopper_customer(m.shoppers, principal, shopper_token))
        except KassaError as exc:
            if exc.code == "discount_invalid":  # the rare path: the refusal becomes a `rejected` redemption
                await record_refusal(m, principal.app_id, data.code.strip(), (exc.details or {}).get("reason"),
                                     exc.message, cart_id=cart_id)
            raise

    @delete("/{cart_id:str}/discount-codes/{code:str}", operation_id="removeDiscountCode", status_code=200,
            opt={"scope": "carts:write", **BROWSER})
    async def remove_code(self, request: Request[Any, Any, Any], cart_id: FromPath[str], code: FromPath[str],
                          cart_secret: CartSecret = None, shopper_token: ShopperToken = None) -> Cart:
        m, principal = cart_module(request), caller(request)
        return await m.carts.remove_code(principal, cart_id, cart_secret, code,
                                         await shopper_customer(m.shoppers, principal, shopper_token))

    @post("/{cart_id:str}/recover", operation_id="recoverCart", status_code=200,
          opt={"scope": "carts:write", **BROWSER})
    async def recover(self, request: Request[Any, Any, Any], cart_id: FromPath[str], cart_secret: CartSecret = None,
                      shopper_token: ShopperToken = None) -> CartRecovery:
        """Restore a cart from its recovery link (the link's token in X-Cart-Secret), re-priced, with what
        changed and its recovery incentive applied."""
        m, principal = cart_module(request), caller(request)
        return await recover(m.carts, principal, cart_id, cart_secret,
                             await shopper_customer(m.shoppers, principal, shopper_token))


class ProductController(Controller):
    path = "/api/v1/products"
    tags = ["catalog"]

    @post("/", operation_id="createProduct", opt={"scope": "catalog:write"})
    async def create(self, request: Request[Any, Any, Any], data: JSONBody[CreateProduct]) -> Product:
        m = cart_module(request)
        async with transaction(m.db) as conn:
            return await m.catalog.create_product(conn, caller(request).app_id, data, m.clock.now())

    @get("/", operation_id="listProducts", opt={"scope": "catalog:read", **BROWSER})
    async def list_products(self, request: Request[Any, Any, Any], limit: Limit = DEFAULT_LIMIT,
                            cursor: Cursor = None) -> Page[Product]:
        m = cart_module(request)
        async with m.db() as conn:
            return await m.catalog.list_products(conn, caller(request).app_id, check_limit(limit), cursor)

    @get("/{product_id:str}", operation_id="getProduct", opt={"scope": "catalog:read", **BROWSER})
    async def get_product(self, request: Request[Any, Any, Any], product_id: FromPath[str]) -> Product:
        m = cart_module(request)
        async with m.db() as conn:
            return await m.catalog.get_product(conn, caller(request).app_id, product_id)

    @patch("/{product_id:str}", operation_id="updateProduct", opt={"scope": "catalog:write"})
    async def update(self, request: Request[Any, Any, Any], product_id: FromPath[str], data: JSONBody[UpdateProduct]) -> Product:
        m = cart_module(request)
        async with transaction(m.db) as conn:
            return await m.catalog.update_product(conn, caller(request).app_id, product_id, data, m.clock.now())

    @post("/{product_id:str}/variants", operation_id="addVariant", opt={"scope": "catalog:write"})
    async def add_variant(self, request: Request[Any, Any, Any], product_id: FromPath[str], data: JSONBody[VariantInput]) -> Product:
        m = cart_module(request)
        async with transaction(m.db) as conn:
            return await m.catalog.add_variant(conn, caller(request).app_id, product_id, data, m.clock.now())

    @patch("/{product_id:str}/variants/{variant_id:str}", operation_id="updateVariant", opt={"scope": "catalog:write"})
    async def update_variant(self, request: Request[Any, Any, Any], product_id: FromPath[str], variant_id: FromPath[str],
                             data: JSONBody[UpdateVariant]) -> Product:
        m = cart_module(request)
        async with transaction(m.db) as conn:
            return await m.catalog.update_variant(conn, caller(request).app_id, product_id, variant_id, data,
                                                  m.clock.now())


class ShippingMethodController(Controller):
    path = "/api/v1/shipping-methods"
    tags = ["shipping"]

    @post("/", operation_id="createShippingMethod", opt={"scope": "settings:write"})
    async def create(self, request: Request[Any, Any, Any], data: JSONBody[CreateShippingMethod]) -> ShippingMethod:
        m = cart_module(request)
        async with transaction(m.db) as conn:
            return await m.config.create_shipping_method(conn, caller(request).app_id, data, m.clock.now())

    @get("/", operation_id="listShippingMethods", opt={"scope": "settings:read"})
    async def list_methods(self, request: Request[Any, Any, Any]) -> dict[str, list[ShippingMethod]]:
        m = cart_module(request)
        async with m.db() as conn:
            return {"data": await m.config.list_shipping_methods(conn, caller(request).app_id)}

    @get("/{method_id:str}", operation_id="getShippingMethod", opt={"scope": "settings:read"})
    async def get_method(self, request: Request[Any, Any, Any], method_id: FromPath[str]) -> ShippingMethod:
        m = cart_module(request)
        async with m.db() as conn:
            return await m.config.get_shipping_method(conn, caller(request).app_id, method_id)

    @patch("/{method_id:str}", operation_id="updateShippingMethod", opt={"scope": "settings:write"})
    async def update(self, request: Request[Any, Any, Any], method_id: FromPath[str],
                     data: JSONBody[UpdateShippingMethod]) -> ShippingMethod:
        m = cart_module(request)
        async with transaction(m.db) as conn:
            return await m.config.update_shipping_method(conn, caller(request).app_id, method_id, data, m.clock.now())

    @delete("/{method_id:str}", operation_id="deleteShippingMethod", opt={"scope": "settings:write"})
    async def remove(self, request: Request[Any, Any, Any], method_id: FromPath[str]) -> None:
        m = cart_module(request)
        async with transaction(m.db) as conn:
            await m.config.delete_shipping_method(conn, caller(request).app_id, method_id, m.clock.now())


class TaxController(Controller):
    path = "/api/v1"
    tags = ["tax"]

    @post("/tax-rates", operation_id="createTaxRate", opt={"scope": "settings:write"})
    async def create_rate(self, request: Request[Any, Any, Any], data: JSONBody[CreateTaxRate]) -> TaxRate:
        m = cart_module(request)
        async with transaction(m.db) as conn:
            return await m.config.create_tax_rate(conn, caller(request).app_id, data, m.clock.now())

    @get("/tax-rates", operation_id="listTaxRates", opt={"scope": "settings:read"})
    async def list_rates(self, request: Request[Any, Any, Any]) -> dict[str, list[TaxRate]]:
        m = cart_module(request)
        async with m.db() as conn:
            return {"data": await m.config.list_tax_rates(conn, caller(request).app_id)}

    @delete("/tax-rates/{rate_id:str}", operation_id="deleteTaxRate", opt={"scope": "settings:write"})
    async def delete_rate(self, request: Request[Any, Any, Any], rate_id: FromPath[str]) -> None:
        m = cart_module(request)
        async with transaction(m.db) as conn:
            await m.config.delete_tax_rate(conn, caller(request).app_id, rate_id, m.clock.now())

    @get("/tax-settings", operation_id="getTaxSettings", opt={"scope": "settings:read"})
    async def get_settings(self, request: Request[Any, Any, Any]) -> TaxSettings:
        m = cart_module(request)
        async with m.db() as conn:
            return await m.config.get_tax_settings(conn, caller(request).app_id)

    @put("/tax-settings", operation_id="updateTaxSettings", opt={"scope": "settings:write"})
    async def put_settings(self, request: Request[Any, Any, Any], data: JSONBody[UpdateTaxSettings]) -> TaxSettings:
        m = cart_module(request)
        async with transaction(m.db) as conn:
            return await m.config.set_tax_settings(conn, caller(request).app_id, data.prices_include_tax,
                                                   m.clock.now())


ROUTES = [CartController, ProductController, ShippingMethodController, TaxController]
