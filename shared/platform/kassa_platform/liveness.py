"""Which processes are alive: a PostgreSQL advisory lock per process, held on a connection of its own.

Every process that holds leases or claims (service processes, workers) takes a number from the
sequence `kassa_process_ids` and holds the session-level advisory lock (LOCK_CLASS, number) on a
dedicated connection for as long as it lives. The server releases the lock the moment that
connection ends: at once when the process dies (kill -9, a crash, an OOM kill: the kernel closes
its sockets and the backend sees the end of its stream), within the TCP keepalive settings below
when its machine or network vanishes. The lock is the liveness record; nothing is written while the
process lives, and nothing has to expire after it dies.

Leases and claims carry their owner's number (`webhook_deliveries.lease_owner`,
`idempotency_keys.owner`, `checkout_sessions.claim_owner`). `owner_dead(column)` is the SQL test
"its owner holds no lock": statements put it beside their lease test, so a dead owner's lease is
over at once, while a live owner's lease still runs to its end (a slow request is not a dead
process). Numbers are never reused (the sequence), so a dead number stays dead.

Every process also watches the others (`Liveness.watch`): once a second it reads the set of live
numbers on its liveness connection; when a number it saw disappears (and on its first look, and
every `FULL_SWEEP_SECONDS` in case one was born and died between two looks), it runs the reapers
services registered, which hand the dead process's work to the living at once (deliveries due
again, checkout claims lapsed and reconciled).

If the liveness connection itself drops (the database restarted, a network blip), the process
takes a new number on reconnecting: its old one is dead to everyone else, who may take over what it
held; every takeover is guarded (the claim's lease or token changes), so the old holder's late
writes are refused, never doubled.

SQLite (embedded) is one process: no locks, `id` stays None, leases carry no owner and
`owner_dead` is false.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from .metrics import PROCESSES_ALIVE, PROCESSES_GONE

log = logging.getLogger("kassa.liveness")

LOCK_CLASS = 7_305_100  # the first key of every process's advisory lock: pg_advisory_lock(LOCK_CLASS, id)
SEQUENCE = "kassa_process_ids"
WATCH_SECONDS = 1.0  # how often a process looks at who is alive (one pg_locks read on its own connection)
FULL_SWEEP_SECONDS = 10.0  # reapers run at least this often, vanished numbers or not
# The server's keepalives on the liveness connection: a machine that vanishes without closing its
# sockets is noticed in idle + interval * count = 10 s (PostgreSQL's defaults are the kernel's: 2 h).
KEEPALIVE = {"tcp_keepalives_idle": "4", "tcp_keepalives_interval": "2", "tcp_keepalives_count": "3"}

# The numbers of the live processes of this database (advisory locks are per database).
ALIVE_SQL = (f"SELECT objid::int8 FROM pg_locks WHERE locktype = 'advisory' AND classid = {LOCK_CLASS} "
             "AND objsubid = 2 AND granted "
             "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")


class owner_dead(FunctionElement[bool]):  # noqa: N801 - used like a SQL function
    """SQL: the lease in `column` has an owner, and that owner holds no liveness lock. Always false
    on SQLite (one process: its owner is this process, or the lease has none)."""

    type = sa.Boolean()
    inherit_cache = True
    name = "owner_dead"


@compiles(owner_dead)
def _owner_dead_default(element: owner_dead, compiler: Any, **kw: Any) -> str:
    return "0 = 1"


@compiles(owner_dead, "postgresql")
def _owner_dead_postgresql(element: owner_dead, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"({column} IS NOT NULL AND {column} NOT IN ({ALIVE_SQL}))"


Reaper = Callable[[], Awaitable[Any]]


class Liveness:
    """This process's liveness lock, and the watch over the others'. `id` is the number leases carry."""

    def __init__(self, database_url: str, kind: str) -> None:
        self.url = database_url
        self.kind = kind
        self.id: int | None = None
        self.enabled = database_url.startswith("postgresql")
        self.reapers: dict[str, Reaper] = {}
        self.alive: set[int] = set()  # as last seen
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._last_sweep = 0.0
        self._first_look = True

    @property
    def dsn(self) -> str:
        return make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)

    def watch(self, name: str, reaper: Reaper) -> None:
        """Run `reaper` when a process is found dead (idempotent work: every process runs it); one
        per name (a service's apps may be built more than once on one runtime)."""
        self.reapers[name] = reaper

    async def start(self) -> None:
        """Take a number and its lock (PostgreSQL); then keep it, and watch the others."""
        if not self.enabled or self._task is not None:
            return
        try:
            await self._connect()
        except Exception as exc:  # noqa: BLE001 - the database is away: the watch connects when it can
            log.warning("liveness lock not taken yet (%s: %s); retrying", type(exc).__name__, exc)
        self._task = asyncio.create_task(self._run(), name="kassa-liveness")

    async def stop(self) -> None:
        """Let the lock go: the others see this process gone at their next look (and reclaim what a
        graceful stop left: its leases end with it)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._close()

    async def _connect(self) -> None:
        name = f"kassa-liveness {self.kind} {socket.gethostname()}:{os.getpid()}"[:63]
        conn = await asyncpg.connect(self.dsn, timeout=5, server_settings={"application_name": name, **KEEPALIVE})
        try:
            number = await conn.fetchval(f"SELECT nextval('{SEQUENCE}')::int4", timeout=5)
            await conn.execute("SELECT pg_advisory_lock($1, $2)", LOCK_CLASS, number, timeout=5)
            await conn.execute("SELECT set_config('application_name', $1, false)", f"{name[:50]} #{number}")
        except BaseException:
            conn.terminate()
            raise
        if self.id is not None:
            log.warning("liveness connection lost: process number %d is dead to the others; now %d", self.id, number)
        self._conn, self.id = conn, number

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    async def _run(self) -> None:
        while True:
            try:
                if self._conn is None or self._conn.is_closed():
                    await self._close()
                    await self._connect()
                await self._look()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - reconnect (with a new number) and look again
                log.warning("liveness watch failed (%s: %s); reconnecting", type(exc).__name__, exc)
                await self._close()
            await asyncio.sleep(WATCH_SECONDS)

    async def _look(self) -> None:
        assert self._conn is not None
        alive = {r[0] for r in await self._conn.fetch(ALIVE_SQL, timeout=5)}
        vanished = self.alive - alive
        self.alive = alive
        PROCESSES_ALIVE.set(len(alive))
        if vanished:
            PROCESSES_GONE.inc(len(vanished))
        now = time.monotonic()
        if vanished or self._first_look or now - self._last_sweep >= FULL_SWEEP_SECONDS:
            if vanished:
                log.info("processes %s are gone: reclaiming what they held", sorted(vanished))
            self._first_look, self._last_sweep = False, now
            await self.reap()

    async def reap(self) -> None:
        """Run every reaper now (each on its own: one that fails does not hold up the others)."""
        results = await asyncio.gather(*(reaper() for reaper in self.reapers.values()), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                log.warning("a reaper failed (%s: %s); the next look tries again", type(result).__name__, result)


async def alive_numbers(conn: asyncpg.Connection) -> set[int]:
    """The live processes' numbers, on any asyncpg connection to the database (tests, benches)."""
    return {r[0] for r in await conn.fetch(ALIVE_SQL)}
