"""Webhook endpoints: create, list, get, update, delete, rotate the secret, disable and enable.

URL rules: https in live mode, http also in test mode; no credentials in the URL; the host passes
`ssrf.check_host` (an IP address only in its canonical form; a loopback, private or link-local
address, or `localhost`, only where the operator allows it). The same rule runs again at delivery
time against the resolved addresses (see `ssrf`): the checks here refuse what can never work.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec
import sqlalchemy as sa
from kassa_contract.audit import AUDIT_EVENT_PREFIX
from kassa_contract.base import UNSET
from kassa_contract.common import Page
from kassa_contract.errors import KassaError
from kassa_contract.events import EVENT_VERSION, EventEnvelope
from kassa_contract.versions import LATEST_VERSION, VERSIONS, is_version, version_error_message
from kassa_contract.webhooks import (
    WEBHOOK_ENDPOINT_DISABLED,
    WEBHOOK_TEST,
    CreateWebhookEndpoint,
    UpdateWebhookEndpoint,
    WebhookEndpoint,
    WebhookEndpointDisabledData,
    WebhookTestData,
)
from kassa_platform import audit
from kassa_platform.auth import Principal
from kassa_platform.ids import new_id
from kassa_platform.outbox import write_event
from kassa_platform.pagination import decode_cursor, encode_cursor
from kassa_platform.rows import for_update
from kassa_platform.ssrf import HostRefused, check_host
from sqlalchemy.ext.asyncio import AsyncConnection

from .config import WebhookConfig
from .endpoint_secrets import (
    add_secret,
    check_secret,
    generate_secret,
    newest_secret,
    obfuscate,
    rotate_secret,
)
from .store import delivery_row, store_deliveries, store_events
from .tables import webhook_deliveries, webhook_endpoints

SOURCE = "webhooks"
_encoder = msgspec.json.Encoder()


def matches(patterns: list[str], event_type: str) -> bool:
    """`cart.updated` matches itself, `cart.*`, and `*`. Audit events are sent only where they are
    asked for by name (`audit.*`, `audit.entry.created`): an ESP or ERP listening to `*` is told of
    orders and carts, not of who rolled which key."""
    for pattern in patterns:
        if pattern == event_type or (pattern == "*" and not event_type.startswith(AUDIT_EVENT_PREFIX)):
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


def check_url(url: str, *, live: bool, allow_private: bool) -> str:
    def invalid(message: str, reason: str) -> KassaError:
        return KassaError("webhook_url_invalid", message, field="url", details={"reason": reason})

    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise invalid("The URL is malformed", "malformed") from None
    allowed_schemes = ("https",) if live else ("https", "http")
    if parts.scheme not in allowed_schemes:
        raise invalid("Live mode endpoints must use https" if live else "The URL must be http or https", "scheme")
    if not host:
        raise invalid("The URL has no host", "malformed")
    if parts.username is not None or parts.password is not None:
        raise invalid("Credentials do not belong in the URL: verify the signature instead", "credentials")
    try:
        check_host(host, allow_private=allow_private)
        httpx.URL(url)  # what each delivery parses: a URL it cannot send to is refused now, not at every attempt
    except HostRefused as exc:
        raise invalid(str(exc), exc.reason) from None
    except httpx.InvalidURL as exc:
        raise invalid(f"The URL is malformed: {exc}", "malformed") from None
    return url


def endpoint_view(row: Any, secret: str) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=row.id, url=row.url, enabled_events=list(row.enabled_events), description=row.description,
        disabled=row.disabled, disabled_reason=row.disabled_reason, disabled_at=row.disabled_at,
        ordered_delivery=row.ordered_delivery, max_concurrency=row.max_concurrency, api_version=row.api_version,
        secret=secret, created_at=row.created_at, updated_at=row.updated_at,
    )


def check_api_version(version: str) -> str:
    """Any known version, older or newer than the application's: the endpoint's reader decides."""
    if not is_version(version):
        raise KassaError("api_version_invalid", version_error_message(version), field="apiVersion",
                         details={"versions": list(VERSIONS)})
    return version


def _live(principal: Principal) -> bool:
    return principal.environment == "live"


async def load_endpoint(conn: AsyncConnection, app_id: str, endpoint_id: str, *, lock: bool = False) -> Any:
    query = sa.select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id,
                                               webhook_endpoints.c.app_id == app_id,
                                               webhook_endpoints.c.deleted_at.is_(None))
    if lock:
        query = for_update(conn, query, key_share=True)
    row = (await conn.execute(query)).first()
    if row is None:
        raise KassaError("webhook_endpoint_not_found", f"No webhook endpoint {endpoint_id}")
    return row


async def fail_open_deliveries(conn: AsyncConnection, endpoint_id: str, reason: str, now: datetime) -> None:
    """Deliveries still waiting on an endpoint that stops receiving become failed (and recoverable)."""
    await conn.execute(sa.update(webhook_deliveries)
                       .where(webhook_deliveries.c.endpoint_id == endpoint_id, webhook_deliveries.c.status == "pending")
                       .values(status="failed", next_attempt_at=None, last_error=reason, updated_at=now))


async def disable_endpoint(conn: AsyncConnection, row: Any, reason: str, now: datetime, *, notify: bool) -> None:
    """Disable an endpoint; an automatic disable also emits `webhook_endpoint.disabled` to the outbox,
    so the merchant's other endpoints (and their alerting) hear about it."""
    version = row.version + 1
    await conn.execute(sa.update(webhook_endpoints).where(webhook_endpoints.c.id == row.id).values(
        disabled=True, disabled_reason=reason, disabled_at=now, version=version, updated_at=now))
    await fail_open_deliveries(conn, row.id, f"endpoint disabled: {reason}", now)
    if notify:
        await write_event(conn, app_id=row.app_id, type=WEBHOOK_ENDPOINT_DISABLED, source=SOURCE,
                          aggregate_id=row.id, sequence=version,
                          data=WebhookEndpointDisabledData(endpoint_id=row.id, sequence=version, url=row.url,
                                                           reason=reason, failing_since=row.failing_since),
                          now=now)


