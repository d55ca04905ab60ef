"""Abandoned carts: each abandonment, its recovery status, and a summary over a window."""

from __future__ import annotations

from datetime import datetime

from kassa_contract.abandoned import AbandonedCart, AbandonedCartSummary, AbandonmentDaily, RecoveryStatus
from kassa_contract.common import Page

from .._base import Call, M, RequestOptions, Resource, operation, paginated, returns, returns_page
from ._util import iso

ABANDONED = "/api/v1/abandoned-carts"


class AbandonedCarts(Resource[M]):
    """`client.abandoned_carts` (scope `carts:read`)."""

    @paginated
    def list(self, *, since: datetime | str | None = None, until: datetime | str | None = None,
             recovery_status: RecoveryStatus | None = None, limit: int | None = None, cursor: str | None = None,
             options: RequestOptions | None = None) -> Call[Page[AbandonedCart]]:
        """One row per abandonment, newest first; `since` <= abandoned at < `until` (the API's `from` and `to`)."""
        params = {"from": iso(since), "to": iso(until), "recoveryStatus": recovery_status, "limit": limit,
                  "cursor": cursor}
        return Call("GET", ABANDONED, returns_page(AbandonedCart), params=params, options=options)

    @operation
    def summary(self, *, window_days: int | None = None,
                options: RequestOptions | None = None) -> Call[AbandonedCartSummary]:
        """Abandoned and recovered counts and values over the trailing `window_days` (1-365, default 30)."""
        return Call("GET", f"{ABANDONED}/summary", returns(AbandonedCartSummary), params={"windowDays": window_days},
                    options=options)

    @operation
    def daily(self, *, days: int | None = None, time_zone: str | None = None,
              options: RequestOptions | None = None) -> Call[AbandonmentDaily]:
        """Carts abandoned and recovered per day over the last `days` (default 30), days counted in the IANA
        `time_zone` (default UTC)."""
        return Call("GET", f"{ABANDONED}/daily", returns(AbandonmentDaily),
                    params={"days": days, "timeZone": time_zone}, options=options)
