"""HTTP for the embed config and abandoned carts (docs/contract.md, "Embed config and abandoned carts"),
and the internal call by which the webhook service reports delivered `cart.abandoned` events."""

from __future__ import annotations

from typing import Annotated, Any

from kassa_contract.abandoned import (
    AbandonedCart,
    AbandonedCartSummary,
    AbandonmentContacted,
    AbandonmentContactedResult,
    AbandonmentDaily,
    EmbedConfig,
    UpdateEmbedConfig,
)
from kassa_contract.common import Page
from kassa_contract.errors import KassaError
from kassa_platform.app import caller, runtime_of
from kassa_platform.daily import day_window
from kassa_platform.db import transaction
from kassa_platform.pagination import DEFAULT_LIMIT, Cursor, Limit, query_time
from litestar import Controller, Request, get, post, put
from litestar.params import JSONBody, QueryParameter

from . import abandonment
from .embed_config import get_embed_config, put_embed_config
from .http import cart_module

# Taken as text and parsed here, so that an error names the parameter as the client wrote it.
SinceQuery = Annotated[str | None, QueryParameter(name="from", required=False)]
UntilQuery = Annotated[str | None, QueryParameter(name="to", required=False)]
StatusQuery = Annotated[str | None, QueryParameter(name="recoveryStatus", required=False)]
WindowQuery = Annotated[str | None, QueryParameter(name="windowDays", required=False)]
DaysQuery = Annotated[str | None, QueryParameter(name="days", required=False)]
TimeZoneQuery = Annotated[str | None, QueryParameter(name="timeZone", required=False)]


def _window(value: str | None) -> int:
    if value is None or value == "":
        return abandonment.WINDOW_DAYS_DEFAULT
    try:
        return int(value)
    except ValueError:
        raise KassaError("validation_error", f"windowDays must be a whole number of days between "
                         f"{abandonment.WINDOW_DAYS_MIN} and {abandonment.WINDOW_DAYS_MAX}", field="windowDays",
                         status=400) from None


class EmbedConfigController(Controller):
    path = "/api/v1/embed-config"
    tags = ["embed config"]

    @get("/", operation_id="getEmbedConfig", opt={"scope": "settings:read"})
    async def get_config(self, request: Request[Any, Any, Any]) -> EmbedConfig:
        m = cart_module(request)
        async with m.db() as conn:
            return await get_embed_config(conn, caller(request).app_id)

    @put("/", operation_id="updateEmbedConfig", opt={"scope": "settings:write"})
    async def put_config(self, request: Request[Any, Any, Any], data: JSONBody[UpdateEmbedConfig]) -> EmbedConfig:
        m = cart_module(request)
        async with transaction(m.db) as conn:
            config = await put_embed_config(conn, caller(request), data, m.clock.now())
        runtime_of(request).origins.forget(caller(request).app_id)  # browsers see new origins at once here
        return config


class AbandonedCartController(Controller):
    path = "/api/v1/abandoned-carts"
    tags = ["abandoned carts"]

    @get("/", operation_id="listAbandonedCarts", opt={"scope": "carts:read"})
    async def list_carts(self, request: Request[Any, Any, Any], limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None,
                         since: SinceQuery = None, until: UntilQuery = None,
                         recovery_status: StatusQuery = None) -> Page[AbandonedCart]:
        m = cart_module(request)
        async with m.db() as conn:
            return await abandonment.list_abandoned(conn, caller(request).app_id, limit=limit, cursor=cursor,
                                                    since=query_time(since, "from"), until=query_time(until, "to"),
                                                    recovery_status=recovery_status)

    @get("/daily", operation_id="abandonedCartsDaily", opt={"scope": "carts:read"})
    async def daily(self, request: Request[Any, Any, Any], days: DaysQuery = None,
                    time_zone: TimeZoneQuery = None) -> AbandonmentDaily:
        m = cart_module(request)
        window = day_window(days, time_zone, m.clock.now())
        async with m.db() as conn:
            return await abandonment.daily(conn, caller(request).app_id, window)

    @get("/summary", operation_id="summarizeAbandonedCarts", opt={"scope": "carts:read"})
    async def summary(self, request: Request[Any, Any, Any],
                      window_days: WindowQuery = None) -> AbandonedCartSummary:
        m = cart_module(request)
        async with m.db() as conn:
            return await abandonment.summary(conn, caller(request).app_id, window_days=_window(window_days),
                                              now=m.clock.now())


class AbandonmentInternalController(Controller):
    """Answers other Kassa services only (`internal`): never an API key."""

    path = "/internal/carts"
    tags = ["internal"]
    include_in_schema = False

    @post("/abandonment-contacted", operation_id="abandonmentContacted", status_code=200,
          opt={"internal": True, "scope": "carts:write"})
    async def contacted(self, request: Request[Any, Any, Any],
                        data: JSONBody[AbandonmentContacted]) -> AbandonmentContactedResult:
        m = cart_module(request)
        async with transaction(m.db) as conn:
            updated = await abandonment.mark_contacted(conn, caller(request).app_id, data.deliveries)
        return AbandonmentContactedResult(updated=updated)


ROUTES = [EmbedConfigController, AbandonedCartController, AbandonmentInternalController]
