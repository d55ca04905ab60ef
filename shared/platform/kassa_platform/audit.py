"""The audit log: who changed what through the API, recorded in the change's own transaction.

A domain module that changes something on a merchant's behalf calls `record(conn, action, id, ...)`
with the connection of its transaction: the entry (and its `audit.entry.created` event, through the
outbox) commits with the change or not at all, so there is no change without its entry and no entry
without its change. The caller never says who acted: the request does. `AuthMiddleware` opens an
`AuditContext` for a request made with a secret key (or a user's session), holding the actor, the
request id and the source address; the `kassa` commands open one for the operator (`operator()`).
Without a context `record` writes nothing: changes made by a publishable key or the hosted page (a
shopper's own cart and checkout), by another Kassa service, or by a background job are not a
merchant's changes (docs/audit-log.md).

What an entry holds of the change is a diff: the fields that differ, before and after. Secrets never
enter it: fields named like a secret (`REDACTED_NAMES`, and names ending in `secret`, `password`,
`token`, `hash`), each resource's own exclusions (`EXCLUDED`), and any string shaped like a Kassa or
Stripe credential are replaced by `[redacted]`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa
from kassa_contract.audit import AUDIT_ENTRY_CREATED, ActorType, AuditActor, AuditChanges, AuditEntry
from kassa_contract.common import Page
from sqlalchemy.ext.asyncio import AsyncConnection

from .ids import new_id
from .logs import request_id_var
from .outbox import write_event
from .pagination import newest_first_page
from .tables import applications, audit_events

REDACTED = "[redacted]"
# Field names (compared lower case, without `_`) never recorded, whatever the resource.
REDACTED_NAMES = frozenset({"secret", "secrets", "keyhash", "password", "passwordhash", "token", "tokens",
                            "apikey", "secretkey", "privatekey", "clientsecret", "signingsecret",
                            "webhooksecret", "accesstoken", "refreshtoken", "authorization", "cookie"})
_REDACTED_ENDINGS = ("secret", "secrets", "password", "token", "tokens", "hash", "secretkey")
# Each resource's fields that hold a secret under another name (its own exclusion list).
EXCLUDED: dict[str, frozenset[str]] = {
    "api_key": frozenset({"secret", "keyHash"}),
    "webhook_endpoint": frozenset({"secret", "secrets", "secretSealed"}),
    "payment_settings": frozenset({"stripeSecretKey", "stripeWebhookSecret", "secretKey", "webhookSecret"}),
    "user": frozenset({"passwordHash", "password"}),
    "session": frozenset({"token", "csrfToken"}),
    "invitation": frozenset({"token"}),
    # A voucher code is a bearer value (a gift card's is money): entries name it by its id (`vch_…`).
    "code": frozenset({"code"}),
}
# Personal data of a resource: a change shows that it changed, never the values (an erased customer must
# not live on in the audit log; the log is kept 400 days).
PERSONAL: dict[str, frozenset[str]] = {
    # `metadata` too: which of its keys are personal is the merchant's per-application setting, unknown here.
    "customer": frozenset({"email", "firstName", "lastName", "phone", "externalId", "shippingAddress",
                           "billingAddress", "metadata"}),
}
PERSONAL_DATA = "[personal data]"
# The outbox source of `audit.entry.created` events.
AUDIT_SOURCE = "audit"
# Strings shaped like a credential are redacted wherever they appear (a key in a free-text field, say).
# (Publishable keys are public by design: a browser holds them.)
_SECRET_PREFIXES = ("sk_test_", "sk_live_", "rk_test_", "rk_live_", "whsec_", "kcp_")


@dataclass(frozen=True)
class AuditContext:
    """Who is acting in this request (or command), and from where."""

    actor_type: ActorType
    actor_id: str
    request_id: str | None = None
    source_address: str | None = None
    workspace_id: str | None = None


current: ContextVar[AuditContext | None] = ContextVar("kassa_audit_context", default=None)


@contextlib.contextmanager
def operator(name: str = "cli") -> Iterator[None]:
    """Changes made inside are recorded as the operator's (the `kassa` commands)."""
    token = current.set(AuditContext(actor_type="operator", actor_id=name))
    try:
        yield
    finally:
        current.reset(token)


