"""The application's audit log: who changed what, newest first (scope `audit:read`; docs/audit-log.md)."""

from __future__ import annotations

from datetime import datetime

from kassa_contract.audit import ActorType, AuditEntry
from kassa_contract.common import Page

from .._base import Call, M, RequestOptions, Resource, paginated, returns_page

AUDIT_LOG = "/api/v1/audit-log"


def _time(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


class AuditLog(Resource[M]):
    """`client.audit_log` (scope `audit:read`)."""

    @paginated
    def list(self, *, actor_id: str | None = None, actor_type: ActorType | None = None,
             resource_type: str | None = None, resource_id: str | None = None, action: str | None = None,
             created_from: datetime | str | None = None, created_to: datetime | str | None = None,
             limit: int | None = None, cursor: str | None = None,
             options: RequestOptions | None = None) -> Call[Page[AuditEntry]]:
        """Entries, newest first, a page at a time; each filter narrows them (`created_from` inclusive,
        `created_to` exclusive)."""
        return Call("GET", AUDIT_LOG, returns_page(AuditEntry), params={
            "actorId": actor_id, "actorType": actor_type, "resourceType": resource_type, "resourceId": resource_id,
            "action": action, "createdFrom": _time(created_from), "createdTo": _time(created_to), "limit": limit,
            "cursor": cursor}, options=options)
