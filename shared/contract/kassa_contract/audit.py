"""The audit log: one entry per change made through the API (docs/audit-log.md), its wire types and its event."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from .base import Model

# Who made the change: a user signed in to a session, an API key, or the operator at the shell
# (`kassa` commands, recorded so an application's history has no holes).
ActorType = Literal["user", "key", "operator"]

# One event type for every entry: a SIEM subscribes once and filters on `action` and `resourceType`,
# and a new audited operation never needs a new event type (nor a new subscription).
AUDIT_ENTRY_CREATED = "audit.entry.created"
# Endpoints get audit events only by naming them (`audit.*` or the type): `*` leaves them out.
AUDIT_EVENT_PREFIX = "audit."


class AuditActor(Model):
    type: ActorType
    id: str


class AuditChanges(Model):
    """The fields that changed, before and after (only those; secrets are never included).

    A creation has no `before`, a deletion no `after`."""

    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


class AuditEntry(Model):
    id: str
    actor: AuditActor
    # `<resourceType>.<verb>`, e.g. `api_key.rolled`, `refund.created`, `webhook_endpoint.updated`.
    action: str
    resource_type: str
    resource_id: str
    changes: AuditChanges
    # None for a workspace-level entry (members, invitations, sign-out everywhere): see `workspace_id`.
    application_id: str | None
    created_at: datetime
    request_id: str | None = None
    source_address: str | None = None
    workspace_id: str | None = None


class AuditEntryEventData(AuditEntry):
    """`audit.entry.created`: the entry as the audit log shows it."""
