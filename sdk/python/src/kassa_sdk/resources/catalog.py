"""Products and their variants (the catalog a cart prices from)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kassa_contract.base import UNSET, UnsetT
from kassa_contract.cart import CreateProduct, Product, UpdateProduct, UpdateVariant, VariantInput
from kassa_contract.common import Page

from .._base import Call, M, RequestOptions, Resource, operation, paginated, returns, returns_page
from ._util import listed, seg

PRODUCTS = "/api/v1/products"


class Products(Resource[M]):
    """`client.products`: the catalog (scopes `catalog:read`, `catalog:write`)."""

    @operation
    def create(self, *, name: str, variants: Iterable[VariantInput], description: str | None = None,
               categories: Iterable[str] = (), tax_class: str = "standard", metadata: dict[str, Any] | None = None,
               options: RequestOptions | None = None) -> Call[Product]:
        """Create a product with at least one variant (`VariantInput(sku=..., prices={"EUR": 1500})`)."""
        body = CreateProduct(name=name, variants=list(variants), description=description, categories=list(categories),
                             tax_class=tax_class, metadata=metadata)
        return Call("POST", PRODUCTS, returns(Product), body, options=options)

    @operation
    def retrieve(self, product_id: str, *, options: RequestOptions | None = None) -> Call[Product]:
        """A product with its variants."""
        return Call("GET", f"{PRODUCTS}/{seg(product_id)}", returns(Product), options=options)

    @paginated
    def list(self, *, limit: int | None = None, cursor: str | None = None,
             options: RequestOptions | None = None) -> Call[Page[Product]]:
        """The products, a page at a time (`auto_paging_iter()` for all of them)."""
        return Call("GET", PRODUCTS, returns_page(Product), params={"limit": limit, "cursor": cursor}, options=options)

    @operation
    def update(self, product_id: str, *, name: str | UnsetT = UNSET, description: str | None | UnsetT = UNSET,
               categories: Iterable[str] | UnsetT = UNSET, tax_class: str | UnsetT = UNSET, active: bool | UnsetT = UNSET,
               metadata: dict[str, Any] | None | UnsetT = UNSET, options: RequestOptions | None = None) -> Call[Product]:
        """Change the fields given (`None` clears a field that may be empty); the others stay as they are."""
        body = UpdateProduct(name=name, description=description, categories=listed(categories), tax_class=tax_class,
                             active=active, metadata=metadata)
        return Call("PATCH", f"{PRODUCTS}/{seg(product_id)}", returns(Product), body, options=options)

    @operation
    def add_variant(self, product_id: str, *, sku: str, prices: dict[str, int], name: str | None = None,
                    metadata: dict[str, Any] | None = None, options: RequestOptions | None = None) -> Call[Product]:
        """Add a variant (prices per currency, in minor units); returns the whole product."""
        body = VariantInput(sku=sku, prices=prices, name=name, metadata=metadata)
        return Call("POST", f"{PRODUCTS}/{seg(product_id)}/variants", returns(Product), body, options=options)

    @operation
    def update_variant(self, product_id: str, variant_id: str, *, prices: dict[str, int] | UnsetT = UNSET,
                       name: str | UnsetT = UNSET, metadata: dict[str, Any] | None | UnsetT = UNSET,
                       options: RequestOptions | None = None) -> Call[Product]:
        """Change a variant's prices, name or metadata; returns the whole product."""
        body = UpdateVariant(prices=prices, name=name, metadata=metadata)
        return Call("PATCH", f"{PRODUCTS}/{seg(product_id)}/variants/{seg(variant_id)}", returns(Product), body,
                    options=options)
