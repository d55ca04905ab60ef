"""HTTP for redemptions (served by the cart service): the campaigns' redemption lines (list, export,
cancel by order) and the two-step redemptions of tills and other checkouts (redemption_api.py)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any

from kassa_contract.common import Page
from kassa_contract.errors import KassaError
from kassa_contract.promotions import CancelRedemptions, Redemption
from kassa_contract.redemptions import (
    BasketRedemption,
    ConfirmRedemption,
    CreateRedemption,
    RedemptionRollback,
    RollbackRedemption,
)
from kassa_platform.app import caller
from kassa_platform.db import transaction
from kassa_platform.pagination import DEFAULT_LIMIT, Cursor, Limit, check_limit
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from .http import cart_module
from .redemption_api import RedemptionDesk

READ = {"scope": "promotions:read"}
WRITE = {"scope": "promotions:write"}
REDEEM = {"scope": "redemptions:write"}

RedemptionStatusQuery = Annotated[str | None, QueryParameter(name="status", required=False)]
CampaignQuery = Annotated[str | None, QueryParameter(name="campaignId", required=False)]
FromQuery = Annotated[datetime | None, QueryParameter(name="createdFrom", required=False)]
ToQuery = Annotated[datetime | None, QueryParameter(name="createdTo", required=False)]


TransactionQuery = Annotated[str | None, QueryParameter(name="transactionId", required=False)]


def redemption_view(r: Any, parent: tuple[str, str | None] | None = None) -> Redemption:
    return Redemption(id=r.id, campaign_id=r.campaign_id, code=r.code, cart_id=r.cart_id, order_id=r.order_id,
                      customer=r.customer, amount=r.amount, currency=r.currency, status=r.status, reason=r.reason,
                      message=r.message, created_at=r.created_at, redemption_id=parent[0] if parent else None,
                      transaction_id=parent[1] if parent else None)


class RedemptionController(Controller):
    path = "/api/v1/redemptions"
    tags = ["promotions"]

    @get("/", operation_id="listRedemptions", opt=READ)
    async def list_redemptions(self, request: Request[Any, Any, Any], limit: Limit = DEFAULT_LIMIT,
                               cursor: Cursor = None, campaign_id: CampaignQuery = None,
                               status: RedemptionStatusQuery = None, created_from: FromQuery = None,
                               created_to: ToQuery = None, transaction_id: TransactionQuery = None
                               ) -> Page[Redemption]:
        """The campaigns' redemption lines, each naming the two-step redemption it belongs to (if any);
        with `transactionId`, the lines of the redemption confirmed with that transaction."""
        m, app_id = cart_module(request), caller(request).app_id
        desk = RedemptionDesk(m)
        async with m.db() as conn:
            if transaction_id is not None:
                rows, nxt = await desk.store.lines_of_transaction(conn, app_id=app_id, transaction_id=transaction_id), None
            else:
                rows, nxt = await m.redemptions.list(conn, app_id=app_id, campaign_id=campaign_id, status=status,
                                                     created_from=created_from, created_to=created_to,
                                                     limit=check_limit(limit), cursor=cursor)
            parents = await desk.store.parents_of(conn, [r.id for r in rows])
        return Page(data=[redemption_view(r, parents.get(r.id)) for r in rows], next_cursor=nxt)

    @get("/export", operation_id="exportRedemptions", opt=READ, media_type="text/csv")
    async def export(self, request: Request[Any, Any, Any], campaign_id: CampaignQuery = None,
                     status: RedemptionStatusQuery = None, created_from: FromQuery = None,
                     created_to: ToQuery = None) -> Response[bytes]:
        """Every matching redemption as CSV (read page by page: memory stays flat)."""
        m, app_id = cart_module(request), caller(request).app_id
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(EXPORT_COLUMNS)
        cursor = None
        async with m.db() as conn:
            while True:
                rows, cursor = await m.redemptions.list(conn, app_id=app_id, campaign_id=campaign_id, status=status,
                                                        created_from=created_from, created_to=created_to, limit=100,
                                                        cursor=cursor)
                for r in rows:
                    writer.writerow([r.id, r.campaign_id, r.code or "", r.cart_id or "", r.order_id or "",
                                     r.customer or "", r.amount, r.currency, r.status, r.reason or "",
                                     r.created_at.isoformat()])
                if not cursor:
                    break
        return Response(out.getvalue().encode(), media_type="text/csv",
                        headers={"content-disposition": 'attachment; filename="redemptions.csv"'})

    @post("/cancel", operation_id="cancelRedemptions", status_code=200, opt=WRITE)
    async def cancel(self, request: Request[Any, Any, Any], data: JSONBody[CancelRedemptions]) -> dict[str, list[Redemption]]:
        """Refund or return: the order's confirmed redemptions give back usage, budget and gift card value."""
        m = cart_module(request)
        async with transaction(m.db) as conn:
            rows = await m.redemptions.cancel_order(conn, app_id=caller(request).app_id, order_id=data.order_id,
                                                    now=m.clock.now())
        return {"data": [redemption_view(r) for r in rows]}


    # -- two-step redemptions (tills and other checkouts)

    @post("/", operation_id="reserveRedemption", opt=REDEEM)
    async def reserve(self, request: Request[Any, Any, Any], data: JSONBody[CreateRedemption]) -> BasketRedemption:
        """Hold the discounts of `codes` on a basket (a `cartId` or a snapshot) for `holdMinutes`."""
        return await RedemptionDesk(cart_module(request)).reserve(caller(request).app_id, data)

    @get("/{redemption_id:str}", operation_id="getRedemption", opt=READ)
    async def get_redemption(self, request: Request[Any, Any, Any], redemption_id: FromPath[str]) -> BasketRedemption:
        return await RedemptionDesk(cart_module(request)).get(caller(request).app_id, _rdm(redemption_id))

    @post("/{redemption_id:str}/confirm", operation_id="confirmRedemption", status_code=200, opt=REDEEM)
    async def confirm(self, request: Request[Any, Any, Any], redemption_id: FromPath[str],
                      data: JSONBody[ConfirmRedemption]) -> BasketRedemption:
        return await RedemptionDesk(cart_module(request)).confirm(caller(request).app_id, _rdm(redemption_id), data)

    @post("/{redemption_id:str}/cancel", operation_id="cancelRedemption", status_code=200, opt=REDEEM)
    async def cancel_one(self, request: Request[Any, Any, Any], redemption_id: FromPath[str]) -> BasketRedemption:
        return await RedemptionDesk(cart_module(request)).cancel(caller(request).app_id, _rdm(redemption_id))

    @post("/{redemption_id:str}/rollback", operation_id="rollbackRedemption", opt=REDEEM)
    async def rollback(self, request: Request[Any, Any, Any], redemption_id: FromPath[str],
                       data: JSONBody[RollbackRedemption]) -> RedemptionRollback:
        return await RedemptionDesk(cart_module(request)).rollback(caller(request).app_id, _rdm(redemption_id), data)


def _rdm(redemption_id: str) -> str:
    if not redemption_id.startswith("rdm_"):
        raise KassaError("redemption_not_found", f"No redemption {redemption_id} (two-step redemptions have "
                         "`rdm_` ids)", status=404)
    return redemption_id


EXPORT_COLUMNS = ["id", "campaignId", "code", "cartId", "orderId", "customer", "amount", "currency", "status", "reason",
                  "createdAt"]
ROUTES = [RedemptionController]
