"""HTTP for the webhook service: thin handlers that decode, call the domain and encode."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from kassa_contract.common import Page
from kassa_contract.webhooks import (
    CreateWebhookEndpoint,
    DeliveryStatus,
    Event,
    RecoverDeliveries,
    RecoveryResult,
    RotateWebhookSecret,
    UpdateWebhookEndpoint,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointStats,
)
from kassa_platform.app import caller, runtime_of
from kassa_platform.db import transaction
from kassa_platform.pagination import DEFAULT_LIMIT, Cursor, Limit, check_limit
from litestar import Controller, Request, delete, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter

from .operations import DeliveryFilter
from .service import DELIVER_JOB, WebhookModule, module_of

Status = Annotated[DeliveryStatus | None, QueryParameter(name="status", required=False)]
EventType = Annotated[str | None, QueryParameter(name="eventType", required=False, max_length=80)]
Since = Annotated[datetime | None, QueryParameter(name="since", required=False)]
Until = Annotated[datetime | None, QueryParameter(name="until", required=False)]
WindowHours = Annotated[int, QueryParameter(name="windowHours", ge=1, le=24 * 30)]

MANAGE = {"scope": "webhooks:manage"}


def _module(request: Request[Any, Any, Any]) -> WebhookModule:
    return module_of(runtime_of(request))


class WebhookEndpointController(Controller):
    path = "/api/v1/webhook-endpoints"
    tags = ["webhooks"]

    @post("/", operation_id="createWebhookEndpoint", opt=MANAGE)
    async def create(self, request: Request[Any, Any, Any], data: JSONBody[CreateWebhookEndpoint]) -> WebhookEndpoint:
        m = _module(request)
        async with transaction(m.db) as conn:
            return await m.endpoints.create(conn, caller(request), data, m.clock.now())

    @get("/", operation_id="listWebhookEndpoints", opt=MANAGE)
    async def list_endpoints(self, request: Request[Any, Any, Any], limit: Limit = DEFAULT_LIMIT,
                             cursor: Cursor = None) -> Page[WebhookEndpoint]:
        m = _module(request)
        async with m.db() as conn:
            return await m.endpoints.list(conn, caller(request).app_id, check_limit(limit), cursor)

    @get("/{endpoint_id:str}", operation_id="getWebhookEndpoint", opt=MANAGE)
    async def get_endpoint(self, request: Request[Any, Any, Any], endpoint_id: FromPath[str]) -> WebhookEndpoint:
        m = _module(request)
        async with m.db() as conn:
            return await m.endpoints.get(conn, caller(request).app_id, endpoint_id)

    @patch("/{endpoint_id:str}", operation_id="updateWebhookEndpoint", opt=MANAGE)
    async def update(self, request: Request[Any, Any, Any], endpoint_id: FromPath[str],
                     data: JSONBody[UpdateWebhookEndpoint]) -> WebhookEndpoint:
        m = _module(request)
        async with transaction(m.db) as conn:
            return await m.endpoints.update(conn, caller(request), endpoint_id, data, m.clock.now())

    @delete("/{endpoint_id:str}", operation_id="deleteWebhookEndpoint", opt=MANAGE)
    async def remove(self, request: Request[Any, Any, Any], endpoint_id: FromPath[str]) -> None:
        m = _module(request)
        async with transaction(m.db) as conn:
            await m.endpoints.delete(conn, caller(request).app_id, endpoint_id, m.clock.now())

    @post("/{endpoint_id:str}/rotate-secret", operation_id="rotateWebhookSecret", status_code=200, opt=MANAGE)
    async def rotate(self, request: Request[Any, Any, Any], endpoint_id: FromPath[str],
                     data: JSONBody[RotateWebhookSecret]) -> WebhookEndpoint:
        m = _module(request)
        async with transaction(m.db) as conn:
            return await m.endpoints.rotate(conn, caller(request).app_id, endpoint_id,
                                            timedelta(hours=data.overlap_hours), m.clock.now())

    @post("/{endpoint_id:str}/test", operation_id="sendTestWebhook", status_code=202, opt=MANAGE)
    async def send_test(self, request: Request[Any, Any, Any], endpoint_id: FromPath[str]) -> WebhookDelivery:
        m = _module(request)
        app_id = caller(request).app_id
        async with transaction(m.db) as conn:
            delivery_id = await m.endpoints.send_test(conn, app_id, endpoint_id, m.clock.now())
            delivery = await m.operations.get_delivery(conn, app_id, delivery_id)
        await m.hint(DELIVER_JOB)
        return delivery

    @get("/{endpoint_id:str}/deliveries", operation_id="listEndpointDeliveries", opt=MANAGE)
    async def deliveries(self, request: Request[Any, Any, Any], endpoint_id: FromPath[str], status: Status = None,
                         event_type: EventType = None, since: Since = None, until: Until = None,
                         limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> Page[WebhookDelivery]:
        m = _module(request)
        async with m.db() as conn:
            return await m.operations.list_deliveries(conn, caller(request).app_id, check_limit(limit), cursor,
                                                      DeliveryFilter(status, event_type, since, until),
                                                      endpoint_id=endpoint_id)

    @post("/{endpoint_id:str}/recover", operation_id="recoverWebhookDeliveries", status_code=202, opt=MANAGE)
    async def recover(self, request: Request[Any, Any, Any], endpoint_id: FromPath[str],
                      data: JSONBody[RecoverDeliveries]) -> RecoveryResult:
        m = _module(request)
        async with transaction(m.db) as conn:
            count = await m.operations.recover(conn, caller(request).app_id, endpoint_id, data.since, data.until,
                                               m.clock.now())
        if count:
            await m.hint(DELIVER_JOB)
        return RecoveryResult(recovered=count)

    @get("/{endpoint_id:str}/stats", operation_id="getWebhookEndpointStats", opt=MANAGE)
    async def stats(self, request: Request[Any, Any, Any], endpoint_id: FromPath[str],
                    window_hours: WindowHours = 24) -> WebhookEndpointStats:
        m = _module(request)
        async with m.db() as conn:
            return await m.operations.stats(conn, caller(request).app_id, endpoint_id, window_hours, m.clock.now())


class EventController(Controller):
    path = "/api/v1/events"
    tags = ["webhooks"]

    @get("/", operation_id="listEvents", opt=MANAGE)
    async def list_events(self, request: Request[Any, Any, Any], event_type: Annotated[
            str | None, QueryParameter(name="type", required=False, max_length=80)] = None,
                          limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> Page[Event]:
        m = _module(request)
        async with m.db() as conn:
            return await m.operations.list_events(conn, caller(request).app_id, check_limit(limit), cursor, event_type)

    @get("/{event_id:str}", operation_id="getEvent", opt=MANAGE)
    async def get_event(self, request: Request[Any, Any, Any], event_id: FromPath[str]) -> Event:
        m = _module(request)
        async with m.db() as conn:
            return await m.operations.get_event(conn, caller(request).app_id, event_id)

    @get("/{event_id:str}/deliveries", operation_id="listEventDeliveries", opt=MANAGE)
    async def deliveries(self, request: Request[Any, Any, Any], event_id: FromPath[str], status: Status = None,
                         limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> Page[WebhookDelivery]:
        m = _module(request)
        async with m.db() as conn:
            return await m.operations.list_deliveries(conn, caller(request).app_id, check_limit(limit), cursor,
                                                      DeliveryFilter(status=status), event_id=event_id)


class WebhookDeliveryController(Controller):
    path = "/api/v1/webhook-deliveries"
    tags = ["webhooks"]

    @get("/{delivery_id:str}", operation_id="getWebhookDelivery", opt=MANAGE)
    async def get_delivery(self, request: Request[Any, Any, Any], delivery_id: FromPath[str]) -> WebhookDelivery:
        m = _module(request)
        async with m.db() as conn:
            return await m.operations.get_delivery(conn, caller(request).app_id, delivery_id)

    @get("/{delivery_id:str}/attempts", operation_id="listWebhookAttempts", opt=MANAGE)
    async def attempts(self, request: Request[Any, Any, Any], delivery_id: FromPath[str], limit: Limit = DEFAULT_LIMIT,
                       cursor: Cursor = None) -> Page[WebhookAttempt]:
        m = _module(request)
        async with m.db() as conn:
            return await m.operations.list_attempts(conn, caller(request).app_id, delivery_id, check_limit(limit),
                                                    cursor)

    @post("/{delivery_id:str}/resend", operation_id="resendWebhookDelivery", status_code=202, opt=MANAGE)
    async def resend(self, request: Request[Any, Any, Any], delivery_id: FromPath[str]) -> WebhookDelivery:
        m = _module(request)
        async with transaction(m.db) as conn:
            delivery = await m.operations.resend(conn, caller(request).app_id, delivery_id, m.clock.now())
        await m.hint(DELIVER_JOB)
        return delivery


ROUTES = [WebhookEndpointController, EventController, WebhookDeliveryController]
