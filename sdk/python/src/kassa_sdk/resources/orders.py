"""Orders (made by completed checkouts) and their refunds."""

from __future__ import annotations

import builtins
from datetime import datetime

from kassa_contract.checkout import CreateRefund, Order, OrderStatus, OrderSummary, Refund
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
from ._util import iso, seg

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
    def list(self, *, status: OrderStatus | None = None, email: str | None = None,
             created_from: datetime | str | None = None, created_to: datetime | str | None = None,
             limit: int | None = None, cursor: str | None = None,
             options: RequestOptions | None = None) -> Call[Page[Order]]:
        """The orders, newest first, a page at a time (`auto_paging_iter()` for all of them); filtered by
        `status`, the shopper's `email` (any case) and `created_from` <= created at < `created_to`."""
        params = {"status": status, "email": email, "createdFrom": iso(created_from), "createdTo": iso(created_to),
                  "limit": limit, "cursor": cursor}
        return Call("GET", ORDERS, returns_page(Order), params=params, options=options)

    @operation
    def summary(self, *, days: int | None = None, time_zone: str | None = None,
                options: RequestOptions | None = None) -> Call[OrderSummary]:
        """Orders, revenue and refunds per day over the last `days` (default 30), days counted in the IANA
        `time_zone` (default UTC)."""
        return Call("GET", f"{ORDERS}/summary", returns(OrderSummary), params={"days": days, "timeZone": time_zone},
                    options=options)

    @operation
    def retrieve(self, order_id: str, *, options: RequestOptions | None = None) -> Call[Order]:
        """An order: its lines, discounts, shipping, addresses, totals and metadata as paid."""
        return Call("GET", f"{ORDERS}/{seg(order_id)}", returns(Order), options=options)
