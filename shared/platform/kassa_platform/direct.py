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

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol, Unpack

import asyncpg
import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from . import executed

_DIALECT = PGDialect_asyncpg()


class _JsonNull:
    """Binds a JSON null (asyncpg sends a bare None as SQL NULL, without calling the codec)."""


_JSON_NULL = _JsonNull()


class DirectStatement:
    """A Core statement compiled once for asyncpg: its SQL, its parameters in order, and which of
    them are JSON. A write with RETURNING also gets its `marked` variant, run instead while a request
    with an Idempotency-Key has not committed its change yet (kassa_platform.executed)."""

    def __init__(self, statement: sa.Executable, *, variant: bool = True) -> None:
        marked = executed.marked_variant(statement) if variant else None
        self.marked = None if marked is None else DirectStatement(marked, variant=False)
        # A self-guarded route's answer, stored with the write whether or not the key is still its own.
        answered = executed.marked_variant(statement, strict=False) if marked is not None else None
        self.answered = None if answered is None else DirectStatement(answered, variant=False)
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

    def __iter__(self) -> Iterator[Any]:
        """Its values in the statement's column order (a rows layer may build a dataclass from them)."""
        return iter(self._record)


def _encode_json(value: Any) -> str:
    return "null" if value is _JSON_NULL else msgspec.json.encode(value).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, schema="pg_catalog", encoder=_encode_json, decoder=msgspec.json.decode,
                                  format="text")