class EndpointService:
    def __init__(self, config: WebhookConfig) -> None:
        self.config = config

    async def create(self, conn: AsyncConnection, principal: Principal, body: CreateWebhookEndpoint,
                     now: datetime) -> WebhookEndpoint:
        check_url(body.url, live=_live(principal), allow_private=self.config.allows_private(principal.app_id))
        secret = check_secret(body.secret) if body.secret is not None else generate_secret()
        endpoint_id = new_id("we")
        await conn.execute(sa.insert(webhook_endpoints).values(
            id=endpoint_id, app_id=principal.app_id, url=body.url, description=body.description,
            enabled_events=list(dict.fromkeys(body.enabled_events)), ordered_delivery=body.ordered_delivery,
            max_concurrency=body.max_concurrency, disabled=body.disabled,
            # The application's pin when absent, so that the endpoint reads what its API calls read.
            api_version=check_api_version(body.api_version) if body.api_version else principal.api_version,
            disabled_reason="manual" if body.disabled else None, disabled_at=now if body.disabled else None,
            failing_since=None, last_success_at=None, last_failure_at=None, last_failure_reason=None, version=1,
            created_at=now, updated_at=now, deleted_at=None))
        await add_secret(conn, self.config.sealer, endpoint_id, secret, now)
        row = await load_endpoint(conn, principal.app_id, endpoint_id)
        created = endpoint_view(row, secret)  # the only response that shows the secret in full
        await audit.record(conn, "webhook_endpoint.created", endpoint_id, app_id=principal.app_id, now=now,
                           after=created)
        return created

    async def get(self, conn: AsyncConnection, app_id: str, endpoint_id: str) -> WebhookEndpoint:
        row = await load_endpoint(conn, app_id, endpoint_id)
        return endpoint_view(row, obfuscate(await newest_secret(conn, self.config.sealer, endpoint_id)))

    async def list(self, conn: AsyncConnection, app_id: str, limit: int, cursor: str | None) -> Page[WebhookEndpoint]:
        after = decode_cursor(cursor)
        query = sa.select(webhook_endpoints).where(webhook_endpoints.c.app_id == app_id,
                                                   webhook_endpoints.c.deleted_at.is_(None))
        if after:
            query = query.where(webhook_endpoints.c.id > after)
        rows = (await conn.execute(query.order_by(webhook_endpoints.c.id).limit(limit + 1))).all()
        items = [endpoint_view(r, obfuscate(await newest_secret(conn, self.config.sealer, r.id))) for r in rows[:limit]]
        return Page(data=items, next_cursor=encode_cursor(rows[limit - 1].id) if len(rows) > limit else None)

    async def update(self, conn: AsyncConnection, principal: Principal, endpoint_id: str, body: UpdateWebhookEndpoint,
                     now: datetime) -> WebhookEndpoint:
        row = await load_endpoint(conn, principal.app_id, endpoint_id, lock=True)
        before = endpoint_view(row, "")
        values: dict[str, Any] = {}
        if body.url is not UNSET:
            values["url"] = check_url(body.url, live=_live(principal),
                                      allow_private=self.config.allows_private(principal.app_id))
        if body.enabled_events is not UNSET:
            values["enabled_events"] = list(dict.fromkeys(body.enabled_events))
        if body.description is not UNSET:
            values["description"] = body.description
        if body.ordered_delivery is not UNSET:
            values["ordered_delivery"] = body.ordered_delivery
        if body.max_concurrency is not UNSET:
            values["max_concurrency"] = body.max_concurrency
        if body.api_version is not UNSET:
            values["api_version"] = check_api_version(body.api_version)
        if body.disabled is True and not row.disabled:
            await disable_endpoint(conn, row, "manual", now, notify=False)
            row = await load_endpoint(conn, principal.app_id, endpoint_id)
        elif body.disabled is False and row.disabled:
            # A fresh start: the failures that led to the disable no longer count towards the next one.
            values.update(disabled=False, disabled_reason=None, disabled_at=None, failing_since=None)
        if values:
            await conn.execute(sa.update(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
                               .values(**values, version=row.version + 1, updated_at=now))
        after = await self.get(conn, principal.app_id, endpoint_id)
        await audit.record(conn, "webhook_endpoint.updated", endpoint_id, app_id=principal.app_id, now=now,
                           before=before, after=after)
        return after

    async def delete(self, conn: AsyncConnection, app_id: str, endpoint_id: str, now: datetime) -> None:
        row = await load_endpoint(conn, app_id, endpoint_id, lock=True)
        await conn.execute(sa.update(webhook_endpoints).where(webhook_endpoints.c.id == row.id)
                           .values(deleted_at=now, updated_at=now, version=row.version + 1))
        await fail_open_deliveries(conn, row.id, "endpoint deleted", now)
        await audit.record(conn, "webhook_endpoint.deleted", endpoint_id, app_id=app_id, now=now,
                           before=endpoint_view(row, ""))

    async def rotate(self, conn: AsyncConnection, app_id: str, endpoint_id: str, overlap: timedelta | None,
                     now: datetime) -> WebhookEndpoint:
        row = await load_endpoint(conn, app_id, endpoint_id, lock=True)
        secret = await rotate_secret(conn, self.config.sealer, row.id, now, self.config.default_rotation_overlap if overlap is None
                                     else overlap)
        await conn.execute(sa.update(webhook_endpoints).where(webhook_endpoints.c.id == row.id)
                           .values(updated_at=now, version=row.version + 1))
        # That the secret changed is recorded, never what to.
        await audit.record(conn, "webhook_endpoint.secret_rotated", endpoint_id, app_id=app_id, now=now,
                           after={"secretRotated": True})
        return endpoint_view(await load_endpoint(conn, app_id, endpoint_id), secret)

    async def send_test(self, conn: AsyncConnection, app_id: str, endpoint_id: str, now: datetime) -> str:
        """Store a sample `webhook_endpoint.test` event addressed to this endpoint alone; return the delivery id."""
        row = await load_endpoint(conn, app_id, endpoint_id)
        if row.disabled:
            raise KassaError("webhook_endpoint_disabled", f"Webhook endpoint {endpoint_id} is disabled: enable it "
                             "first")
        event_id = new_id("evt")
        payload = _encoder.encode(EventEnvelope(id=event_id, type=WEBHOOK_TEST, version=EVENT_VERSION,
                                                api_version=LATEST_VERSION, created_at=now,
                                                data=msgspec.to_builtins(WebhookTestData(
                                                    endpoint_id=endpoint_id, sequence=0,
                                                    message="A test delivery from Kassa"))))
        await store_events(conn, [{"id": event_id, "app_id": app_id, "type": WEBHOOK_TEST, "source": SOURCE,
                                   "aggregate_id": endpoint_id, "sequence": 0, "payload": payload,
                                   "created_at": now, "relayed_at": now}])
        delivery = delivery_row(app_id=app_id, endpoint_id=endpoint_id, event_id=event_id, event_type=WEBHOOK_TEST,
                                aggregate_id=endpoint_id, sequence=0, now=now)
        await store_deliveries(conn, [delivery])
        await audit.record(conn, "webhook_endpoint.test_sent", endpoint_id, app_id=app_id, now=now,
                           after={"deliveryId": delivery["id"], "eventId": event_id})
        return delivery["id"]
