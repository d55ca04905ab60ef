"""Shipping methods, tax rates and the tax-inclusive switch: how Kassa prices carts (per application)."""

from __future__ import annotations

import builtins
from collections.abc import Iterable

from kassa_contract.base import UNSET, UnsetT
from kassa_contract.cart import (
    CreateShippingMethod,
    CreateTaxRate,
    ShippingMethod,
    TaxRate,
    TaxSettings,
    UpdateShippingMethod,
    UpdateTaxSettings,
)

from .._base import Call, M, RequestOptions, Resource, operation, returns, returns_list, returns_nothing
from ._util import listed, seg

SHIPPING = "/api/v1/shipping-methods"
TAX_RATES = "/api/v1/tax-rates"


class ShippingMethods(Resource[M]):
    """`client.shipping_methods` (scopes `settings:read`, `settings:write`)."""

    @operation
    def create(self, *, name: str, prices: dict[str, int], free_above: dict[str, int] | None = None,
               countries: Iterable[str] | None = None, tax_class: str = "shipping", active: bool = True,
               options: RequestOptions | None = None) -> Call[ShippingMethod]:
        """Create a shipping method: a price per currency, optionally free above an amount, limited to `countries`."""
        body = CreateShippingMethod(name=name, prices=prices, free_above=free_above, countries=listed(countries),
                                    tax_class=tax_class, active=active)
        return Call("POST", SHIPPING, returns(ShippingMethod), body, options=options)

    @operation
    def list(self, *, options: RequestOptions | None = None) -> Call[builtins.list[ShippingMethod]]:
        """Every shipping method of the application."""
        return Call("GET", SHIPPING, returns_list(ShippingMethod), options=options)

    @operation
    def retrieve(self, method_id: str, *, options: RequestOptions | None = None) -> Call[ShippingMethod]:
        """One shipping method."""
        return Call("GET", f"{SHIPPING}/{seg(method_id)}", returns(ShippingMethod), options=options)

    @operation
    def update(self, method_id: str, *, name: str | UnsetT = UNSET, prices: dict[str, int] | UnsetT = UNSET,
               free_above: dict[str, int] | None | UnsetT = UNSET, countries: Iterable[str] | None | UnsetT = UNSET,
               active: bool | UnsetT = UNSET, options: RequestOptions | None = None) -> Call[ShippingMethod]:
        """Change the fields given; `None` clears `free_above` or `countries`."""
        body = UpdateShippingMethod(name=name, prices=prices, free_above=free_above, countries=listed(countries),
                                    active=active)
        return Call("PATCH", f"{SHIPPING}/{seg(method_id)}", returns(ShippingMethod), body, options=options)

    @operation
    def delete(self, method_id: str, *, options: RequestOptions | None = None) -> Call[None]:
        """Delete a shipping method (carts that had it selected lose it on their next pricing)."""
        return Call("DELETE", f"{SHIPPING}/{seg(method_id)}", returns_nothing, options=options)


class TaxRates(Resource[M]):
    """`client.tax_rates` (scopes `settings:read`, `settings:write`)."""

    @operation
    def create(self, *, country_code: str, rate: str, name: str, region: str | None = None,
               tax_class: str = "standard", options: RequestOptions | None = None) -> Call[TaxRate]:
        """Create a tax rate: `rate` is a percentage as a decimal string ("19", "7.7"), never a float."""
        body = CreateTaxRate(country_code=country_code, rate=rate, name=name, region=region, tax_class=tax_class)
        return Call("POST", TAX_RATES, returns(TaxRate), body, options=options)

    @operation
    def list(self, *, options: RequestOptions | None = None) -> Call[builtins.list[TaxRate]]:
        """Every tax rate of the application."""
        return Call("GET", TAX_RATES, returns_list(TaxRate), options=options)

    @operation
    def delete(self, rate_id: str, *, options: RequestOptions | None = None) -> Call[None]:
        """Delete a tax rate."""
        return Call("DELETE", f"{TAX_RATES}/{seg(rate_id)}", returns_nothing, options=options)


class TaxSettingsResource(Resource[M]):
    """`client.tax_settings`: whether catalog prices include tax."""

    @operation
    def retrieve(self, *, options: RequestOptions | None = None) -> Call[TaxSettings]:
        """The tax settings."""
        return Call("GET", "/api/v1/tax-settings", returns(TaxSettings), options=options)

    @operation
    def update(self, *, prices_include_tax: bool, options: RequestOptions | None = None) -> Call[TaxSettings]:
        """Set whether prices include tax (carts are priced again on their next change)."""
        return Call("PUT", "/api/v1/tax-settings", returns(TaxSettings),
                    UpdateTaxSettings(prices_include_tax=prices_include_tax), options=options)
