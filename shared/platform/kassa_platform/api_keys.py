"""API key management: list, create, roll and revoke an application's keys (no HTTP here: the
cart service's routes and the `kassa keys` commands both call these).

Who may grant what, after Stripe's restricted keys: a key manages keys only within its own
powers. Creating a key with scopes the caller lacks, a `*` key without holding `*`, or a
publishable key without holding every browser scope is 403; so is rolling or revoking a key
whose scopes go beyond the caller's (rolling it would hand the caller that key's new secret).
The operator at the shell (`actor=None`) may do anything.

A key that stops working (revoked, or its rolled-away secret expired) is refused by every process
within a second: the trigger on `api_keys` notifies them (`key_watch`); `changed_at` moves for the
processes on SQLite.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from kassa_contract.api_keys import EXPLICIT_SCOPES, SCOPES, ApiKey, CreateApiKey
from kassa_contract.common import Page
from kassa_contract.errors import KassaError
from sqlalchemy.ext.asyncio import AsyncConnection

from . import audit
from .auth import PUBLISHABLE_SCOPES, Principal, hash_key, issue_key
from .pagination import newest_first_page
from .tables import api_keys


def view(row: Any, secret: str | None = None) -> ApiKey:
    return ApiKey(id=row.id, name=row.name, type=row.kind, prefix=row.prefix, last4=row.last4,
                  scopes=sorted(PUBLISHABLE_SCOPES) if row.kind == "publishable" else list(row.scopes),
                  created_at=row.created_at, last_used_at=row.last_used_at, expires_at=row.expires_at,
                  revoked_at=row.revoked_at, secret=secret)


def _active(now: datetime) -> sa.ColumnElement[bool]:
    t = api_keys
    return sa.and_(t.c.revoked_at.is_(None), sa.or_(t.c.expires_at.is_(None), t.c.expires_at > now))


def _powers(kind: str, scopes: list[str]) -> frozenset[str]:
    return PUBLISHABLE_SCOPES if kind == "publishable" else frozenset(scopes)


def _holds(actor: Principal, scope: str) -> bool:
    # `*` is every API scope: a signed-in user holding them all (an owner, an application admin) may grant it.
    if scope == "*":
        return all(actor.has(s) for s in SCOPES - EXPLICIT_SCOPES)
    return actor.has(scope)


def check_grant(actor: Principal | None, kind: str, scopes: list[str], action: str) -> None:
    """403 unless `actor` holds every power of a key of `kind` with `scopes`."""
    if actor is None:
        return
    wanted = _powers(kind, scopes)
    lacking = sorted(s for s in wanted if not _holds(actor, s))
    if lacking:
        what = "a publishable key" if kind == "publishable" else "a key with these scopes"
        raise KassaError("forbidden", f"This API key cannot {action} {what}: it lacks "
                         + ", ".join(f"`{s}`" for s in lacking) + " (a key manages keys only within its own scopes)",
                         details={"lackingScopes": lacking})


async def list_keys(conn: AsyncConnection, app_id: str, now: datetime, *, limit: int, cursor: str | None,
                    include_inactive: bool = False) -> Page[ApiKey]:
    query = sa.select(api_keys).where(api_keys.c.app_id == app_id)
    if not include_inactive:
        query = query.where(_active(now))
    return await newest_first_page(conn, query, api_keys.c.id, limit, cursor, view)


async def get_key(conn: AsyncConnection, app_id: str, key_id: str, *, for_update: bool = False) -> Any:
    query = sa.select(api_keys).where(api_keys.c.app_id == app_id, api_keys.c.id == key_id)
    if for_update and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    if row is None:
        raise KassaError("api_key_not_found", f"No API key {key_id}")
    return row


async def create(conn: AsyncConnection, actor: Principal | None, app_id: str, body: CreateApiKey,
                 now: datetime) -> ApiKey:
    scopes: list[str] = list(body.scopes or [])
    check_grant(actor, body.type, scopes, "create")
    key_id, raw = await issue_key(conn, app_id, kind=body.type, scopes=scopes or None, now=now, name=body.name)
    row = await get_key(conn, app_id, key_id)
    await audit.record(conn, "api_key.created", key_id, app_id=app_id, now=now, after=view(row))  # no secret
    return view(row, raw)


async def roll(conn: AsyncConnection, actor: Principal | None, app_id: str, key_id: str, expires_in_hours: int,
               now: datetime) -> tuple[ApiKey, str]:
    """A new key with the same type, scopes and name; the old one keeps working for
    `expires_in_hours` (0: not at all), or less if it was already due to expire sooner.
    Returns the new key and the old key's digest (for the caller's process to drop it at once)."""
    old = await get_key(conn, app_id, key_id, for_update=True)
    check_grant(actor, old.kind, list(old.scopes), "roll")
    if old.revoked_at is not None or (old.expires_at is not None and old.expires_at <= now):
        raise KassaError("api_key_inactive", f"API key {key_id} no longer works and cannot be rolled; create a new one")
    expires = now + timedelta(hours=expires_in_hours)
    if old.expires_at is not None:
        expires = min(expires, old.expires_at)
    await conn.execute(sa.update(api_keys).where(api_keys.c.id == key_id)
                       .values(expires_at=expires, changed_at=now))
    new_id, raw = await issue_key(conn, app_id, kind=old.kind, scopes=list(old.scopes), now=now, name=old.name)
    # One entry: the rolled key's expiry moved, and the key that replaces it (its id, never its secret).
    await audit.record(conn, "api_key.rolled", key_id, app_id=app_id, now=now,
                       before={"expiresAt": old.expires_at, "replacedBy": None},
                       after={"expiresAt": expires, "replacedBy": new_id})
    return view(await get_key(conn, app_id, new_id), raw), old.key_hash


async def revoke(conn: AsyncConnection, actor: Principal | None, app_id: str, key_id: str,
                 now: datetime) -> tuple[ApiKey, str]:
    """Revoked at once; revoking a revoked key changes nothing. Returns the key and its digest."""
    row = await get_key(conn, app_id, key_id, for_update=True)
    check_grant(actor, row.kind, list(row.scopes), "revoke")
    if row.revoked_at is None:
        await conn.execute(sa.update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=now, changed_at=now))
        before, row = row, await get_key(conn, app_id, key_id)
        await audit.record(conn, "api_key.revoked", key_id, app_id=app_id, now=now, before=view(before), after=view(row))
    return view(row), row.key_hash


async def find_key(conn: AsyncConnection, ref: str) -> tuple[str, str] | None:
    """(application id, key id) of a key named by its id or by the key itself (a leaked key can be
    revoked with nothing but the key in hand)."""
    column = api_keys.c.key_hash if ref.startswith(("sk_", "pk_")) else api_keys.c.id
    value = hash_key(ref) if ref.startswith(("sk_", "pk_")) else ref
    row = (await conn.execute(sa.select(api_keys.c.app_id, api_keys.c.id).where(column == value))).first()
    return None if row is None else (row.app_id, row.id)
