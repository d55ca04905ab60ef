"""The webhook service's tables: endpoints and their secrets, events, deliveries, attempts.

PostgreSQL is the record of truth for every event, delivery and attempt; Redis only triggers
work. A delivery is one (endpoint, event) pair; its `status` and `next_attempt_at` say what the
delivery job does with it next, so a lost job or a dead worker loses nothing.
"""

from __future__ import annotations

import sqlalchemy as sa
from kassa_platform.columns import JSON, UTCDateTime, new_metadata

metadata = new_metadata()

# Deliveries that are not final. The due-query, the per-endpoint in-flight count and the
# ordered-delivery check only ever look at these rows, through partial indexes.
OPEN_DELIVERY = sa.text("status IN ('pending', 'sending')")
SENDING = sa.text("status = 'sending'")
# Succeeded deliveries whose success the emitting service has not been told of yet (notifications.py).
UNREPORTED_SUCCESS = sa.text("event_type = 'cart.abandoned' AND status = 'succeeded' AND success_reported_at IS NULL")

webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(40), nullable=False),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("description", sa.String(500), nullable=True),
    sa.Column("enabled_events", JSON, nullable=False),
    sa.Column("ordered_delivery", sa.Boolean(), nullable=False),
    sa.Column("max_concurrency", sa.Integer(), nullable=False),
    # The API version its events are rendered in (kassa_contract.versions).
    sa.Column("api_version", sa.String(10), nullable=False),
    sa.Column("disabled", sa.Boolean(), nullable=False),
    sa.Column("disabled_reason", sa.String(200), nullable=True),
    sa.Column("disabled_at", UTCDateTime(), nullable=True),
    # Health: the first failure since the last success (auto-disable after 5 days of it).
    sa.Column("failing_since", UTCDateTime(), nullable=True),
    sa.Column("last_success_at", UTCDateTime(), nullable=True),
    sa.Column("last_failure_at", UTCDateTime(), nullable=True),
    sa.Column("last_failure_reason", sa.String(500), nullable=True),
    # Moves on every change: the `sequence` of the endpoint's own events.
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    # Deleted endpoints keep their rows so that their deliveries and attempts stay on record.
    sa.Column("deleted_at", UTCDateTime(), nullable=True),
    sa.Index("ix_webhook_endpoints_app_id_id", "app_id", "id"),
)

# Every secret an endpoint signs with. A rotation gives the old ones an `expires_at`; a secret
# signs while `expires_at` is NULL or in the future.
webhook_secrets = sa.Table(
    "webhook_secrets",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("endpoint_id", sa.String(40), sa.ForeignKey("webhook_endpoints.id"), nullable=False, index=True),
    sa.Column("secret", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=True),
)

# Each relayed event, stored once, with the exact envelope bytes the outbox holds.
webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(40), nullable=False),
    sa.Column("type", sa.String(80), nullable=False),
    sa.Column("source", sa.String(20), nullable=False),
    sa.Column("aggregate_id", sa.String(40), nullable=False),
    sa.Column("sequence", sa.BigInteger(), nullable=False),
    sa.Column("payload", sa.LargeBinary(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),  # when the outbox row was written
    sa.Column("relayed_at", UTCDateTime(), nullable=False),
    sa.Index("ix_webhook_events_app_id_id", "app_id", "id"),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(40), nullable=False),
    sa.Column("endpoint_id", sa.String(40), sa.ForeignKey("webhook_endpoints.id"), nullable=False),
    sa.Column("event_id", sa.String(40), sa.ForeignKey("webhook_events.id"), nullable=False, index=True),
    sa.Column("event_type", sa.String(80), nullable=False),
    sa.Column("aggregate_id", sa.String(40), nullable=False),
    sa.Column("sequence", sa.BigInteger(), nullable=False),
    # pending: waits for next_attempt_at; sending: claimed by a worker until next_attempt_at (its
    # lease: a worker that dies leaves it due again); succeeded / failed: final.
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
    # The process whose lease a `sending` row is under (kassa_platform.liveness): when it dies the
    # row is due at once, and never counts against the endpoint's cap meanwhile.
    sa.Column("lease_owner", sa.Integer(), nullable=True),
    sa.Column("attempt_count", sa.Integer(), nullable=False),
    # Attempts made in the current retry schedule (a resend or a recovery starts a new one).
    sa.Column("schedule_step", sa.Integer(), nullable=False),
    sa.Column("last_status_code", sa.Integer(), nullable=True),
    sa.Column("last_error", sa.String(500), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("succeeded_at", UTCDateTime(), nullable=True),
    # When the service that emitted the event was told of this success (only for the event types
    # in notifications.REPORTED: `cart.abandoned` makes an abandoned cart `contacted`).
    sa.Column("success_reported_at", UTCDateTime(), nullable=True),
    sa.UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_endpoint_event"),
    sa.Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),
    sa.Index("ix_webhook_deliveries_due", "next_attempt_at",
             postgresql_where=OPEN_DELIVERY, sqlite_where=OPEN_DELIVERY),
    sa.Index("ix_webhook_deliveries_open_by_endpoint", "endpoint_id", "next_attempt_at",
             postgresql_where=OPEN_DELIVERY, sqlite_where=OPEN_DELIVERY),
    sa.Index("ix_webhook_deliveries_open_by_aggregate", "endpoint_id", "aggregate_id", "sequence",
             postgresql_where=OPEN_DELIVERY, sqlite_where=OPEN_DELIVERY),
    # The rows in flight, by endpoint: what a claim counts against the cap and reclaims from the dead.
    sa.Index("ix_webhook_deliveries_sending", "endpoint_id", "lease_owner",
             postgresql_where=SENDING, sqlite_where=SENDING),
    sa.Index("ix_webhook_deliveries_unreported", "id",
             postgresql_where=UNREPORTED_SUCCESS, sqlite_where=UNREPORTED_SUCCESS),
)

webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(40), nullable=False),
    sa.Column("delivery_id", sa.String(40), sa.ForeignKey("webhook_deliveries.id"), nullable=False, index=True),
    sa.Column("endpoint_id", sa.String(40), nullable=False),
    sa.Column("attempt", sa.Integer(), nullable=False),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("succeeded", sa.Boolean(), nullable=False),
    sa.Column("status_code", sa.Integer(), nullable=True),
    sa.Column("latency_ms", sa.Integer(), nullable=False),
    sa.Column("response_excerpt", sa.Text(), nullable=True),  # capped, see delivery.RESPONSE_EXCERPT_BYTES
    sa.Column("error", sa.String(500), nullable=True),
    sa.Index("ix_webhook_attempts_endpoint_id_started_at", "endpoint_id", "started_at"),
)
