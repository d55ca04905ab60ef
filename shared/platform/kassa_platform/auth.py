"""Applications and API keys: creation, hashing at rest, lookup and the per-route scope rules.

Keys carry 192 bits of randomness, so a fast SHA-256 digest is a safe at-rest form (a slow
password hash protects low-entropy secrets, which these are not) and keeps lookup O(1).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, cast

import sqlalchemy as sa
from kassa_contract.api_keys import EXPLICIT_SCOPES, SCOPES
from kassa_contract.errors import KassaError
from kassa_contract.versions import LATEST_VERSION, is_version, version_error_message
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from sqlalchemy.ext.asyncio import AsyncConnection

from . import audit
from .clock import Clock
from .db import Database
from .ids import new_id, random_token
from .roles import grants
from .signed_tokens import TokenInvalid, sign_token, verify_token
from .tables import api_keys, application_roles, applications, memberships, user_sessions, users

Environment = Literal["test", "live"]
# `session`: a signed-in user (a `kassa_session` cookie), acting on the application it names.
KeyKind = Literal["secret", "publishable", "service", "page", "session"]

# What a browser may do with a publishable key: read the catalog, build its own cart, and see and
# pay its own checkout session (routes marked `publishable` also demand that cart's or session's secret).
PUBLISHABLE_SCOPES: frozenset[str] = frozenset({"catalog:read", "carts:write", "carts:read", "checkout:read",
                                                "checkout:write"})


@dataclass(frozen=True)
class Principal:
    """Who is calling: an application, through one key of a kind (or a signed-in user's session),
    with its scopes. A session's `key_id` is its session's id; its `app_id` is empty when the call
    named no application (the team's own routes need none)."""

    app_id: str
    environment: Environment
    key_id: str
    kind: KeyKind
    scopes: frozenset[str] = field(default_factory=frozenset)
    # A page credential's one checkout session (kind "page"); None for every API key.
    session_id: str | None = None
    # The application's pinned API version (the hosted page, Kassa's own, is always on the newest).
    api_version: str = LATEST_VERSION
    # A signed-in user's calls: the user (the audit log's actor), and the workspace of the application named.
    user_id: str | None = None
    workspace_id: str | None = None

    @property
    def is_secret(self) -> bool:
        return self.kind in ("secret", "service", "session")

    def has(self, scope: str) -> bool:
        # `*` is every API scope, never the team's (kassa_contract.api_keys.EXPLICIT_SCOPES).
        return scope in self.scopes or ("*" in self.scopes and scope not in EXPLICIT_SCOPES)


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _validate_scopes(scopes: list[str]) -> list[str]:
    unknown = [s for s in scopes if s != "*" and s not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(unknown)} (known: {', '.join(sorted(SCOPES))}, *)")
    return sorted(set(scopes))


async def create_application(conn: AsyncConnection, name: str, environment: Environment, now: datetime,
                             api_version: str = LATEST_VERSION) -> str:
    """A new application, pinned to the newest API version (or to `api_version`, for tests and imports
    of an application built against an older one)."""
    if environment not in ("test", "live"):
        raise ValueError("environment must be test or live")
    if not is_version(api_version):
        raise ValueError(version_error_message(api_version))
    app_id = new_id("app")
    await conn.execute(sa.insert(applications).values(id=app_id, name=name, environment=environment, created_at=now,
                                                      api_version=api_version))
    return app_id


async def issue_key(
    conn: AsyncConnection,
    app_id: str,
    *,
    kind: Literal["secret", "publishable"],
    scopes: list[str] | None,
    now: datetime,
    name: str | None = None,
) -> tuple[str, str]:
    """Create a key; returns its id and the key in full: the only time it is ever seen."""
    env = (await conn.execute(sa.select(applications.c.environment).where(applications.c.id == app_id))).scalar_one_or_none()
    if env is None:
        raise ValueError(f"no application {app_id}")
    prefix = f"{'sk' if kind == 'secret' else 'pk'}_{env}_"
    raw = prefix + random_token(24)
    granted = _validate_scopes(scopes or ["*"]) if kind == "secret" else sorted(PUBLISHABLE_SCOPES)
    key_id = new_id("key")
    await conn.execute(
        sa.insert(api_keys).values(
            id=key_id, app_id=app_id, kind=kind, key_hash=hash_key(raw), prefix=prefix,
            last4=raw[-4:], scopes=granted, created_at=now, name=name,
        )
    )
    return key_id, raw


async def create_key(conn: AsyncConnection, app_id: str, *, kind: Literal["secret", "publishable"],
                     scopes: list[str] | None, now: datetime, name: str | None = None) -> str:
    """Create a key and return it in full (the `kassa keys create` command; audited as the operator's)."""
    key_id, raw = await issue_key(conn, app_id, kind=kind, scopes=scopes, now=now, name=name)
    await audit.record(conn, "api_key.created", key_id, app_id=app_id, now=now, after={
        "type": kind, "name": name, "prefix": raw[:8], "last4": raw[-4:],
        "scopes": sorted(PUBLISHABLE_SCOPES) if kind == "publishable" else _validate_scopes(scopes or ["*"])})
    return raw


async def find_application(conn: AsyncConnection, ref: str) -> str | None:
    """An application by id or by name (the CLI accepts either)."""
    row = (
        await conn.execute(
            sa.select(applications.c.id).where(sa.or_(applications.c.id == ref, applications.c.name == ref)).limit(2)
        )
    ).all()
    return row[0][0] if len(row) == 1 else None


# A key's use is written to `last_used_at` at most this often per process, in batches (KeyWatch).
USAGE_RECORD_SECONDS = 60.0
UNKNOWN_KEY_CACHE_SECONDS = 2.0


class KeyResolver:
    """Bearer key -> Principal, with an in-process cache.

    A key that stops working is dropped from every process's cache by a notification
    (`kassa_platform.key_watch`); the cache lifetime only bounds how long a lost notification
    could keep it alive. A rolled key's expiry is checked on every hit.
    """

    def __init__(self, db: Database, ttl_seconds: float, clock: Clock | None = None) -> None:
        self._sessions = db
        self._ttl = ttl_seconds
        self.clock = clock or Clock()
        # digest -> (monotonic deadline, principal or None for an unknown key, expiry timestamp or None)
        self._cache: dict[str, tuple[float, Principal | None, float | None]] = {}
        self._usage_due: dict[str, float] = {}  # key id -> monotonic time from which its next use is recorded
        self._used: dict[str, float] = {}  # key id -> a recent use (timestamp), waiting to be written

    def cached(self, raw: str) -> Principal | None:
        """The key's principal if this process holds it as valid, without a query (the hot path;
        the brute-force guard runs only when this says no)."""
        if not raw or len(raw) > 200:
            return None
        hit = self._cache.get(hash_key(raw))
        now = time.monotonic()
        if hit is None or hit[0] <= now or (hit[2] is not None and hit[2] <= self.clock.timestamp()):
            return None
        if hit[1] is not None:
            self._record_use(hit[1], now)
        return hit[1]

    async def resolve(self, raw: str) -> Principal | None:
        if not raw or len(raw) > 200:
            return None
        digest = hash_key(raw)
        hit = self._cache.get(digest)
        now = time.monotonic()
        if hit is not None and hit[0] > now and (hit[2] is None or hit[2] > self.clock.timestamp()):
            principal = hit[1]
        else:
            principal, expires = await self._load(digest)
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now + (self._ttl if principal else UNKNOWN_KEY_CACHE_SECONDS), principal, expires)
        if principal is not None:
            self._record_use(principal, now)
        return principal

    def _record_use(self, principal: Principal, now: float) -> None:
        if self._usage_due.get(principal.key_id, 0.0) <= now:
            self._usage_due[principal.key_id] = now + USAGE_RECORD_SECONDS
            self._used[principal.key_id] = self.clock.timestamp()

    async def service(self, app_id: str) -> Principal | None:
        """Another Kassa service acting for an application (it proved the deployment's service token)."""
        if not app_id or len(app_id) > 40:
            return None
        hit = self._cache.get("app:" + app_id)
        now = time.monotonic()
        if hit and hit[0] > now:
            return hit[1]
        async with self._sessions() as conn:
            env = (await conn.execute(sa.select(applications.c.environment)
                                      .where(applications.c.id == app_id))).scalar_one_or_none()
        principal = None if env is None else Principal(app_id=app_id, environment=env, key_id="service",
                                                       kind="service", scopes=frozenset({"*"}))
        self._cache["app:" + app_id] = (now + (self._ttl if principal else UNKNOWN_KEY_CACHE_SECONDS), principal, None)
        return principal

    async def _load(self, digest: str) -> tuple[Principal | None, float | None]:
        now = self.clock.now()
        query = (
            sa.select(api_keys.c.id, api_keys.c.app_id, api_keys.c.kind, api_keys.c.scopes, api_keys.c.expires_at,
                      applications.c.environment, applications.c.api_version)
            .join(applications, applications.c.id == api_keys.c.app_id)
            .where(api_keys.c.key_hash == digest, api_keys.c.revoked_at.is_(None),
                   sa.or_(api_keys.c.expires_at.is_(None), api_keys.c.expires_at > now))
        )
        async with self._sessions() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None, None
        # A publishable key can do what browsers may do today, whatever was stored when it was made.
        scopes = PUBLISHABLE_SCOPES if row.kind == "publishable" else frozenset(row.scopes)
        principal = Principal(app_id=row.app_id, environment=row.environment, key_id=row.id, kind=row.kind,
                              scopes=scopes, api_version=row.api_version)
        return principal, None if row.expires_at is None else row.expires_at.timestamp()

    def forget(self, digest: str | None = None) -> None:
        """Drop one key (by digest) from the cache, or every key."""
        if digest is None:
            self._cache.clear()
        else:
            self._cache.pop(digest, None)

    async def flush_usage(self) -> int:
        """Write the recorded uses to `last_used_at`: one batch, whatever the request rate."""
        used, self._used = self._used, {}
        return await _write_latest(self._sessions, api_keys.c.last_used_at, used, self._used)


async def _write_latest(db: Database, column: sa.Column[Any], times: dict[str, float],
                        requeue: dict[str, float]) -> int:
    """Write each row's time (by id; timestamps) to `column` unless a later one is there: one batch.
    On failure the times go back into `requeue` for the next try (newer ones already there win)."""
    if not times:
        return 0
    t = column.table
    statement = (sa.update(t).where(t.c.id == sa.bindparam("row_id"),
                                    sa.or_(column.is_(None), column < sa.bindparam("at")))
                 .values({column.name: sa.bindparam("at")}))
    try:
        async with db.begin() as conn:
            await conn.execute(statement, [{"row_id": k, "at": datetime.fromtimestamp(when, UTC)}
                                           for k, when in times.items()])
    except Exception:
        for row_id, when in times.items():
            requeue.setdefault(row_id, when)
        raise
    return len(times)


# ---------------------------------------------------------------- page credentials

# The hosted checkout page's own credential: signed (no lookup), bound to one checkout session of
# one application, valid at most as long as the session. It is accepted only by routes marked
# `opt={"page": True}` (the page's own calls, which also check the session), never by the API.
PAGE_KEY_PREFIX = "kcp_"
PAGE_PURPOSE = "checkout_page"
PAGE_SCOPES = frozenset({"checkout:read", "checkout:write"})


def issue_page_key(signing_key: str, *, app_id: str, environment: str, session_id: str, expires_at: datetime) -> str:
    return PAGE_KEY_PREFIX + sign_token(signing_key, PAGE_PURPOSE, {"app": app_id, "env": environment,
                                                                    "sid": session_id}, expires_at)


def page_principal(signing_key: str, raw: str, now: datetime) -> Principal | None:
    """The principal of a valid page credential, else None (forged, expired, malformed)."""
    try:
        claims = verify_token(signing_key, PAGE_PURPOSE, raw.removeprefix(PAGE_KEY_PREFIX), now)
    except TokenInvalid:
        return None
    app_id, env, session_id = claims.get("app"), claims.get("env"), claims.get("sid")
    if not isinstance(app_id, str) or env not in ("test", "live") or not isinstance(session_id, str):
        return None
    return Principal(app_id=app_id, environment=env, key_id="page:" + session_id, kind="page", scopes=PAGE_SCOPES,
                     session_id=session_id)


PRINCIPAL_KEY = "kassa.principal"


def is_public(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler | None) -> bool:
    """Health checks and the OpenAPI document need no key."""
    if handler is not None and handler.opt.get("public"):
        return True
    scope = connection if isinstance(connection, dict) else connection.scope
    return scope["path"].startswith("/schema")


def principal_in(scope: Any) -> Principal | None:
    """The principal AuthMiddleware put on an ASGI scope (None before it, or on a public route)."""
    return cast("Principal | None", scope.get(PRINCIPAL_KEY))


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    principal = principal_in(connection.scope)
    if principal is None:
        raise KassaError("unauthorized", "An API key is required: send `Authorization: Bearer <key>`")
    return principal


def authorize(principal: Principal, handler: BaseRouteHandler, method: str, path: str) -> None:
    """Enforce the route's `opt={"scope": ..., "publishable": bool, "internal": bool}` for the
    calling key (AuthMiddleware calls it once the key is known: a Litestar guard would cost a copy
    of the route handler per request)."""
    if handler.opt.get("internal") and principal.kind != "service":
        # Internal routes answer other Kassa services only, never an API key.
        raise KassaError("route_not_found", f"No route {method} {path}")
    needed: str | None = handler.opt.get("scope")
    if principal.kind == "session" and not principal.app_id and not handler.opt.get("team"):
        raise KassaError("application_required", "A signed-in call names its application: send "
                         "`Kassa-Application: <application id>`")
    if principal.kind == "page" and not handler.opt.get("page"):
        raise KassaError("forbidden", "A checkout page credential may only make the hosted page's own calls")
    if principal.kind == "publishable" and not handler.opt.get("publishable", False):
        raise KassaError("forbidden", "This call needs a secret key; publishable keys cannot make it",
                         details={"keyKind": "publishable"})
    if needed and not principal.has(needed):
        who = "Your role on this application does not grant" if principal.kind == "session" else "The API key lacks"
        raise KassaError("forbidden", f"{who} the `{needed}` scope", details={"scope": needed})


# ---------------------------------------------------------------- signed-in users' sessions

SESSION_COOKIE = "kassa_session"
SESSION_PREFIX = "kss_"


@dataclass(frozen=True)
class SessionRecord:
    session_id: str
    user_id: str
    csrf_token: str
    expires_at: float  # timestamp
    last_seen: float  # timestamp of its last request as the database knew it (its creation at first)


class SessionResolver:
    """Session cookie -> SessionRecord, and (session, application) -> Principal, cached in the process.

    Whatever changes what a user may do (sign-out, sign-out everywhere, a role) moves the user's
    `changed_at`; every process then drops the user's entries (`key_watch`: a notification on
    PostgreSQL, a poll on SQLite), so a stolen cookie stops working everywhere within a second. The
    cache lifetime only bounds how long a lost notification could keep one alive.

    A session also ends after `idle_seconds` without a request (0: never). Each process remembers
    its sessions' last requests and writes them to `last_seen_at` every few seconds (`flush_seen`,
    from the key watch), so a session busy in one process stays alive in the others.
    """

    def __init__(self, db: Database, ttl_seconds: float, clock: Clock | None = None, *,
                 idle_seconds: float = 0) -> None:
        self._db = db
        self._ttl = ttl_seconds
        self._idle = idle_seconds
        self.clock = clock or Clock()
        self._sessions: dict[str, tuple[float, SessionRecord | None]] = {}
        self._principals: dict[tuple[str, str], tuple[float, Principal]] = {}
        self._seen: dict[str, float] = {}  # session id -> its last request in this process (timestamp)
        self._unwritten: dict[str, float] = {}  # the same, for those not written to last_seen_at yet

    async def session(self, raw: str) -> SessionRecord | None:
        if not raw.startswith(SESSION_PREFIX) or len(raw) > 200:
            return None
        digest = hash_key(raw)
        now = time.monotonic()
        hit = self._sessions.get(digest)
        if hit is None or hit[0] <= now:
            record = await self._load(digest)
            if len(self._sessions) > 10_000:
                self.forget()
            hit = self._sessions[digest] = (now + (self._ttl if record else UNKNOWN_KEY_CACHE_SECONDS), record)
        return self._used(hit[1])

    def cached(self, raw: str) -> SessionRecord | None:
        """The session if this process holds it as valid, without a query (else `session`, after the
        brute-force guard)."""
        hit = self._sessions.get(hash_key(raw)) if raw.startswith(SESSION_PREFIX) and len(raw) <= 200 else None
        if hit is None or hit[0] <= time.monotonic():
            return None
        return self._used(hit[1])

    def _used(self, record: SessionRecord | None) -> SessionRecord | None:
        """`record` if it is still alive now, noting this request as its last."""
        now = self.clock.timestamp()
        if record is None or record.expires_at <= now:
            return None
        if self._idle > 0 and max(record.last_seen, self._seen.get(record.session_id, 0.0)) + self._idle <= now:
            return None
        if len(self._seen) > 10_000:
            self._seen.clear()  # what was written is in the database; what was not, the next request notes
        self._seen[record.session_id] = now
        if len(self._unwritten) < 10_000:  # beyond (writes failing for long), the next requests note it
            self._unwritten[record.session_id] = now
        return record

    async def flush_seen(self) -> int:
        """Write the sessions' last requests to `last_seen_at`: one batch, whatever the request rate."""
        seen, self._unwritten = self._unwritten, {}
        return await _write_latest(self._db, user_sessions.c.last_seen_at, seen, self._unwritten)

    async def principal(self, record: SessionRecord, app_id: str | None) -> Principal | None:
        """The user acting on `app_id` (None: on no application). None when the application does
        not exist or is not of a workspace the user belongs to."""
        if not app_id:
            return Principal(app_id="", environment="test", key_id=record.session_id, kind="session",
                             user_id=record.user_id)
        if len(app_id) > 40:
            return None
        key = (record.session_id, app_id)
        now = time.monotonic()
        hit = self._principals.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        query = (sa.select(applications.c.environment, applications.c.api_version, applications.c.workspace_id,
                           memberships.c.role.label("workspace_role"), application_roles.c.role.label("app_role"))
                 .join(memberships, sa.and_(memberships.c.workspace_id == applications.c.workspace_id,
                                            memberships.c.user_id == record.user_id))
                 .outerjoin(application_roles, sa.and_(application_roles.c.app_id == applications.c.id,
                                                       application_roles.c.user_id == record.user_id))
                 .where(applications.c.id == app_id))
        async with self._db() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        principal = Principal(app_id=app_id, environment=row.environment, key_id=record.session_id, kind="session",
                              scopes=grants(row.workspace_role, row.app_role), api_version=row.api_version,
                              user_id=record.user_id, workspace_id=row.workspace_id)
        if len(self._principals) > 10_000:
            self._principals.clear()
        self._principals[key] = (now + self._ttl, principal)
        return principal

    async def _load(self, digest: str) -> SessionRecord | None:
        query = (sa.select(user_sessions.c.id, user_sessions.c.user_id, user_sessions.c.csrf_token,
                           user_sessions.c.expires_at, user_sessions.c.created_at, user_sessions.c.last_seen_at)
                 .join(users, users.c.id == user_sessions.c.user_id)
                 .where(user_sessions.c.token_hash == digest, user_sessions.c.revoked_at.is_(None),
                        user_sessions.c.expires_at > self.clock.now()))
        async with self._db() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return SessionRecord(row.id, row.user_id, row.csrf_token, row.expires_at.timestamp(),
                             (row.last_seen_at or row.created_at).timestamp())

    def forget_user(self, user_id: str) -> None:
        self._sessions = {d: hit for d, hit in self._sessions.items() if hit[1] is None or hit[1].user_id != user_id}
        self._principals = {k: hit for k, hit in self._principals.items() if hit[1].user_id != user_id}

    def forget(self) -> None:
        self._sessions.clear()
        self._principals.clear()


def session_cookie(scope: Any) -> str | None:
    """The `kassa_session` cookie of an ASGI request, if it sent one."""
    for name, value in scope["headers"]:
        if name == b"cookie":
            text: str = value.decode("latin-1")
            for part in text.split(";"):
                key, _, val = part.strip().partition("=")
                if key == SESSION_COOKIE and val:
                    return val
    return None
