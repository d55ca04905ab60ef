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
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from kassa_contract.errors import KassaError

from .tables import idempotency_keys


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

    def params(self) -> dict[str, Any]:
        return {"idem_app_id": self.app_id, "idem_key": self.key, "idem_lease": self.lease}


current: ContextVar[PendingMark | None] = ContextVar("kassa_idempotency_claim", default=None)


def pending(db: Any) -> PendingMark | None:
    """The running request's claim when the next commit on `db` must mark it."""
    mark = current.get()
    if mark is None or mark.marked or mark.closed or mark.db is not db:
        return None
    return mark


def pending_on_pool(pool: Any) -> PendingMark | None:
    """`pending` for a statement on a Database's direct asyncpg pool."""
    mark = current.get()
    if mark is None or mark.marked or mark.closed or getattr(mark.db, "direct", None) is not pool:
        return None
    return mark


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


@cache
def mark_statement() -> sa.Update:
    """The mark in a transaction (kassa_platform.db.transaction): its rowcount must be 1."""
    return sa.update(_keys()).where(_this_claim()).values(state="executed")


def marked_variant(statement: sa.Executable) -> sa.Select[Any] | None:
    """`statement` (INSERT/UPDATE/DELETE ... RETURNING, maybe with CTEs of its own) as one statement
    that also marks the claim when it returns a row, or fails (division by zero, rolling the whole
    statement back) when it returns a row but the claim is no longer this request's. None for a
    statement that is not such a write. PostgreSQL only: it runs on the direct pool."""
    if not isinstance(statement, (sa.Insert, sa.Update, sa.Delete)) or not statement._returning:
        return None
    written = statement.cte("kassa_written")
    keys = _keys()
    mark = (sa.update(keys).where(_this_claim(), sa.exists(sa.select(written.c[0])))
            .values(state="executed").returning(keys.c.app_id).cte("kassa_executed"))
    # Evaluated only for a returned row, i.e. when the write happened.
    guard = sa.text("1 / (SELECT count(*) FROM kassa_executed) = 1")
    return sa.select(*written.c).add_cte(mark).where(guard)
