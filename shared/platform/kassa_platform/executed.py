"""The running request's `Idempotency-Key` claim, marked `executed` by the commit of its change.

The idempotency middleware stores a request's answer after the handler returns; a process that dies
in between leaves the key claimed with no answer. So that a retry then never runs the request a
second time, the claim row is marked `executed` in the same transaction (or the same statement) that
commits the request's change: either both commit or neither does.

The middleware puts the claim in `current` (a contextvar) for the request; the data layer marks it
with the first write that commits on the claim's database:

* `kassa_platform.db.transaction` adds one UPDATE of the claim row before its COMMIT, when the
  transaction wrote a row;
* `kassa_platform.direct` runs a DML statement with RETURNING as a variant that marks the claim in
  the same statement (a data-modifying CTE), when the statement returns a row.

Either way the write commits only with its claim: a request whose claim was taken over by a retry
(its lock ran out) is rolled back with 409 `idempotency_key_in_progress` instead of running twice.

Where the answer is known before the change commits (`answer_with`: a cart write, the checkout
saga's finishing statement), the same mark stores it, `completed`: the answer commits with the
change, so a client that lost it gets it replayed, not `idempotency_key_executed`. A route that
guards its own effect (`self_guarded`: the checkout completion) is never marked `executed`, but its
answer is stored the same way, without making its write depend on the key's claim.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import msgspec
import sqlalchemy as sa
from kassa_contract.errors import KassaError

from .tables import idempotency_keys

Answer = tuple[int, list[list[str]], bytes]  # status, the headers a replay sends, body


@dataclass(eq=False)
class PendingMark:
    """One request's claim, until its change commits (`marked`) or the request ends (`closed`)."""

    db: Any  # the kassa_platform.db.Database that holds the claim (and the service's data)
    app_id: str
    key: str
    lease: datetime  # the claim's `locked_until`: it identifies this claim, not one a retry took over
    marked: bool = False
    # Set when the request ends: a task that copied the request's context (a job it started) must
    # not mark a claim that is no longer running.
    closed: bool = False
    # The route guards its own effect: the claim is never marked `executed`; an answer is still stored.
    guarded: bool = False
    status: int = 200  # the route's status code: what an answer given by `answer_with` is sent with
    answer: Answer | None = None  # set by `answer_with`: stored by the mark, with the change
    answered: bool = False  # the answer committed with the change

    def params(self) -> dict[str, Any]:
        status, headers, body = self.answer or (None, None, None)
        return {"idem_app_id": self.app_id, "idem_key": self.key, "idem_lease": self.lease,
                "idem_state": "executed" if self.answer is None else "completed", "idem_status": status,
                "idem_headers": headers, "idem_body": body}

    def wrote(self) -> None:
        """The change committed, and with it the mark (and the answer, if any)."""
        self.marked = True
        self.answered = self.answer is not None


current: ContextVar[PendingMark | None] = ContextVar("kassa_idempotency_claim", default=None)


def _open(mark: PendingMark | None) -> bool:
    return mark is not None and not (mark.marked or mark.closed) and (not mark.guarded or mark.answer is not None)


def pending(db: Any) -> PendingMark | None:
    """The running request's claim when the next commit on `db` must mark it."""
    mark = current.get()
    if not _open(mark) or mark.db is not db:  # type: ignore[union-attr]
        return None
    return mark


def pending_on_pool(pool: Any) -> PendingMark | None:
    """`pending` for a statement on a Database's direct asyncpg pool."""
    mark = current.get()
    if not _open(mark) or getattr(mark.db, "direct", None) is not pool:  # type: ignore[union-attr]
        return None
    return mark


_ANSWER = msgspec.json.Encoder()  # what Litestar sends for a returned Struct, byte for byte


def answer_with(value: Any) -> None:
    """The running request's answer is `value` (JSON, the route's status code) if its next write
    commits: the write then stores it with the change (kassa_platform.idempotency replays it). Call it
    just before the write whose success the answer reports; a request without a key ignores it."""
    mark = current.get()
    if mark is None or mark.marked or mark.closed:
        return
    from .logs import request_id_var

    headers = [["content-type", "application/json"]]
    if request_id := request_id_var.get():
        headers.append(["original-request", request_id])  # a replay has its own id; this names the first
    mark.answer = (mark.status, headers, _ANSWER.encode(value))


def forget_answer() -> None:
    """The write `answer_with` announced did not happen (another path makes the change, with an
    answer of its own): nothing is stored with the next write."""
    mark = current.get()
    if mark is not None and not mark.marked:
        mark.answer = None


def claim_lost() -> KassaError:
    return KassaError("idempotency_key_in_progress", "This request's Idempotency-Key was taken over by a retry "
                      "while it ran, so its change was not made; retry later with the same key")


def _keys() -> sa.Table:
    return idempotency_keys


def _this_claim() -> sa.ColumnElement[bool]:
    # Not the state: a commit whose outcome was unknown may have marked it already.
    K = _keys().c
    return sa.and_(K.app_id == sa.bindparam("idem_app_id", type_=K.app_id.type),
                   K.key == sa.bindparam("idem_key", type_=K.key.type),
                   K.locked_until == sa.bindparam("idem_lease", type_=K.locked_until.type),
                   K.state != "completed")


def _marked_values() -> dict[str, Any]:
    K = _keys().c
    return {"state": sa.bindparam("idem_state", type_=K.state.type),
            "status_code": sa.bindparam("idem_status", type_=K.status_code.type),
            "response_headers": sa.bindparam("idem_headers", type_=K.response_headers.type),
            "response_body": sa.bindparam("idem_body", type_=K.response_body.type)}


@cache
def mark_statement() -> sa.Update:
    """The mark in a transaction (kassa_platform.db.transaction): its rowcount must be 1."""
    return sa.update(_keys()).where(_this_claim()).values(_marked_values())


def marked_variant(statement: sa.Executable, *, strict: bool = True) -> sa.Select[Any] | None:
    """`statement` (INSERT/UPDATE/DELETE ... RETURNING, maybe with CTEs of its own) as one statement
    that also marks the claim (and stores the answer, if any) when it returns a row, or fails
    (division by zero, rolling the whole statement back) when it returns a row but the claim is no
    longer this request's. Not `strict` (a self-guarded route's answer): the write stands either way.
    None for a statement that is not such a write. PostgreSQL only: it runs on the direct pool."""
    if not isinstance(statement, (sa.Insert, sa.Update, sa.Delete)) or not statement._returning:
        return None
    written = statement.cte("kassa_written")
    keys = _keys()
    mark = (sa.update(keys).where(_this_claim(), sa.exists(sa.select(written.c[0])))
            .values(_marked_values()).returning(keys.c.app_id).cte("kassa_executed"))
    if not strict:
        return sa.select(*written.c).add_cte(mark)  # a data-modifying CTE runs, referenced or not
    # Evaluated only for a returned row, i.e. when the write happened.
    guard = sa.text("1 / (SELECT count(*) FROM kassa_executed) = 1")
    return sa.select(*written.c).add_cte(mark).where(guard)
