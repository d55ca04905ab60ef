"""Customers (scopes `customers:read`, `customers:write`; erasure `customers:erase`), the customer settings
and the shopper-auth setting (`settings:*`)."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from kassa_contract.base import UNSET, UnsetT
from kassa_contract.common import Page
from kassa_contract.customers import (
    CreateCustomer,
    Customer,
    CustomerVoucher,
    MarketingConsentInput,
    ShopperAuth,
    UpdateCustomer,
    UpdateSegments,
    UpdateShopperAuth,
)
from kassa_contract.erasure import CustomerSettings, EraseCustomer, Erasure, UpdateCustomerSettings

from .._base import Call, M, RequestOptions, Resource, operation, paginated, returns, returns_list, returns_page
from ._util import iso, listed, seg

CUSTOMERS = "/api/v1/customers"
SHOPPER_AUTH = "/api/v1/shopper-auth"
ERASURES = "/api/v1/customer-erasures"
CUSTOMER_SETTINGS = "/api/v1/customer-settings"


class Customers(Resource[M]):
    """`client.customers`: the application's customers, their segments and their vouchers."""

    @operation
    def create(self, *, email: str | None = None, first_name: str | None = None, last_name: str | None = None,
               phone: str | None = None, locale: str | None = None, external_id: str | None = None,
               metadata: dict[str, Any] | None = None, segments: Iterable[str] = (),
               marketing_consent: MarketingConsentInput | None = None,
               options: RequestOptions | None = None) -> Call[Customer]:
        """A new customer. `email` and `external_id` are unique per application (`CustomerEmailTakenError`,
        `CustomerExternalIdTakenError`); `phone` is E.164, `locale` BCP 47."""
        body = CreateCustomer(email=email, first_name=first_name, last_name=last_name, phone=phone, locale=locale,
                              external_id=external_id, metadata=metadata, segments=list(segments),
                              marketing_consent=marketing_consent)
        return Call("POST", CUSTOMERS, returns(Customer), body, options=options)

    @operation
    def retrieve(self, customer_id: str, *, options: RequestOptions | None = None) -> Call[Customer]:
        """One customer by its id (`cus_…`)."""
        return Call("GET", f"{CUSTOMERS}/{seg(customer_id)}", returns(Customer), options=options)

    @operation
    def update(self, customer_id: str, *, email: str | None | UnsetT = UNSET, first_name: str | None | UnsetT = UNSET,
               last_name: str | None | UnsetT = UNSET, phone: str | None | UnsetT = UNSET,
               locale: str | None | UnsetT = UNSET, external_id: str | None | UnsetT = UNSET,
               metadata: dict[str, Any] | None | UnsetT = UNSET, segments: Iterable[str] | None | UnsetT = UNSET,
               marketing_consent: MarketingConsentInput | None | UnsetT = UNSET,
               options: RequestOptions | None = None) -> Call[Customer]:
        """Change the fields given; `None` clears one (`segments=None` empties them)."""
        body = UpdateCustomer(email=email, first_name=first_name, last_name=last_name, phone=phone, locale=locale,
                              external_id=external_id, metadata=metadata, segments=listed(segments),
                              marketing_consent=marketing_consent)
        return Call("PATCH", f"{CUSTOMERS}/{seg(customer_id)}", returns(Customer), body, options=options)

    @paginated
    def list(self, *, email: str | None = None, external_id: str | None = None, segment: str | None = None,
             created_from: datetime | str | None = None, created_to: datetime | str | None = None,
             limit: int | None = None, cursor: str | None = None,
             options: RequestOptions | None = None) -> Call[Page[Customer]]:
        """Customers newest first, a page at a time, filtered by email (case-insensitive), external id,
        segment, and creation time (`created_from` inclusive, `created_to` exclusive)."""
        params = {"email": email, "externalId": external_id, "segment": segment, "createdFrom": iso(created_from),
                  "createdTo": iso(created_to), "limit": limit, "cursor": cursor}
        return Call("GET", CUSTOMERS, returns_page(Customer), params=params, options=options)

    @operation
    def delete(self, customer_id: str, *, options: RequestOptions | None = None) -> Call[Customer]:
        """Delete the customer (answers it as it was); carts and orders keep the id they carried."""
        return Call("DELETE", f"{CUSTOMERS}/{seg(customer_id)}", returns(Customer), options=options)

    @operation
    def update_segments(self, customer_id: str, *, add: Iterable[str] = (), remove: Iterable[str] = (),
                        options: RequestOptions | None = None) -> Call[Customer]:
        """Add then remove segments; repeating a call changes nothing."""
        body = UpdateSegments(add=list(add), remove=list(remove))
        return Call("POST", f"{CUSTOMERS}/{seg(customer_id)}/segments", returns(Customer), body, options=options)

    @operation
    def list_vouchers(self, customer_id: str, *,
                      options: RequestOptions | None = None) -> Call[builtins.list[CustomerVoucher]]:
        """The codes the customer may use now: generic codes they qualify for, codes assigned to them."""
        return Call("GET", f"{CUSTOMERS}/{seg(customer_id)}/vouchers", returns_list(CustomerVoucher),
                    options=options)

    @operation
    def erase(self, *, customer_id: str | None = None, email: str | None = None,
              options: RequestOptions | None = None) -> Call[Erasure]:
        """Erase a person's data (GDPR art. 17), by exactly one of `customer_id` and `email` (the customer
        with that email, or a guest known by it only): personal data redacted in customers, carts,
        checkout sessions, orders (amounts, lines and tax stay), redemptions, abandoned carts, stored
        event bodies and queued deliveries. The answer counts the rows redacted per place; a repeat
        answers zeros. An unknown `customer_id`: `CustomerNotFoundError`."""
        body = EraseCustomer(customer_id=customer_id, email=email)
        return Call("POST", f"{CUSTOMERS}/erase", returns(Erasure), body, options=options)

    @operation
    def retrieve_erasure(self, erasure_id: str, *, options: RequestOptions | None = None) -> Call[Erasure]:
        """An erasure by its id (`era_…`): its status and counts."""
        return Call("GET", f"{ERASURES}/{seg(erasure_id)}", returns(Erasure), options=options)

    @operation
    def retrieve_settings(self, *, options: RequestOptions | None = None) -> Call[CustomerSettings]:
        """The customer settings (scope `settings:read`): which metadata keys hold personal data."""
        return Call("GET", CUSTOMER_SETTINGS, returns(CustomerSettings), options=options)

    @operation
    def update_settings(self, *, personal_metadata_keys: Iterable[str],
                        options: RequestOptions | None = None) -> Call[CustomerSettings]:
        """Name the metadata keys whose values erasure redacts (scope `settings:write`); replaces the list."""
        body = UpdateCustomerSettings(personal_metadata_keys=list(personal_metadata_keys))
        return Call("PUT", CUSTOMER_SETTINGS, returns(CustomerSettings), body, options=options)


class ShopperAuthResource(Resource[M]):
    """`client.shopper_auth` (scopes `settings:read`, `settings:write`): whose shopper tokens
    (`X-Shopper-Token`) the application trusts."""

    @operation
    def retrieve(self, *, options: RequestOptions | None = None) -> Call[ShopperAuth]:
        """The JWKS URL, issuer and audience shopper tokens are checked against."""
        return Call("GET", SHOPPER_AUTH, returns(ShopperAuth), options=options)

    @operation
    def update(self, *, jwks_url: str | None | UnsetT = UNSET, issuer: str | None | UnsetT = UNSET,
               audience: str | None | UnsetT = UNSET, options: RequestOptions | None = None) -> Call[ShopperAuth]:
        """Change the fields given (`None` clears one; without all three no token is accepted)."""
        body = UpdateShopperAuth(jwks_url=jwks_url, issuer=issuer, audience=audience)
        return Call("PUT", SHOPPER_AUTH, returns(ShopperAuth), body, options=options)
