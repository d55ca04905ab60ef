"""Webhook endpoints, events, deliveries and attempts: the webhook service's wire types (docs/contract.md, "Webhooks")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import Meta

from .base import UNSET, Model, Request, UnsetT
from .versions import FIRST_VERSION

# An exact event type (`cart.updated`), a family (`cart.*`), or every event (`*`).
EventPattern = Annotated[str, Meta(pattern=r"^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?)$", max_length=80)]
EndpointUrl = Annotated[str, Meta(min_length=1, max_length=2048)]
Description = Annotated[str, Meta(max_length=500)]
MaxConcurrency = Annotated[int, Meta(ge=1, le=100)]
OverlapHours = Annotated[int, Meta(ge=0, le=168)]
# An API version (`kassa_contract.versions.VERSIONS`); an unknown one is 400 `api_version_invalid`.
ApiVersion = Annotated[str, Meta(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]

DeliveryStatus = Literal["pending", "sending", "succeeded", "failed"]

WEBHOOK_ENDPOINT_DISABLED = "webhook_endpoint.disabled"
WEBHOOK_TEST = "webhook_endpoint.test"


# ---------------------------------------------------------------- requests


class CreateWebhookEndpoint(Request):
    url: EndpointUrl
    enabled_events: Annotated[list[EventPattern], Meta(min_length=1, max_length=100)]
    description: Description | None = None
    disabled: bool = False
    # Deliver one aggregate's (one cart's) events one at a time, in sequence order.
    ordered_delivery: bool = False
    max_concurrency: MaxConcurrency = 10
    # Bring an existing `whsec_…` secret (e.g. when moving from another sender); generated when absent.
    secret: str | None = None
    # The API version events are rendered in for this endpoint; absent: the application's.
    api_version: ApiVersion | None = None


class UpdateWebhookEndpoint(Request):
    """PATCH: an absent field is left alone."""

    url: EndpointUrl | UnsetT = UNSET
    enabled_events: Annotated[list[EventPattern], Meta(min_length=1, max_length=100)] | UnsetT = UNSET
    description: Description | None | UnsetT = UNSET
    disabled: bool | UnsetT = UNSET
    ordered_delivery: bool | UnsetT = UNSET
    max_concurrency: MaxConcurrency | UnsetT = UNSET
    # Moving it changes the shape of every event delivered from then on, pending ones included.
    api_version: ApiVersion | UnsetT = UNSET


class RotateWebhookSecret(Request):
    # How long the previous secret keeps signing beside the new one.
    overlap_hours: OverlapHours = 24


class RecoverDeliveries(Request):
    since: datetime
    until: datetime | None = None


# ---------------------------------------------------------------- responses


class WebhookEndpoint(Model):
    id: str
    url: str
    enabled_events: list[str]
    description: str | None
    disabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    ordered_delivery: bool
    max_concurrency: int
    api_version: str
    # The full `whsec_…` value only in the response that created or rotated it; obfuscated after.
    secret: str
    created_at: datetime
    updated_at: datetime


class Event(Model, kw_only=True):
    """An event as stored by the webhook service: the envelope that every delivery sends."""

    id: str
    type: str
    version: str
    # The API version `data` is shown in: the caller's (an event stored before versions: the first).
    api_version: str = FIRST_VERSION
    created_at: datetime
    data: dict[str, Any]


class WebhookDelivery(Model):
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempt_count: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    succeeded_at: datetime | None


class WebhookAttempt(Model):
    id: str
    delivery_id: str
    endpoint_id: str
    attempt: int
    started_at: datetime
    succeeded: bool
    status_code: int | None
    latency_ms: int
    response_excerpt: str | None
    error: str | None


class RecoveryResult(Model):
    recovered: int


class WebhookEndpointStats(Model):
    endpoint_id: str
    window_hours: int
    attempts: int
    succeeded: int
    failed: int
    success_rate: float | None  # None while there were no attempts in the window
    backlog: int  # deliveries not yet final: pending or sending
    oldest_pending_at: datetime | None
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_failure_reason: str | None
    failing_since: datetime | None


class WebhookTestData(Model):
    """`webhook_endpoint.test` data: the delivery asked for by `POST …/webhook-endpoints/{id}/test`."""

    endpoint_id: str
    sequence: int
    message: str


class WebhookEndpointDisabledData(Model):
    """`webhook_endpoint.disabled` data."""

    endpoint_id: str
    sequence: int
    url: str
    reason: str
    failing_since: datetime | None = None