@contextlib.contextmanager
def public_call(user_id: str, source_address: str | None) -> Iterator[None]:
    """Changes made inside a public call that a link authenticates (signing up with an invitation,
    a password reset) are recorded as that user's own: whoever holds the link acts as the user."""
    token = current.set(request_context("user", user_id, source_address))
    try:
        yield
    finally:
        current.reset(token)


def _plain(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, msgspec.Struct):
        value = msgspec.to_builtins(value)
    elif isinstance(value, Mapping):
        value = msgspec.to_builtins(dict(value))
    else:
        raise TypeError(f"an audit state is a Struct or a mapping, not {type(value).__name__}")
    assert isinstance(value, dict)
    return value


def _secret_name(name: str, excluded: frozenset[str]) -> bool:
    flat = name.replace("_", "").lower()
    return name in excluded or flat in REDACTED_NAMES or flat.endswith(_REDACTED_ENDINGS)


def redact(value: Any, excluded: frozenset[str] = frozenset()) -> Any:
    """`value` with every secret field and every credential-shaped string replaced by `[redacted]`."""
    if isinstance(value, dict):
        return {k: REDACTED if _secret_name(str(k), excluded) and v is not None else redact(v, excluded)
                for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, excluded) for v in value]
    if isinstance(value, str) and value.startswith(_SECRET_PREFIXES):
        return REDACTED
    return value


def diff(resource_type: str, before: Any, after: Any) -> AuditChanges:
    """The fields that differ between two states of a resource (all of them for a creation or a
    deletion), redacted."""
    excluded = EXCLUDED.get(resource_type, frozenset())
    # Redacted before compared: a secret's change (or an obfuscated form beside a full one) is no
    # difference; an audited secret change says so in a field of its own (`secretRotated`).
    old, new = redact(_plain(before), excluded), redact(_plain(after), excluded)
    personal = PERSONAL.get(resource_type, frozenset())
    if old is None or new is None:
        return AuditChanges(before=_mask(old, personal), after=_mask(new, personal))
    changed = [k for k in {**old, **new} if old.get(k) != new.get(k) and k not in _BOOKKEEPING]
    return AuditChanges(before=_mask({k: old.get(k) for k in changed}, personal),
                        after=_mask({k: new.get(k) for k in changed}, personal))


def _mask(value: dict[str, Any] | None, personal: frozenset[str]) -> dict[str, Any] | None:
    if value is None or not personal:
        return value
    return {k: PERSONAL_DATA if k in personal and v is not None else v for k, v in value.items()}


# Moves with every change: no news in an update's diff.
_BOOKKEEPING = frozenset({"updatedAt"})
_INSERT = audit_events.insert()