class DirectPool:
    """Plain asyncpg connections beside the engine's pool, opened as needed, at most `size`.

    Not asyncpg's own Pool: its release runs through `asyncio.shield` (a task per statement) and
    resets the session (a round trip), which together cost more than the statement itself
    (105 us of CPU per query against 44 us here). Direct statements change no session state, so a
    connection goes back as it is; one that failed for any reason but a plain SQL error is closed
    and replaced.
    """

    def __init__(self, url: sa.URL, size: int, *, connect_timeout: float = 10, wait_timeout: float = 30) -> None:
        self._dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._size = size
        self._connect_timeout, self._wait_timeout = connect_timeout, wait_timeout
        self._idle: list[asyncpg.Connection] = []
        self._opened = 0  # connections open or being opened
        self._waiters: deque[asyncio.Future[asyncpg.Connection | None]] = deque()
        self._closed = False
        # Called with each statement's SQL before it runs (tests count statements with it).
        self.listeners: list[Callable[[str], None]] = []

    def stats(self) -> dict[str, int]:
        """Connections in use, idle, being waited for, and the most this pool opens (for metrics)."""
        return {"in_use": self._opened - len(self._idle), "idle": len(self._idle), "waiting": len(self._waiters),
                "size": self._size}

    async def fetchrow(self, statement: DirectStatement, params: dict[str, Any]) -> Row | None:
        record = await self._run("fetchrow", statement, params)
        return None if record is None else Row(record)

    async def fetch(self, statement: DirectStatement, params: dict[str, Any]) -> list[Row]:
        return [Row(r) for r in await self._run("fetch", statement, params)]

    async def _run(self, method: str, statement: DirectStatement, params: dict[str, Any]) -> Any:
        mark = executed.pending_on_pool(self) if statement.marked is not None else None
        if mark is not None:
            variant = statement.answered if mark.guarded else statement.marked
            statement, params = variant, {**params, **mark.params()}  # type: ignore[assignment]
        for listener in self.listeners:
            listener(statement.sql)
        args = statement.args(params)
        conn = await self._lease()
        try:
            result = await getattr(conn, method)(statement.sql, *args)
        except asyncpg.DivisionByZeroError:
            self._give_back(conn)
            if mark is not None:  # the marked variant's guard: the claim is no longer this request's
                raise executed.claim_lost() from None
            raise
        except asyncpg.PostgresError as exc:
            # A SQL error leaves the connection usable; a lost connection or a shutdown does not.
            if isinstance(exc, CONNECTION_LOST) or conn.is_closed():
                self._discard(conn)
                self._drop_idle()
            else:
                self._give_back(conn)
            raise
        except BaseException as exc:  # cancelled mid-statement, or the connection broke: its state is unknown
            self._discard(conn)
            if isinstance(exc, (OSError, asyncpg.InterfaceError)):
                self._drop_idle()
            raise
        self._give_back(conn)
        if mark is not None and (result is not None if method == "fetchrow" else len(result) > 0):
            # A row came back: the write happened, and the mark committed with it.
            mark.wrote()
        return result

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[DirectTransaction]:
        """One connection in one transaction, for a hot path of several statements that must commit
        together: committed when the block ends, rolled back on any error. (No Idempotency-Key mark
        is written here: run such a request through SQLAlchemy's `transaction`.)"""
        conn = await self._lease()
        tx = conn.transaction()
        try:
            await tx.start()
            yield DirectTransaction(conn, self.listeners)
        except asyncpg.PostgresError as exc:
            if isinstance(exc, CONNECTION_LOST) or conn.is_closed():
                self._discard(conn)
                self._drop_idle()
                raise
            try:
                await tx.rollback()
            except BaseException:
                self._discard(conn)
                raise
            self._give_back(conn)
            raise
        except BaseException:
            try:
                await tx.rollback()
            except BaseException:
                self._discard(conn)
                raise
            self._give_back(conn)
            raise
        try:
            await tx.commit()
        except BaseException:
            self._discard(conn)
            raise
        self._give_back(conn)

    async def _lease(self) -> asyncpg.Connection:
        while True:
            if self._closed:
                raise asyncpg.InterfaceError("the direct pool is closed")
            while self._idle:
                conn = self._idle.pop()
                if not conn.is_closed():
                    return conn
                self._opened -= 1
            if self._opened < self._size:
                self._opened += 1
                opened: asyncpg.Connection | None = None
                try:
                    opened = await asyncpg.connect(self._dsn, timeout=self._connect_timeout,
                                                   server_settings={"application_name": "kassa"})
                    await _init_connection(opened)
                    return opened
                except BaseException:
                    if opened is not None:
                        opened.terminate()
                    self._free_slot()
                    raise
            waiter: asyncio.Future[asyncpg.Connection | None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                async with asyncio.timeout(self._wait_timeout):
                    handed = await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled() and (late := waiter.result()) is not None:
                    self._give_back(late)  # handed over just as this task gave up
                raise
            if handed is not None:
                return handed
            # None: a connection was closed and its slot is free; go round and open one.

    def _give_back(self, conn: asyncpg.Connection) -> None:
        if self._closed:
            self._discard(conn)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._idle.append(conn)

    def _discard(self, conn: asyncpg.Connection) -> None:
        conn.terminate()
        self._free_slot()

    def _drop_idle(self) -> None:
        """A lost server took the idle connections with it: close them all now, rather than let
        each fail one more request (what SQLAlchemy's pool does on a disconnect, too)."""
        idle, self._idle = self._idle, []
        for conn in idle:
            self._discard(conn)

    def _free_slot(self) -> None:
        self._opened -= 1
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            self._opened -= 1
            await conn.close(timeout=5)


class DirectTransaction:
    """The statements of one `DirectPool.transaction`."""

    __slots__ = ("_conn", "_listeners")

    def __init__(self, conn: asyncpg.Connection, listeners: list[Callable[[str], None]]) -> None:
        self._conn, self._listeners = conn, listeners

    def _heard(self, statement: DirectStatement) -> str:
        for listener in self._listeners:
            listener(statement.sql)
        return statement.sql

    async def fetchrow(self, statement: DirectStatement, params: dict[str, Any]) -> Row | None:
        record = await self._conn.fetchrow(self._heard(statement), *statement.args(params))
        return None if record is None else Row(record)

    async def fetch(self, statement: DirectStatement, params: dict[str, Any]) -> list[Row]:
        return [Row(r) for r in await self._conn.fetch(self._heard(statement), *statement.args(params))]

    async def executemany(self, statement: DirectStatement, params: Sequence[dict[str, Any]]) -> None:
        if params:
            await self._conn.executemany(self._heard(statement), [statement.args(p) for p in params])


# PostgreSQL errors that mean the connection is gone (also what errors.database_unavailable reads).
CONNECTION_LOST = (asyncpg.PostgresConnectionError, asyncpg.AdminShutdownError, asyncpg.CrashShutdownError,
                      asyncpg.CannotConnectNowError)


class Reads(Protocol):
    """What a read path uses of a connection: `execute` and `dialect`. An AsyncConnection offers it,
    and so does OnDemandConnection, so a function that only reads takes either."""

    @property
    def dialect(self) -> Dialect: ...

    async def execute(self, statement: sa.Executable,
                      parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None, *,
                      execution_options: Mapping[str, Any] | None = None) -> sa.CursorResult[Unpack[tuple[Any, ...]]]: ...


class OnDemandConnection:
    """Reads through SQLAlchemy on a connection opened at the first statement (see the module doc).
    Offers what read paths use of an AsyncConnection: `execute` and `dialect`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self.dialect = engine.dialect
        self._conn: AsyncConnection | None = None

    async def execute(self, statement: sa.Executable,
                      parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None, *,
                      execution_options: Mapping[str, Any] | None = None) -> sa.CursorResult[Unpack[tuple[Any, ...]]]:
        if self._conn is None:
            self._conn = await self._engine.connect()
        return await self._conn.execute(statement, parameters, execution_options=execution_options)

    async def __aenter__(self) -> OnDemandConnection:
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()
