"""Database access: one async engine per process, PostgreSQL (asyncpg) or SQLite (aiosqlite).

Both dialects run the same queries. SQLite specifics live here alone: WAL, a busy timeout and
`BEGIN IMMEDIATE`, so that a read-modify-write transaction holds the write lock from its first
statement and two writers cannot lose each other's update.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from . import executed
from .direct import DirectPool, OnDemandConnection, Reads

# msgspec encodes and decodes JSON columns several times faster than the json module.
_JSON_CODEC = {"json_serializer": lambda obj: msgspec.json.encode(obj).decode(), "json_deserializer": msgspec.json.decode}


def create_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=echo, pool_size=pool_size, max_overflow=0,
                                     connect_args={"timeout": 30}, **_JSON_CODEC)
        _configure_sqlite(engine)
        return engine
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        # No overflow: a connection opened for a burst and closed after it costs more than the wait
        # for a pooled one.
        max_overflow=0,
        pool_pre_ping=False,
        pool_recycle=1800,
        connect_args={"server_settings": {"application_name": "kassa"}},
        **_JSON_CODEC,
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's implicit transactions are deferred).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """Connections for Core statements: `db()` to read, `db.begin()` for one transaction.

    Services use SQLAlchemy Core only, so they work on `AsyncConnection`s: an ORM session would
    add its own work to every statement and give nothing back.
    """

    def __init__(self, engine: AsyncEngine, *, direct_pool_size: int = 10) -> None:
        self.engine = engine
        # Reads on PostgreSQL run in autocommit: a lone SELECT needs no BEGIN/ROLLBACK round trips.
        # (SQLite keeps its transactions: its BEGIN IMMEDIATE hook must always be paired.)
        self._reader = engine.execution_options(isolation_level="AUTOCOMMIT") if is_postgres(engine) else engine
        # PostgreSQL: hot-path statements on asyncpg directly (kassa_platform.direct); None on SQLite.
        self.direct = DirectPool(engine.url, direct_pool_size) if is_postgres(engine) else None
        if not event.contains(engine.sync_engine, "after_cursor_execute", _note_write):
            event.listen(engine.sync_engine, "after_cursor_execute", _note_write)

    def on_demand(self) -> OnDemandConnection:
        """A stand-in for a read connection that opens one only if a statement needs it."""
        return OnDemandConnection(self._reader)

    async def close(self) -> None:
        if self.direct is not None:
            await self.direct.close()
        await self.engine.dispose()

    def __call__(self) -> AsyncConnection:
        """A connection for reads (several statements are not isolated together on PostgreSQL)."""
        return self._reader.connect()

    def begin(self) -> Any:
        """`async with db.begin() as conn`: one transaction (SQLAlchemy's async context manager)."""
        return self.engine.begin()


_WROTE = "kassa.wrote"


def _note_write(conn: sa.Connection, cursor: Any, _statement: str, _parameters: Any, context: Any,
                _executemany: bool) -> None:
    """Remember that the connection's transaction changed a row (`transaction` asks)."""
    if context is not None and (context.isinsert or context.isupdate or context.isdelete) and cursor.rowcount != 0:
        conn.info[_WROTE] = True


@asynccontextmanager
async def transaction(db: Database) -> AsyncIterator[AsyncConnection]:
    """A connection inside one transaction: commit on success, roll back on any error.

    The first transaction of a request with an Idempotency-Key that changes a row also marks the
    key's claim `executed` before it commits (kassa_platform.executed), or rolls back if the claim
    was taken over meanwhile.
    """
    mark = executed.pending(db)
    async with db.begin() as conn:
        if mark is not None:
            conn.info[_WROTE] = False
        yield conn
        if mark is not None and executed.pending(db) is mark and conn.info.pop(_WROTE, False):
            if (await conn.execute(executed.mark_statement(), mark.params())).rowcount != 1:
                if not mark.guarded:
                    raise executed.claim_lost()
                mark.answer = None  # a self-guarded route's write stands; the key is another's now
        else:
            mark = None
    if mark is not None:
        mark.wrote()


def is_postgres(conn: Reads | AsyncEngine) -> bool:
    return conn.dialect.name == "postgresql"

