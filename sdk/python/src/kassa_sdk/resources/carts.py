"""Carts: line items, addresses, shipping method and discount codes, priced by Kassa on every change."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import Any

from kassa_contract.abandoned import CartRecovery
from kassa_contract.base import UNSET, UnsetT
from kassa_contract.cart import (
    Cart,
    CartAddress,
    CreateCart,
    LineItemInput,
    SelectShippingMethod,
    ShippingOption,
    UpdateCart,
    UpdateLineItem,
)
from kassa_contract.promotions import ApplyDiscountCode

from .._base import Call, M, RequestOptions, Resource, operation, returns, returns_list
from ._util import seg

CARTS = "/api/v1/carts"


class Carts(Resource[M]):
    """`client.carts` (scopes `carts:read`, `carts:write`). Every change returns the whole, repriced cart."""

    @operation
    def create(self, *, currency: str, line_items: Iterable[LineItemInput] = (), customer_email: str | None = None,
               shipping_address: CartAddress | None = None, billing_address: CartAddress | None = None,
               metadata: dict[str, Any] | None = None, discount_codes: Iterable[str] = (),
               customer_id: str | None = None, options: RequestOptions | None = None) -> Call[Cart]:
        """Create a cart in `currency` (ISO 4217). Its `client_secret` is in this answer only. `customer_id`
        (secret keys) names the customer it belongs to."""
        body = CreateCart(currency=currency, line_items=list(line_items), customer_email=customer_email,
                          shipping_address=shipping_address, billing_address=billing_address, metadata=metadata,
                          discount_codes=list(discount_codes), customer_id=customer_id)
        return Call("POST", CARTS, returns(Cart), body, options=options)

    @operation
    def retrieve(self, cart_id: str, *, options: RequestOptions | None = None) -> Call[Cart]:
        """The cart, with its lines, discounts, shipping method, tax lines and totals."""
        return Call("GET", f"{CARTS}/{seg(cart_id)}", returns(Cart), options=options)

    @operation
    def update(self, cart_id: str, *, customer_email: str | None | UnsetT = UNSET,
               shipping_address: CartAddress | None | UnsetT = UNSET,
               billing_address: CartAddress | None | UnsetT = UNSET,
               metadata: dict[str, Any] | None | UnsetT = UNSET, customer_id: str | None | UnsetT = UNSET,
               options: RequestOptions | None = None) -> Call[Cart]:
        """Change the fields given; `None` clears one (`customer_id=None` detaches the customer). A cart that
        is not `open` raises `CartNotOpenError`."""
        body = UpdateCart(customer_email=customer_email, shipping_address=shipping_address,
                          billing_address=billing_address, metadata=metadata, customer_id=customer_id)
        return Call("PATCH", f"{CARTS}/{seg(cart_id)}", returns(Cart), body, options=options)

    @operation
    def add_line_item(self, cart_id: str, *, variant_id: str | None = None, quantity: int = 1, sku: str | None = None,
                      name: str | None = None, unit_price: int | None = None, categories: Iterable[str] | None = None,
                      tax_class: str | None = None, metadata: dict[str, Any] | None = None,
                      options: RequestOptions | None = None) -> Call[Cart]:
        """Add a catalog variant (`variant_id`; the same variant again adds to its quantity) or a custom line
        (`sku`, `name`, `unit_price`: secret keys only)."""
        body = LineItemInput(variant_id=variant_id, quantity=quantity, sku=sku, name=name, unit_price=unit_price,
                             categories=None if categories is None else list(categories), tax_class=tax_class,
                             metadata=metadata)
        return Call("POST", f"{CARTS}/{seg(cart_id)}/line-items", returns(Cart), body, options=options)

    @operation
    def update_line_item(self, cart_id: str, line_id: str, *, quantity: int,
                         options: RequestOptions | None = None) -> Call[Cart]:
        """Set a line's quantity (0 removes the line)."""
        return Call("PATCH", f"{CARTS}/{seg(cart_id)}/line-items/{seg(line_id)}", returns(Cart),
                    UpdateLineItem(quantity=quantity), options=options)

    @operation
    def remove_line_item(self, cart_id: str, line_id: str, *, options: RequestOptions | None = None) -> Call[Cart]:
        """Remove a line."""
        return Call("DELETE", f"{CARTS}/{seg(cart_id)}/line-items/{seg(line_id)}", returns(Cart), options=options)

    @operation
    def list_shipping_methods(self, cart_id: str, *,
                              options: RequestOptions | None = None) -> Call[builtins.list[ShippingOption]]:
        """The shipping methods available for the cart's address, each priced for this cart."""
        return Call("GET", f"{CARTS}/{seg(cart_id)}/shipping-methods", returns_list(ShippingOption), options=options)

    @operation
    def select_shipping_method(self, cart_id: str, *, shipping_method_id: str | None,
                               options: RequestOptions | None = None) -> Call[Cart]:
        """Select a shipping method (`None` clears it); returns the cart with its new totals."""
        return Call("PUT", f"{CARTS}/{seg(cart_id)}/shipping-method", returns(Cart),
                    SelectShippingMethod(shipping_method_id=shipping_method_id), options=options)

    @operation
    def apply_discount_code(self, cart_id: str, *, code: str, options: RequestOptions | None = None) -> Call[Cart]:
        """Apply a voucher code; a code that does not apply raises `DiscountInvalidError` (its reason in `details`)."""
        return Call("POST", f"{CARTS}/{seg(cart_id)}/discount-codes", returns(Cart), ApplyDiscountCode(code=code),
                    options=options)

    @operation
    def remove_discount_code(self, cart_id: str, code: str, *, options: RequestOptions | None = None) -> Call[Cart]:
        """Remove a voucher code from the cart."""
        return Call("DELETE", f"{CARTS}/{seg(cart_id)}/discount-codes/{seg(code)}", returns(Cart), options=options)

    @operation
    def recover(self, cart_id: str, *, options: RequestOptions | None = None) -> Call[CartRecovery]:
        """Restore an abandoned cart (what its recovery link does): re-priced against today's catalog and
        promotions, with what changed and its recovery incentive applied."""
        return Call("POST", f"{CARTS}/{seg(cart_id)}/recover", returns(CartRecovery), options=options)
