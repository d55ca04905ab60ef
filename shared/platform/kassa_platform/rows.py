"""The database's two paths behind plain calls, for the services' rows layers and domain modules.

A service runs on PostgreSQL (SQLAlchemy over asyncpg, plus the direct asyncpg pool of
`kassa_platform.direct` for statements that must cost one round trip) or on SQLite (SQLAlchemy, one
writer at a time). These calls hold the difference, so that a module with business rules never asks
which database it is on:

* `for_update(conn, query)`: the row lock on PostgreSQL; on SQLite, where a writing transaction
  already holds the database (`BEGIN IMMEDIATE`), the query as it is.
* `OneStatement`: a Core statement run as one round trip of its own, on the direct pool where the
  deployment has one, else through SQLAlchemy in a transaction of its own.
* `lock_in_order(conn, table, ids)`, `insert_ignoring(conn, table, rows, keys)`,
  `ignoring_duplicates(conn, table)`, `upsert(...)`: row locks in id order, INSERT … ON CONFLICT DO
  NOTHING / DO UPDATE, each in the connection's dialect.
* `on_direct(db, statement, params)`: a statement that has a PostgreSQL form only (ON CONFLICT,
  chained data-modifying CTEs), tried as one round trip; None where there is no direct pool, and the
  caller takes its general path (which PostgreSQL takes too when the one statement found nothing).
* `optimistic_then_lock(db, unlocked, locked, *args)`: a change tried without a lock (a read, then a
  write guarded by the version read), again when another writer got there first, and under the row
  lock after a few losses or when it needs more; on SQLite, where writers take turns, locked at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from .db import Database, is_postgres, transaction
from .direct import DirectStatement as DirectStatement  # for on_direct's callers: one import of the paths
from .direct import Row

Q = TypeVar("Q", bound=sa.Select[Any])
T = TypeVar("T")
P = ParamSpec("P")


def for_update(conn: AsyncConnection, query: Q, *, skip_locked: bool = False, key_share: bool = False) -> Q:
    if not is_postgres(conn):
        return query
    return query.with_for_update(skip_locked=skip_locked, key_share=key_share)


class OneStatement:
    """A Core statement (compiled once for the direct pool) that runs alone, as one round trip."""

    def __init__(self, statement: sa.Executable) -> None:
        self.core = statement
        self.direct = DirectStatement(statement)

    async def first(self, db: Database, params: dict[str, Any]) -> Any:
        """Its first row (None when it returns none, or returns no rows at all)."""
        if db.direct is not None:
            return await db.direct.fetchrow(self.direct, params)
        async with transaction(db) as conn:
            result = await conn.execute(self.core, params)
            return result.first() if result.returns_rows else None

    async def read(self, db: Database, params: dict[str, Any]) -> Any:
        """Its first row, for a statement that only reads (no transaction on SQLite)."""
        if db.direct is not None:
            return await db.direct.fetchrow(self.direct, params)
        async with db() as conn:
            return (await conn.execute(self.core, params)).first()


async def on_direct(db: Database, statement: DirectStatement, params: dict[str, Any]) -> Row | None:
    return None if db.direct is None else await db.direct.fetchrow(statement, params)


async def lock_in_order(conn: AsyncConnection, table: sa.Table, ids: set[str]) -> None:
    """Lock these rows of `table` by id, in id order, so that writers touching several never wait on
    each other in a cycle (PostgreSQL, key-share: inserts referencing them still go on). On SQLite
    writers already run one at a time: nothing to do."""
    if ids and is_postgres(conn):
        await conn.execute(sa.select(table.c.id).where(table.c.id.in_(sorted(ids))).order_by(table.c.id)
                           .with_for_update(key_share=True))


def insert_ignoring(conn: AsyncConnection, table: sa.Table, rows: list[dict[str, Any]],
                    index_elements: list[str]) -> sa.Insert:
    """INSERT … ON CONFLICT (index_elements) DO NOTHING, in the connection's dialect."""
    insert = (pg_insert if is_postgres(conn) else sqlite_insert)(table)
    return insert.values(rows).on_conflict_do_nothing(index_elements=index_elements)


def ignoring_duplicates(conn: AsyncConnection, table: sa.Table) -> sa.Insert:
    """INSERT … ON CONFLICT DO NOTHING (on any unique key), in the connection's dialect: executed with a
    list of rows, an executemany."""
    return (pg_insert if is_postgres(conn) else sqlite_insert)(table).on_conflict_do_nothing()


def upsert(conn: AsyncConnection, table: sa.Table, values: dict[str, Any], index_elements: list[Any],
           set_: dict[str, Any]) -> sa.Insert:
    """INSERT … ON CONFLICT (index_elements) DO UPDATE SET set_, in the connection's dialect."""
    insert = (pg_insert if is_postgres(conn) else sqlite_insert)(table).values(**values)
    return insert.on_conflict_do_update(index_elements=index_elements, set_=set_)


class NeedsLock:
    """What an optimistic attempt answers when the change needs the row lock (see optimistic_then_lock)."""


NEEDS_LOCK: Final = NeedsLock()
OPTIMISTIC_ATTEMPTS = 3  # then the row lock: a hot row still makes progress


async def optimistic_then_lock(db: Database, unlocked: Callable[P, Awaitable[T | NeedsLock | None]],
                               locked: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
    """`unlocked(*args, **kwargs)` where writes can be guarded in one statement (the direct pool on
    PostgreSQL): its result, or None when the row changed since it was read (tried again, up to
    OPTIMISTIC_ATTEMPTS times), or NEEDS_LOCK. Then, and always on SQLite, `locked(...)`: the change in
    one transaction holding the row lock (on SQLite the database's write lock)."""
    if db.direct is not None:
        for _ in range(OPTIMISTIC_ATTEMPTS):
            done = await unlocked(*args, **kwargs)
            if isinstance(done, NeedsLock):
                break
            if done is not None:
                return done
    return await locked(*args, **kwargs)
