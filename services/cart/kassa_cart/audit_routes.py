"""HTTP for the audit log (docs/audit-log.md): the application's entries, newest first.

Served by the cart service beside the API keys and the application (`api_key_routes`,
`application_routes`): the entries are the platform's table, which every service writes in its own
transactions (`kassa_platform.audit`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from kassa_contract.audit import AuditEntry
from kassa_contract.common import Page
from kassa_platform import audit
from kassa_platform.app import caller, runtime_of
from kassa_platform.pagination import DEFAULT_LIMIT, Cursor, Limit, check_limit, query_time
from litestar import Request, get
from litestar.params import QueryParameter

ActorId = Annotated[str | None, QueryParameter(name="actorId", required=False, max_length=200,
                                        description="the user (`usr_…`) or API key (`key_…`) that made the change")]
ActorType = Annotated[Literal["user", "key", "operator"] | None,
                      QueryParameter(name="actorType", required=False)]
ResourceType = Annotated[str | None, QueryParameter(name="resourceType", required=False, max_length=200,
                                             description="e.g. `api_key`, `webhook_endpoint`, `refund`")]
ResourceId = Annotated[str | None, QueryParameter(name="resourceId", required=False, max_length=200,
                                           description="the changed resource's id")]
Action = Annotated[str | None, QueryParameter(name="action", required=False, max_length=200,
                                       description="e.g. `api_key.rolled`")]
CreatedFrom = Annotated[str | None, QueryParameter(name="createdFrom", required=False, max_length=200,
                                            description="ISO 8601; entries made at or after it")]
CreatedTo = Annotated[str | None, QueryParameter(name="createdTo", required=False, max_length=200,
                                          description="ISO 8601; entries made before it")]


@get("/api/v1/audit-log", operation_id="listAuditLog", opt={"scope": "audit:read"}, tags=["audit log"])
async def list_audit_log(request: Request[Any, Any, Any], limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None,
                         actor_id: ActorId = None, actor_type: ActorType = None, resource_type: ResourceType = None,
                         resource_id: ResourceId = None, action: Action = None, created_from: CreatedFrom = None,
                         created_to: CreatedTo = None) -> Page[AuditEntry]:
    filters = audit.Filters(actor_id=actor_id, actor_type=actor_type, resource_type=resource_type,
                            resource_id=resource_id, action=action,
                            created_from=query_time(created_from, "createdFrom"),
                            created_to=query_time(created_to, "createdTo"))
    async with runtime_of(request).db() as conn:
        principal = caller(request)
        return await audit.list_entries(conn, principal.app_id, filters, limit=check_limit(limit), cursor=cursor,
                                        with_workspace=principal.has("members:read"))


ROUTES = [list_audit_log]
