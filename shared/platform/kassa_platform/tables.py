"""The platform's own tables: applications, API keys, idempotency keys and the outbox.

Every service shares these (through the platform library), and each service's own tables
carry an `app_id` so that every query is scoped to the caller's application.
"""

from __future__ import annotations

import sqlalchemy as sa

from .columns import JSON, UTCDateTime, new_metadata

metadata = new_metadata()

applications = sa.Table(
    "applications",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("environment", sa.String(8), nullable=False),  # test | live
    sa.Column("created_at", UTCDateTime(), nullable=False),
    # The API version a request without `Kassa-Version` gets (kassa_contract.versions); only moves forward.
    sa.Column("api_version", sa.String(10), nullable=False),
    # The team that owns it (docs/team.md); None for an application made before workspaces, until
    # `kassa users create-owner` attaches it.
    sa.Column("workspace_id", sa.String(40), nullable=True, index=True),
)

# ---------------------------------------------------------------- team accounts (docs/team.md)
# In the platform because every service turns a session cookie into a Principal (auth.SessionResolver);
# the team service writes them (kassa_team), and owns invitations, password resets and mail.

workspaces = sa.Table(
    "workspaces",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("email", sa.String(254), nullable=False, unique=True),  # lower case
    sa.Column("name", sa.String(200), nullable=True),
    sa.Column("password_hash", sa.String(200), nullable=False),  # argon2id (kassa_team.passwords)
    sa.Column("created_at", UTCDateTime(), nullable=False),
    # Moves on every change to what the user may do (roles, sessions ended): processes drop the user's
    # cached sessions (a trigger notifies on PostgreSQL; SQLite's processes watch the newest value).
    sa.Column("changed_at", UTCDateTime(), nullable=False, index=True),
)

user_sessions = sa.Table(
    "user_sessions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),  # SHA-256 of the cookie's 192 random bits
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
    sa.Column("address", sa.String(64), nullable=True),
    sa.Column("user_agent", sa.String(300), nullable=True),
    # Its last request, written every few seconds (SessionResolver.flush_seen): the idle timeout's clock.
    sa.Column("last_seen_at", UTCDateTime(), nullable=True),
)

memberships = sa.Table(
    "memberships",
    metadata,
    sa.Column("workspace_id", sa.String(40), sa.ForeignKey("workspaces.id"), primary_key=True),
    sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id"), primary_key=True, index=True),
    sa.Column("role", sa.String(12), nullable=False),  # owner | admin | member (kassa_platform.roles)
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

application_roles = sa.Table(
    "application_roles",
    metadata,
    sa.Column("app_id", sa.String(40), sa.ForeignKey("applications.id"), primary_key=True),
    sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id"), primary_key=True, index=True),
    sa.Column("role", sa.String(12), nullable=False),  # admin | developer | finance | viewer
)

# The audit log (kassa_platform.audit, docs/audit-log.md): one row per change made through the API by a
# key or a user's session (or by the operator at the shell), written in the change's own transaction.
audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),  # aud_…, time-ordered: the list's order and cursor
    # None for a workspace-level entry (a team change: members, invitations), then listed by workspace_id.
    sa.Column("app_id", sa.String(40), sa.ForeignKey("applications.id"), nullable=True),
    sa.Column("workspace_id", sa.String(40), nullable=True),
    sa.Column("action", sa.String(80), nullable=False),  # e.g. api_key.rolled, application.api_version_upgraded
    sa.Column("actor_type", sa.String(12), nullable=False),  # user | key | operator
    sa.Column("actor_id", sa.String(80), nullable=False),  # usr_…, key_…, or `cli`
    sa.Column("resource_type", sa.String(40), nullable=False),
    sa.Column("resource_id", sa.String(200), nullable=False),
    sa.Column("changes", JSON, nullable=False),  # {"before": {...}, "after": {...}}: changed fields only, redacted
    sa.Column("request_id", sa.String(100), nullable=True),
    sa.Column("source_address", sa.String(64), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    # One per filter of GET /api/v1/audit-log, each ending in the id the pages are cut on.
    sa.Index("ix_audit_events_app", "app_id", "created_at"),
    sa.Index("ix_audit_events_app_id", "app_id", "id"),
    sa.Index("ix_audit_events_actor", "app_id", "actor_id", "id"),
    sa.Index("ix_audit_events_actor_type", "app_id", "actor_type", "id"),
    sa.Index("ix_audit_events_resource", "app_id", "resource_type", "resource_id", "id"),
    sa.Index("ix_audit_events_action", "app_id", "action", "id"),
    sa.Index("ix_audit_events_created", "created_at"),  # the retention job's deletes, across applications
    sa.Index("ix_audit_events_workspace", "workspace_id", "id"),  # workspace-level entries
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(40), sa.ForeignKey("applications.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(12), nullable=False),  # secret | publishable
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("last4", sa.String(4), nullable=False),
    sa.Column("scopes", JSON, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
    sa.Column("name", sa.String(100), nullable=True),
    # A rolled key's old secret works until then.
    sa.Column("expires_at", UTCDateTime(), nullable=True),
    # Written in batches, at most once a minute per key and process (auth.KeyResolver), never per request.
    sa.Column("last_used_at", UTCDateTime(), nullable=True),
    # Moves when a key stops working (revoked, rolled): processes on SQLite watch it to drop cached keys.
    sa.Column("changed_at", UTCDateTime(), nullable=True, index=True),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("app_id", sa.String(40), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("state", sa.String(12), nullable=False),  # in_progress | executed | completed
    sa.Column("locked_until", UTCDateTime(), nullable=False),
    # The process running the claimed request (kassa_platform.liveness); its death ends the lock.
    sa.Column("owner", sa.Integer(), nullable=True),
    sa.Column("status_code", sa.Integer(), nullable=True),
    sa.Column("response_headers", JSON, nullable=True),
    sa.Column("response_body", sa.LargeBinary(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False, index=True),
)

outbox_events = sa.Table(
    "outbox_events",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(40), nullable=False),
    sa.Column("type", sa.String(80), nullable=False),
    sa.Column("source", sa.String(20), nullable=False),
    sa.Column("aggregate_id", sa.String(40), nullable=False),
    sa.Column("sequence", sa.BigInteger(), nullable=False),
    sa.Column("payload", sa.LargeBinary(), nullable=False),  # the envelope, exactly as it will be sent
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("published_at", UTCDateTime(), nullable=True),
    sa.Index("ix_outbox_events_aggregate", "aggregate_id", "sequence"),
    sa.Index(
        "ix_outbox_events_pending",
        "created_at",
        postgresql_where=sa.text("published_at IS NULL"),
        sqlite_where=sa.text("published_at IS NULL"),
    ),
)
