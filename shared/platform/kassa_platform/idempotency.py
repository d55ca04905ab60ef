"""`Idempotency-Key` on POST: a retried request gets the first response, never a second effect.

The key is claimed (an `in_progress` row, unique per application and key) before the handler
runs, and the response is stored when it finishes, if it reflects the executed request
(`kept`): a refusal that says the request did not run (`kassa_contract.errors.NOT_EXECUTED`)
and any 5xx release the key instead, so the same request may be retried with it. A concurrent
duplicate waits for the first to finish and replays it (or runs itself, if the first released
the key), or is refused with 409 if it takes too long; a request with other parameters under
the same key is refused with 409. A claim whose process died (kassa_platform.liveness) is taken over
at once; one whose process lives but lost track of it, once its lock expires.

The request's first committed change marks the claim `executed` in the same transaction
(kassa_platform.executed). From then on the key is never released: an answer that is not kept
ends the claim's lock instead, and a claim that is `executed` but has no stored answer (its
process died in between) is never taken over: a retry gets 409 `idempotency_key_executed`.
Routes whose handler guards its own effect (`opt={"self_guarded": True}`: the checkout
completion, which holds a claim on the session) are not marked; a retry runs them again.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import msgspec
import sqlalchemy as sa
from kassa_contract.errors import NOT_EXECUTED, KassaError
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPResponseBodyEvent, HTTPScope, Message, Receive, Scope, Send
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError

from . import executed
from .auth import principal_in
from .body import body_in
from .clock import Clock
from .db import Database
from .direct import DirectStatement
from .liveness import Liveness, owner_dead
from .logs import request_id_var
from .middleware import header
from .tables import idempotency_keys

LOCK_SECONDS = 60
WAIT_FOR_FIRST_SECONDS = 10.0
_REPLAYED_HEADERS = {b"content-type", b"location"}


@dataclass
class Claim:
    outcome: Literal["execute", "replay"]
    status_code: int = 0
    headers: list[tuple[bytes, bytes]] | None = None
    body: bytes = b""
    # The claim's lease, which also identifies it: the owner completes or releases only its own
    # claim, never one that another request took over after this one's lease ran out.
    locked_until: datetime | None = None


def fingerprint(method: str, path: str, query: bytes, body: bytes) -> str:
    """What makes two requests the same request: method, path, query and the body's parameters.

    A JSON body is compared by its decoded value, encoded canonically (sorted keys, no
    whitespace), so a client that re-encodes its body on a retry is replayed, not refused; any
    other body by its bytes. The body's nesting is bounded before this runs (RequestBodyMiddleware).
    """
    try:
        canonical = msgspec.json.encode(msgspec.json.decode(body), order="sorted")
    except msgspec.DecodeError:
        canonical = body
    return hashlib.sha256(b"%s %s?%s\n%s" % (method.encode(), path.encode(), query, canonical)).hexdigest()


class _Error(msgspec.Struct):
    code: str


class _Envelope(msgspec.Struct):
    error: _Error


_ENVELOPE = msgspec.json.Decoder(_Envelope)


def kept(status: int, body: bytes) -> bool:
    """Whether a response reflects the executed request, so that it is what a retry replays.

    The one rule: a 5xx, or an error whose code says the request did not run, is not kept.
    """
    if status < 400:
        return True
    if status >= 500:
        return False
    try:
        return _ENVELOPE.decode(body).error.code not in NOT_EXECUTED
    except msgspec.DecodeError:
        return True  # not our envelope: an answer of the endpoint itself


# A new key's claim; nothing (and no error) when the key is claimed already.
_CLAIM = DirectStatement(
    postgresql.insert(idempotency_keys)
    .values({c.name: sa.bindparam(c.name, type_=c.type) for c in idempotency_keys.c
             if c.name in ("app_id", "key", "request_hash", "state", "locked_until", "owner", "created_at",
                           "expires_at")})
    .on_conflict_do_nothing(index_elements=["app_id", "key"])
    .returning(idempotency_keys.c.app_id), variant=False)


class IdempotencyStore:
    def __init__(self, db: Database, clock: Clock, ttl_hours: int, liveness: Liveness | None = None) -> None:
        self.db = db
        self.clock = clock
        self.ttl = timedelta(hours=ttl_hours)
        self.liveness = liveness  # whose number claims carry: a retry takes a dead process's claim over

    @property
    def owner(self) -> int | None:
        return self.liveness.id if self.liveness is not None else None

    async def claim(self, app_id: str, key: str, request_hash: str) -> Claim:
        deadline = asyncio.get_running_loop().time() + WAIT_FOR_FIRST_SECONDS
        while True:
            claim = await self._try_claim(app_id, key, request_hash)
            if claim is not None:
                return claim
            if asyncio.get_running_loop().time() > deadline:
                raise KassaError("idempotency_key_in_progress",
                                 "A request with this Idempotency-Key is still being processed; retry later")
            await asyncio.sleep(0.05)

    async def _try_claim(self, app_id: str, key: str, request_hash: str) -> Claim | None:
        now = self.clock.now()
        lease = now + timedelta(seconds=LOCK_SECONDS)
        t = idempotency_keys
        values = {"app_id": app_id, "key": key, "request_hash": request_hash, "state": "in_progress",
                  "locked_until": lease, "owner": self.owner, "created_at": now, "expires_at": now + self.ttl}
        if self.db.direct is not None:  # PostgreSQL: one statement, no transaction around it
            if await self.db.direct.fetchrow(_CLAIM, values) is not None:
                return Claim("execute", locked_until=lease)
        else:
            try:
                async with self.db.begin() as conn:
                    await conn.execute(sa.insert(t).values(**values))
                return Claim("execute", locked_until=lease)
            except IntegrityError:
                pass
        async with self.db.begin() as conn:
            row = (await conn.execute(sa.select(t, owner_dead(t.c.owner).label("owner_dead"))
                                      .where(t.c.app_id == app_id, t.c.key == key))).first()
            if row is None:
                return None  # released meanwhile: try again
            if row.expires_at <= now:
                await conn.execute(sa.delete(t).where(t.c.app_id == app_id, t.c.key == key))
                return None
            if row.request_hash != request_hash:
                raise KassaError(
                    "idempotency_key_reused",
                    "This Idempotency-Key was used with another request; use a new key for a new request",
                )
            if row.state == "completed":
                headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (row.response_headers or [])]
                return Claim("replay", row.status_code, headers, row.response_body or b"")
            # Its lock is over when it runs out, or at once when the process that held it is dead.
            lock_over = row.locked_until <= now or bool(row.owner_dead)
            if row.state == "executed" and lock_over:
                # Its change committed, its answer was never stored: running it again would repeat it.
                raise KassaError("idempotency_key_executed",
                                 "The request with this Idempotency-Key ran and its change stands, but its answer "
                                 "was lost before it could be stored; it will not run again. Read the resource "
                                 "to see the result, and use a new key for a new request")
            if row.state == "in_progress" and lock_over:
                # The first owner died mid-request: take over, but only one of us, and only while
                # its change has not committed (its commit marks the row `executed`).
                taken = await conn.execute(
                    sa.update(t)
                    .where(t.c.app_id == app_id, t.c.key == key, t.c.state == "in_progress",
                           t.c.locked_until == row.locked_until)
                    .values(locked_until=lease, owner=self.owner)
                )
                if taken.rowcount == 1:
                    return Claim("execute", locked_until=lease)
            return None

    async def complete(self, app_id: str, key: str, claim: Claim, status: int, headers: list[tuple[bytes, bytes]],
                       body: bytes, *, replace: bool = False) -> None:
        """Store the answer; `replace`: over one the change stored that differs from what was sent."""
        replayed = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in headers if k.lower() in _REPLAYED_HEADERS]
        if request_id := request_id_var.get():
            replayed.append(["original-request", request_id])  # a replay has its own id; this names the first
        t = idempotency_keys
        async with self.db.begin() as conn:
            await conn.execute(
                sa.update(t)
                .where(t.c.app_id == app_id, t.c.key == key,
                       t.c.state.in_(("in_progress", "executed", "completed") if replace else ("in_progress", "executed")),
                       t.c.locked_until == claim.locked_until)
                .values(state="completed", status_code=status, response_headers=replayed, response_body=body)
            )

    async def release(self, app_id: str, key: str, claim: Claim) -> None:
        """Nothing was done: the key is free again (unless a commit whose outcome this process could
        not tell marked it `executed`: that row stays)."""
        t = idempotency_keys
        async with self.db.begin() as conn:
            await conn.execute(sa.delete(t).where(t.c.app_id == app_id, t.c.key == key, t.c.state == "in_progress",
                                                  t.c.locked_until == claim.locked_until))

    async def end_lease(self, app_id: str, key: str, claim: Claim) -> None:
        """The request changed something but its answer is not kept (a 5xx after its commit): the key
        stays `executed`, and its lock ends now so that a retry is told so at once."""
        t = idempotency_keys
        async with self.db.begin() as conn:
            await conn.execute(sa.update(t).where(t.c.app_id == app_id, t.c.key == key, t.c.state == "executed",
                                                  t.c.locked_until == claim.locked_until)
                               .values(locked_until=self.clock.now()))

    async def purge_expired(self, batch: int = 5000) -> int:
        """Delete keys past their retention, in batches so that no transaction grows large."""
        t = idempotency_keys
        total = 0
        while True:
            async with self.db.begin() as conn:
                now = self.clock.now()
                doomed = sa.select(t.c.app_id, t.c.key).where(t.c.expires_at < now).limit(batch)
                rows = (await conn.execute(doomed)).all()
                for app_id, key in rows:
                    await conn.execute(sa.delete(t).where(t.c.app_id == app_id, t.c.key == key))
            total += len(rows)
            if len(rows) < batch:
                return total


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, store: IdempotencyStore) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        # Each request its own claim, or none: in embedded mode a service calls another in the same
        # task, and that request's commits are not the caller's change.
        token = executed.current.set(None)
        try:
            await self._handle(scope, receive, send)
        finally:
            executed.current.reset(token)

    async def _handle(self, scope: HTTPScope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        key = header(scope, b"idempotency-key")
        key = key.strip() if key is not None else None
        principal = principal_in(scope)
        if key is None or principal is None:
            await self.app(scope, receive, send)
            return
        if not key or len(key) > 255:
            raise KassaError("validation_error", "Idempotency-Key must be 1 to 255 characters", field="Idempotency-Key",
                             status=400)

        body = body_in(scope)  # read and bounded by RequestBodyMiddleware
        digest = fingerprint(scope["method"], scope["path"], scope.get("query_string", b""), body)

        # A signed-in call on no application (the team's routes) keeps its keys per user.
        namespace = principal.app_id or f"user:{principal.user_id}"
        claim = await self.store.claim(namespace, key, digest)
        if claim.outcome == "replay":
            await send({"type": "http.response.start", "status": claim.status_code,
                        "headers": [*(claim.headers or []), (b"idempotent-replayed", b"true")]})
            await send(HTTPResponseBodyEvent(type="http.response.body", body=claim.body, more_body=False))
            return

        status = 500
        headers: list[tuple[bytes, bytes]] = []
        out: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                out.append(message.get("body", b""))
            await send(message)

        # The request's first committed change marks the claim (a self-guarded route's is never marked),
        # and stores its answer with it when the handler gave it beforehand (executed.answer_with).
        handler = scope.get("route_handler")
        guarded = bool(handler is not None and handler.opt.get("self_guarded"))
        mark = executed.PendingMark(self.store.db, namespace, key, claim.locked_until,  # type: ignore[arg-type]
                                    guarded=guarded, status=getattr(handler, "status_code", None) or 200)
        executed.current.set(mark)
        try:
            await self.app(scope, receive, capture)
        except BaseException:
            await self._not_kept(namespace, key, claim, mark)
            raise
        finally:
            if mark is not None:
                mark.closed = True
        answer = b"".join(out)
        if kept(status, answer):
            if mark.answered and _same_answer(mark.answer, status, headers, answer):
                return  # stored with the change, in its statement or transaction
            await self.store.complete(namespace, key, claim, status, headers, answer,
                                      replace=mark.answered)
        else:
            await self._not_kept(namespace, key, claim, mark)

    async def _not_kept(self, app_id: str, key: str, claim: Claim, mark: executed.PendingMark | None) -> None:
        if mark is not None and mark.marked and not mark.guarded:
            await self.store.end_lease(app_id, key, claim)  # its change committed: the key must stay
        else:
            await self.store.release(app_id, key, claim)


def _same_answer(stored: executed.Answer | None, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> bool:
    """Whether the answer stored with the change is the one that was sent (status, type, body)."""
    if stored is None:
        return False
    sent_type = next((v.decode("latin-1") for k, v in headers if k.lower() == b"content-type"), None)
    stored_type = next((v for k, v in stored[1] if k == "content-type"), None)
    return stored[0] == status and stored[2] == body and sent_type == stored_type
