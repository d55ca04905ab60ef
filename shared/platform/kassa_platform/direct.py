"""Hot paths on PostgreSQL: prebuilt Core statements executed on asyncpg directly.

SQLAlchemy's async layer costs several hundred microseconds of CPU per statement here (pool
checkout, greenlet hand-off, parameter and result processing), about five times what asyncpg
itself spends. The few statements that every cart change runs are therefore compiled once to
asyncpg's SQL and run on a pool of plain asyncpg connections. They stay SQLAlchemy statements
(one definition, also run through SQLAlchemy on SQLite), and their values keep the meaning they
have through SQLAlchemy: JSON columns decode to Python values, and a Python None bound to a JSON
column is stored as JSON `null`, as SQLAlchemy's JSON type stores it.

`OnDemandConnection` stands in for the SQLAlchemy connection that the rest of a hot path may need
for reads (a cache miss, a discount code lookup) and opens one only then.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

_DIALECT = PGDialect_asyncpg()


class _JsonNull:
    """Binds a JSON null (asyncpg sends a bare None as SQL NULL, without calling the codec)."""


_JSON_NULL = _JsonNull()


class DirectStatement:
    """A Core statement compiled once for asyncpg: its SQL, its parameters in order, and which of
    them are JSON."""

    def __init__(self, statement: sa.Executable) -> None:
        compiled = statement.compile(dialect=_DIALECT)  # type: ignore[attr-defined]
        self.sql = str(compiled)
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        self.json = frozenset(name for name, bind in ((b.key, b) for b in compiled.binds.values())
                              if isinstance(bind.type.dialect_impl(_DIALECT), sa.JSON))
        self.values = {name: compiled.binds[name].value for name in self.names}  # values built in (literals)

    def args(self, params: dict[str, Any]) -> list[Any]:
        json, values = self.json, self.values
        return [_JSON_NULL if value is None and name in json else value
                for name, value in ((n, params[n] if n in params else values[n]) for n in self.names)]


class Row:
    """Attribute access over an asyncpg record, like a SQLAlchemy row."""

    __slots__ = ("_record",)

    def __init__(self, record: asyncpg.Record) -> None:
        self._record = record

    def __getattr__(self, name: str) -> Any:
        try:
            return self._record[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def _fields(self) -> tuple[str, ...]:
        return tuple(self._record.keys())


def _encode_json(value: Any) -> str:
    return "null" if value is _JSON_NULL else msgspec.json.encode(value).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, schema="pg_catalog", encoder=_encode_json, decoder=msgspec.json.decode,
                                  format="text")


async def _keep_session(_: asyncpg.Connection) -> None:
    """No reset on release: asyncpg's default (unlock advisory locks, close cursors, unlisten, reset
    settings) is a round trip per statement here, and direct statements change no session state."""


class DirectPool:
    """A pool of plain asyncpg connections beside the engine's, opened at first use."""

    def __init__(self, url: sa.URL, size: int) -> None:
        self._dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._size = size
        self._pool: asyncpg.Pool | None = None
        # Called with each statement's SQL before it runs (tests count statements with it).
        self.listeners: list[Callable[[str], None]] = []

    async def _acquire_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            pool = await asyncpg.create_pool(self._dsn, min_size=0, max_size=self._size, init=_init_connection,
                                             reset=_keep_session, server_settings={"application_name": "kassa"})
            if self._pool is None:  # another task may have made one meanwhile
                self._pool = pool
            else:
                await pool.close()
        return self._pool

    async def fetchrow(self, statement: DirectStatement, params: dict[str, Any]) -> Row | None:
        for listener in self.listeners:
            listener(statement.sql)
        pool = self._pool or await self._acquire_pool()
        record = await pool.fetchrow(statement.sql, *statement.args(params))
        return None if record is None else Row(record)

    async def fetch(self, statement: DirectStatement, params: dict[str, Any]) -> list[Row]:
        for listener in self.listeners:
            listener(statement.sql)
        pool = self._pool or await self._acquire_pool()
        return [Row(r) for r in await pool.fetch(statement.sql, *statement.args(params))]

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()


class OnDemandConnection:
    """Reads through SQLAlchemy on a connection opened at the first statement (see the module doc).
    Offers what read paths use of an AsyncConnection: `execute` and `dialect`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self.dialect = engine.dialect
        self._conn: AsyncConnection | None = None

    async def execute(self, statement: sa.Executable, parameters: dict[str, Any] | Sequence[dict[str, Any]] | None = None,
                      **kw: Any) -> Any:
        if self._conn is None:
            self._conn = await self._engine.connect()
        return await self._conn.execute(statement, parameters, **kw)

    async def __aenter__(self) -> OnDemandConnection:
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()
