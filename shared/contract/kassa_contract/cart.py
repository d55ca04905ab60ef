"""Carts, catalog, shipping and tax: the cart service's wire types (docs/contract.md, "Carts")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import Meta

from .base import UNSET, Model, Request, UnsetT
from .common import Amount, CountryCode, CurrencyCode, Email, Metadata, Name, ShortText
from .countries import COUNTRY_CODES
from .customers import CartCustomer

MAX_QUANTITY = 9999
Quantity = Annotated[int, Meta(ge=1, le=MAX_QUANTITY)]
QuantityOrZero = Annotated[int, Meta(ge=0, le=MAX_QUANTITY)]
Category = Annotated[str, Meta(min_length=1, max_length=100)]
TaxClass = Annotated[str, Meta(pattern=r"^[a-z0-9_]{1,40}$")]
Sku = Annotated[str, Meta(min_length=1, max_length=100)]
# A percentage as a decimal string ("19", "7.7", "8.875"): never a float.
TaxRatePercent = Annotated[str, Meta(pattern=r"^(100(\.0{1,4})?|[0-9]{1,2}(\.[0-9]{1,4})?)$")]

CartStatus = Literal["open", "checkout", "converted"]


class CartAddress(Request):
    """The one canonical address shape, validated on write."""

    address_line1: Name
    city: Name
    country_code: CountryCode
    first_name: ShortText | None = None
    last_name: ShortText | None = None
    company: ShortText | None = None
    address_line2: ShortText | None = None
    region: ShortText | None = None
    postal_code: Annotated[str, Meta(max_length=20)] | None = None
    phone: Annotated[str, Meta(max_length=40)] | None = None

    def __post_init__(self) -> None:
        if self.country_code not in COUNTRY_CODES:
            raise ValueError(f"countryCode: `{self.country_code}` is not an ISO 3166-1 alpha-2 country code")
        if not self.address_line1.strip():
            raise ValueError("addressLine1: must not be blank")
        if not self.city.strip():
            raise ValueError("city: must not be blank")


# ---------------------------------------------------------------- requests


class LineItemInput(Request):
    """Either `variantId` (priced from the catalog) or a custom line (secret keys only)."""

    quantity: Quantity = 1
    variant_id: str | None = None
    sku: Sku | None = None
    name: Name | None = None
    unit_price: Amount | None = None
    categories: list[Category] | None = None
    tax_class: TaxClass | None = None
    metadata: Metadata | None = None


class CreateCart(Request):
    currency: CurrencyCode
    customer_email: Email | None = None
    # The customer the cart belongs to (secret keys; a browser proves its shopper with X-Shopper-Token).
    customer_id: str | None = None
    line_items: Annotated[list[LineItemInput], Meta(max_length=1000)] = []
    shipping_address: CartAddress | None = None
    billing_address: CartAddress | None = None
    metadata: Metadata | None = None
    discount_codes: Annotated[list[Annotated[str, Meta(min_length=1, max_length=64)]], Meta(max_length=20)] = []


class UpdateCart(Request):
    """PATCH: an absent field is left alone, `null` clears it."""

    customer_email: Email | None | UnsetT = UNSET
    shipping_address: CartAddress | None | UnsetT = UNSET
    billing_address: CartAddress | None | UnsetT = UNSET
    metadata: Metadata | None | UnsetT = UNSET
    customer_id: str | None | UnsetT = UNSET  # secret keys only; null detaches the customer


class UpdateLineItem(Request):
    quantity: QuantityOrZero


class SelectShippingMethod(Request):
    shipping_method_id: str | None


# ---------------------------------------------------------------- responses


class LineDiscountAllocation(Model):
    """The part of one discount that falls on one line."""

    campaign_id: str
    code: str | None
    amount: int


class LineItem(Model):
    id: str
    variant_id: str | None
    product_id: str | None
    sku: str
    name: str
    quantity: int
    unit_price: int
    subtotal: int
    discount_total: int
    tax_total: int
    total: int
    tax_rate: str
    tax_class: str
    categories: list[str]
    custom: bool
    metadata: dict[str, Any] | None = None
    discount_allocations: list[LineDiscountAllocation] = []


class SelectedShippingMethod(Model):
    id: str
    name: str
    amount: int
    discount_total: int = 0
    tax_total: int = 0


class AppliedDiscount(Model):
    code: str | None
    campaign_id: str | None
    name: str
    amount: int
    applied: bool = True
    reason: str | None = None
    message: str | None = None


class Notice(Model):
    code: str
    message: str


class TaxLine(Model):
    name: str
    rate: str
    taxable_amount: int
    amount: int


class Cart(Model):
    id: str
    status: CartStatus
    currency: CurrencyCode
    customer_email: str | None
    line_items: list[LineItem]
    shipping_address: CartAddress | None
    billing_address: CartAddress | None
    shipping_method: SelectedShippingMethod | None
    discounts: list[AppliedDiscount]
    notices: list[Notice]
    tax_lines: list[TaxLine]
    taxes_included: bool
    subtotal: int
    discount_total: int
    shipping_total: int
    tax_total: int
    total: int
    item_count: int
    metadata: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    abandoned_at: datetime | None = None
    client_secret: str | None = None
    # The customer the cart belongs to, as it was when attached (null for a guest cart).
    customer: CartCustomer | None = None


# ---------------------------------------------------------------- catalog


# A product's or variant's page and picture, for emails and storefronts (absolute http(s) URLs).
CatalogUrl = Annotated[str, Meta(min_length=1, max_length=2048, pattern=r"^https?://\S+$")]


class VariantInput(Request):
    sku: Sku
    prices: dict[CurrencyCode, Amount]
    name: Name | None = None
    metadata: Metadata | None = None
    # The variant's own page and picture (else its product's).
    url: CatalogUrl | None = None
    image_url: CatalogUrl | None = None


class CreateProduct(Request):
    name: Name
    variants: Annotated[list[VariantInput], Meta(min_length=1, max_length=100)]
    description: Annotated[str, Meta(max_length=5000)] | None = None
    categories: Annotated[list[Category], Meta(max_length=50)] = []
    tax_class: TaxClass = "standard"
    metadata: Metadata | None = None
    url: CatalogUrl | None = None
    image_url: CatalogUrl | None = None


class UpdateProduct(Request):
    name: Name | UnsetT = UNSET
    description: Annotated[str, Meta(max_length=5000)] | None | UnsetT = UNSET
    categories: Annotated[list[Category], Meta(max_length=50)] | UnsetT = UNSET
    tax_class: TaxClass | UnsetT = UNSET
    active: bool | UnsetT = UNSET
    metadata: Metadata | None | UnsetT = UNSET
    url: CatalogUrl | None | UnsetT = UNSET
    image_url: CatalogUrl | None | UnsetT = UNSET


class UpdateVariant(Request):
    prices: dict[CurrencyCode, Amount] | UnsetT = UNSET
    name: Name | UnsetT = UNSET
    metadata: Metadata | None | UnsetT = UNSET
    url: CatalogUrl | None | UnsetT = UNSET
    image_url: CatalogUrl | None | UnsetT = UNSET


class Variant(Model):
    id: str
    product_id: str
    sku: str
    name: str
    prices: dict[str, int]
    metadata: dict[str, Any] | None = None
    url: str | None = None
    image_url: str | None = None


class Product(Model):
    id: str
    name: str
    description: str | None
    categories: list[str]
    tax_class: str
    active: bool
    variants: list[Variant]
    metadata: dict[str, Any] | None
    created_at: datetime
    url: str | None = None
    image_url: str | None = None


# ---------------------------------------------------------------- shipping and tax


class CreateShippingMethod(Request):
    name: Name
    prices: dict[CurrencyCode, Amount]
    free_above: dict[CurrencyCode, Amount] | None = None
    countries: Annotated[list[CountryCode], Meta(max_length=250)] | None = None
    tax_class: TaxClass = "shipping"
    active: bool = True

    def __post_init__(self) -> None:
        for i, code in enumerate(self.countries or ()):
            if code not in COUNTRY_CODES:
                raise ValueError(f"countries[{i}]: `{code}` is not an ISO 3166-1 alpha-2 country code")


class UpdateShippingMethod(Request):
    name: Name | UnsetT = UNSET
    prices: dict[CurrencyCode, Amount] | UnsetT = UNSET
    free_above: dict[CurrencyCode, Amount] | None | UnsetT = UNSET
    countries: Annotated[list[CountryCode], Meta(max_length=250)] | None | UnsetT = UNSET
    active: bool | UnsetT = UNSET


class ShippingMethod(Model):
    id: str
    name: str
    prices: dict[str, int]
    free_above: dict[str, int] | None
    countries: list[str] | None
    tax_class: str
    active: bool


class ShippingOption(Model):
    """A shipping method as offered to one cart, priced for it."""

    id: str
    name: str
    amount: int
    currency: CurrencyCode
    selected: bool


class CreateTaxRate(Request):
    country_code: CountryCode
    rate: TaxRatePercent
    name: Name
    region: ShortText | None = None
    tax_class: TaxClass = "standard"

    def __post_init__(self) -> None:
        if self.country_code not in COUNTRY_CODES:
            raise ValueError(f"countryCode: `{self.country_code}` is not an ISO 3166-1 alpha-2 country code")


class TaxRate(Model):
    id: str
    country_code: CountryCode
    region: str | None
    tax_class: str
    rate: str
    name: str


class TaxSettings(Model):
    prices_include_tax: bool


class UpdateTaxSettings(Request):
    prices_include_tax: bool