async def record(conn: AsyncConnection, action: str, resource_id: str, *, app_id: str | None, now: datetime,
                 before: Any = None, after: Any = None, workspace_id: str | None = None) -> str | None:
    """Record `action` (`<resource type>.<verb>`, e.g. `api_key.rolled`) on `resource_id` in `conn`'s
    open transaction, with its `audit.entry.created` event; None (nothing written) outside a request
    or command that is audited. `before` / `after`: the resource's states (Structs or mappings).

    A team change names its `workspace_id` (a team route's caller names no application); with
    `app_id` None it is a workspace-level entry, listed with every application of the workspace to
    callers who may read its members, and without an event (webhook endpoints are an application's)."""
    ctx = current.get()
    if ctx is None:
        return None
    workspace_id = workspace_id or ctx.workspace_id
    if app_id is None and workspace_id is None:
        raise ValueError("an audit entry names its application or its workspace")
    resource_type = action.partition(".")[0]
    entry = AuditEntry(
        id=new_id("aud"), actor=AuditActor(type=ctx.actor_type, id=ctx.actor_id), action=action,
        resource_type=resource_type, resource_id=resource_id, changes=diff(resource_type, before, after),
        request_id=ctx.request_id, source_address=ctx.source_address, application_id=app_id,
        workspace_id=workspace_id, created_at=now)
    await conn.execute(_INSERT, {
        "id": entry.id, "app_id": app_id, "workspace_id": entry.workspace_id, "action": action,
        "actor_type": ctx.actor_type, "actor_id": ctx.actor_id, "resource_type": resource_type,
        "resource_id": resource_id, "changes": msgspec.to_builtins(entry.changes), "request_id": ctx.request_id,
        "source_address": ctx.source_address, "created_at": now})
    if app_id is None:
        return entry.id
    await write_event(conn, app_id=app_id, type=AUDIT_ENTRY_CREATED, source=AUDIT_SOURCE, aggregate_id=entry.id,
                      sequence=1, data=entry, now=now)
    return entry.id


def request_context(actor_type: ActorType, actor_id: str, source_address: str | None,
                    workspace_id: str | None = None) -> AuditContext:
    return AuditContext(actor_type=actor_type, actor_id=actor_id, request_id=request_id_var.get(),
                        source_address=source_address, workspace_id=workspace_id)


# ---------------------------------------------------------------- reading and retention


def view(row: Any) -> AuditEntry:
    changes = row.changes or {}
    return AuditEntry(id=row.id, actor=AuditActor(type=row.actor_type, id=row.actor_id), action=row.action,
                      resource_type=row.resource_type, resource_id=row.resource_id,
                      changes=AuditChanges(before=changes.get("before"), after=changes.get("after")),
                      request_id=row.request_id, source_address=row.source_address, application_id=row.app_id,
                      workspace_id=row.workspace_id, created_at=row.created_at)


@dataclass(frozen=True)
class Filters:
    actor_id: str | None = None
    actor_type: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    action: str | None = None
    created_from: datetime | None = None  # inclusive
    created_to: datetime | None = None  # exclusive


async def list_entries(conn: AsyncConnection, app_id: str, filters: Filters, *, limit: int,
                       cursor: str | None, with_workspace: bool = False) -> Page[AuditEntry]:
    """One page of the application's entries, newest first (each filter has its index);
    `with_workspace`: with the workspace-level entries of the application's workspace (its team's
    changes), for a caller who may read the workspace's members."""
    t = audit_events
    where = t.c.app_id == app_id
    if with_workspace:
        workspace = sa.select(applications.c.workspace_id).where(applications.c.id == app_id).scalar_subquery()
        where = sa.or_(where, sa.and_(t.c.app_id.is_(None), t.c.workspace_id == workspace))
    query = sa.select(t).where(where)
    for column, value in ((t.c.actor_id, filters.actor_id), (t.c.actor_type, filters.actor_type),
                          (t.c.resource_type, filters.resource_type), (t.c.resource_id, filters.resource_id),
                          (t.c.action, filters.action)):
        if value is not None:
            query = query.where(column == value)
    if filters.created_from is not None:
        query = query.where(t.c.created_at >= filters.created_from)
    if filters.created_to is not None:
        query = query.where(t.c.created_at < filters.created_to)
    return await newest_first_page(conn, query, t.c.id, limit, cursor, view)


PURGE_BATCH = 1000


async def purge_batch(conn: AsyncConnection, now: datetime, retention_days: int, batch: int = PURGE_BATCH) -> int:
    """Delete up to `batch` entries older than the retention; the number deleted."""
    cutoff = now - timedelta(days=retention_days)
    t = audit_events
    oldest = sa.select(t.c.id).where(t.c.created_at < cutoff).order_by(t.c.created_at).limit(batch)
    result = await conn.execute(sa.delete(t).where(t.c.id.in_(oldest.scalar_subquery())))
    return int(result.rowcount or 0)
