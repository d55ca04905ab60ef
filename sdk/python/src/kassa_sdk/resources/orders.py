"""Orders (made by completed checkouts) and their refunds."""

from __future__ import annotations

import builtins

from kassa_contract.checkout import CreateRefund, Order, Refund
from kassa_contract.common import Page

from .._base import (
    BaseClient,
    Call,
    M,
    RequestOptions,
    Resource,
    operation,
    paginated,
    returns,
    returns_list,
    returns_page,
)
from ._util import seg

ORDERS = "/api/v1/orders"


class Refunds(Resource[M]):
    """`client.orders.refunds` (scopes `orders:read`, `orders:write`)."""

    @operation
    def create(self, order_id: str, *, amount: int | None = None, reason: str | None = None,
               restore_promotions: bool | None = None, options: RequestOptions | None = None) -> Call[Refund]:
        """Refund `amount` (minor units; default: what is left). `restore_promotions` gives the order's discount
        uses, budget and gift-card value back (default: when the order ends fully refunded)."""
        body = CreateRefund(amount=amount, reason=reason, restore_promotions=restore_promotions)
        return Call("POST", f"{ORDERS}/{seg(order_id)}/refunds", returns(Refund), body, options=options)

    @operation
    def list(self, order_id: str, *, options: RequestOptions | None = None) -> Call[builtins.list[Refund]]:
        """Every refund of an order."""
        return Call("GET", f"{ORDERS}/{seg(order_id)}/refunds", returns_list(Refund), options=options)


class Orders(Resource[M]):
    """`client.orders` (scope `orders:read`); `client.orders.refunds`."""

    def __init__(self, client: BaseClient) -> None:
        super().__init__(client)
        self.refunds: Refunds[M] = Refunds(client)

    @paginated
    def list(self, *, limit: int | None = None, cursor: str | None = None,
             options: RequestOptions | None = None) -> Call[Page[Order]]:
        """The orders, newest first, a page at a time (`auto_paging_iter()` for all of them)."""
        return Call("GET", ORDERS, returns_page(Order), params={"limit": limit, "cursor": cursor}, options=options)

    @operation
    def retrieve(self, order_id: str, *, options: RequestOptions | None = None) -> Call[Order]:
        """An order: its lines, discounts, shipping, addresses, totals and metadata as paid."""
        return Call("GET", f"{ORDERS}/{seg(order_id)}", returns(Order), options=options)
