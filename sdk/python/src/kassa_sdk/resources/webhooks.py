"""Webhook endpoints, their deliveries and attempts, and the events Kassa sent (scope `webhooks:manage`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from kassa_contract.base import UNSET, UnsetT
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

from .._api_version import ApiVersion
from .._base import Call, M, RequestOptions, Resource, operation, paginated, returns, returns_nothing, returns_page
from ._util import iso, listed, seg

ENDPOINTS = "/api/v1/webhook-endpoints"
DELIVERIES = "/api/v1/webhook-deliveries"
EVENTS = "/api/v1/events"


class WebhookEndpoints(Resource[M]):
    """`client.webhook_endpoints`: where Kassa sends events, signed per Standard Webhooks."""

    @operation
    def create(self, *, url: str, enabled_events: Iterable[str], description: str | None = None,
               disabled: bool = False, ordered_delivery: bool = False, max_concurrency: int = 10,
               secret: str | None = None, api_version: ApiVersion | None = None,
               options: RequestOptions | None = None) -> Call[WebhookEndpoint]:
        """Add an endpoint for `enabled_events` (exact names, `order.*`, or `*`). The `whsec_` secret is in this
        answer only: keep it to verify deliveries (`kassa_sdk.webhooks.verify`). Its events are rendered in
        `api_version` (default: the application's pinned version); this SDK's event types are `API_VERSION`'s."""
        body = CreateWebhookEndpoint(url=url, enabled_events=list(enabled_events), description=description,
                                     disabled=disabled, ordered_delivery=ordered_delivery,
                                     max_concurrency=max_concurrency, secret=secret, api_version=api_version)
        return Call("POST", ENDPOINTS, returns(WebhookEndpoint), body, options=options)

    @paginated
    def list(self, *, limit: int | None = None, cursor: str | None = None,
             options: RequestOptions | None = None) -> Call[Page[WebhookEndpoint]]:
        """The endpoints, a page at a time (secrets obfuscated)."""
        return Call("GET", ENDPOINTS, returns_page(WebhookEndpoint), params={"limit": limit, "cursor": cursor},
                    options=options)

    @operation
    def retrieve(self, endpoint_id: str, *, options: RequestOptions | None = None) -> Call[WebhookEndpoint]:
        """One endpoint (secret obfuscated)."""
        return Call("GET", f"{ENDPOINTS}/{seg(endpoint_id)}", returns(WebhookEndpoint), options=options)

    @operation
    def update(self, endpoint_id: str, *, url: str | UnsetT = UNSET, enabled_events: Iterable[str] | UnsetT = UNSET,
               description: str | None | UnsetT = UNSET, disabled: bool | UnsetT = UNSET,
               ordered_delivery: bool | UnsetT = UNSET, max_concurrency: int | UnsetT = UNSET,
               api_version: ApiVersion | UnsetT = UNSET, options: RequestOptions | None = None) -> Call[WebhookEndpoint]:
        """Change the fields given; `disabled=False` turns an endpoint Kassa disabled back on; `api_version`
        changes the shape of every event delivered to it from then on, pending ones included."""
        body = UpdateWebhookEndpoint(url=url, enabled_events=listed(enabled_events), description=description, disabled=disabled,
                                     ordered_delivery=ordered_delivery, max_concurrency=max_concurrency,
                                     api_version=api_version)
        return Call("PATCH", f"{ENDPOINTS}/{seg(endpoint_id)}", returns(WebhookEndpoint), body, options=options)

    @operation
    def delete(self, endpoint_id: str, *, options: RequestOptions | None = None) -> Call[None]:
        """Delete the endpoint; nothing more is sent to it."""
        return Call("DELETE", f"{ENDPOINTS}/{seg(endpoint_id)}", returns_nothing, options=options)

    @operation
    def rotate_secret(self, endpoint_id: str, *, overlap_hours: int = 24,
                      options: RequestOptions | None = None) -> Call[WebhookEndpoint]:
        """A new signing secret (in this answer only); the old one keeps signing beside it for `overlap_hours`."""
        return Call("POST", f"{ENDPOINTS}/{seg(endpoint_id)}/rotate-secret", returns(WebhookEndpoint),
                    RotateWebhookSecret(overlap_hours=overlap_hours), options=options)

    @operation
    def send_test(self, endpoint_id: str, *, options: RequestOptions | None = None) -> Call[WebhookDelivery]:
        """Send a `webhook_endpoint.test` event to the endpoint now."""
        return Call("POST", f"{ENDPOINTS}/{seg(endpoint_id)}/test", returns(WebhookDelivery), options=options)

    @paginated
    def list_deliveries(self, endpoint_id: str, *, status: DeliveryStatus | None = None, event_type: str | None = None,
                        since: datetime | str | None = None, until: datetime | str | None = None,
                        limit: int | None = None, cursor: str | None = None,
                        options: RequestOptions | None = None) -> Call[Page[WebhookDelivery]]:
        """The endpoint's deliveries, newest first, a page at a time."""
        params = {"status": status, "eventType": event_type, "since": iso(since), "until": iso(until),
                  "limit": limit, "cursor": cursor}
        return Call("GET", f"{ENDPOINTS}/{seg(endpoint_id)}/deliveries", returns_page(WebhookDelivery), params=params,
                    options=options)

    @operation
    def recover(self, endpoint_id: str, *, since: datetime, until: datetime | None = None,
                options: RequestOptions | None = None) -> Call[RecoveryResult]:
        """Send again every failed delivery of the endpoint since `since` (e.g. after an outage on your side)."""
        return Call("POST", f"{ENDPOINTS}/{seg(endpoint_id)}/recover", returns(RecoveryResult),
                    RecoverDeliveries(since=since, until=until), options=options)

    @operation
    def stats(self, endpoint_id: str, *, window_hours: int | None = None,
              options: RequestOptions | None = None) -> Call[WebhookEndpointStats]:
        """Attempts, successes, failures and backlog over the last `window_hours` (default 24)."""
        return Call("GET", f"{ENDPOINTS}/{seg(endpoint_id)}/stats", returns(WebhookEndpointStats),
                    params={"windowHours": window_hours}, options=options)


class WebhookDeliveries(Resource[M]):
    """`client.webhook_deliveries`: one event's delivery to one endpoint, and its attempts."""

    @operation
    def retrieve(self, delivery_id: str, *, options: RequestOptions | None = None) -> Call[WebhookDelivery]:
        """One delivery: status, attempts so far, next attempt, last error."""
        return Call("GET", f"{DELIVERIES}/{seg(delivery_id)}", returns(WebhookDelivery), options=options)

    @paginated
    def list_attempts(self, delivery_id: str, *, limit: int | None = None, cursor: str | None = None,
                      options: RequestOptions | None = None) -> Call[Page[WebhookAttempt]]:
        """Every attempt of a delivery (status code, latency, response excerpt)."""
        return Call("GET", f"{DELIVERIES}/{seg(delivery_id)}/attempts", returns_page(WebhookAttempt),
                    params={"limit": limit, "cursor": cursor}, options=options)

    @operation
    def resend(self, delivery_id: str, *, options: RequestOptions | None = None) -> Call[WebhookDelivery]:
        """Send the delivery again now."""
        return Call("POST", f"{DELIVERIES}/{seg(delivery_id)}/resend", returns(WebhookDelivery), options=options)


class Events(Resource[M]):
    """`client.events`: the events Kassa emitted for the application."""

    @paginated
    def list(self, *, type: str | None = None, limit: int | None = None, cursor: str | None = None,
             options: RequestOptions | None = None) -> Call[Page[Event]]:
        """The events, newest first, a page at a time; `type` filters (`cart.abandoned`)."""
        return Call("GET", EVENTS, returns_page(Event), params={"type": type, "limit": limit, "cursor": cursor},
                    options=options)

    @operation
    def retrieve(self, event_id: str, *, options: RequestOptions | None = None) -> Call[Event]:
        """One event: the envelope every delivery of it sends."""
        return Call("GET", f"{EVENTS}/{seg(event_id)}", returns(Event), options=options)

    @paginated
    def list_deliveries(self, event_id: str, *, status: DeliveryStatus | None = None, limit: int | None = None,
                        cursor: str | None = None, options: RequestOptions | None = None) -> Call[Page[WebhookDelivery]]:
        """The event's deliveries, one per endpoint it went to."""
        return Call("GET", f"{EVENTS}/{seg(event_id)}/deliveries", returns_page(WebhookDelivery),
                    params={"status": status, "limit": limit, "cursor": cursor}, options=options)
