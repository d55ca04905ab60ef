"""Keeps a process's key cache true, and writes down when keys were last used.

A revoked or rolled-away key must stop working in every process within a second, while the
resolver caches keys for `KASSA_API_KEY_CACHE_SECONDS`:

* PostgreSQL: a dedicated connection LISTENs on `kassa_api_keys`; a trigger on `api_keys`
  NOTIFYs the digest of every key whose revocation, expiry or scopes change (delivered at commit),
  and the listener drops that key from the cache. On every (re)connect the whole cache is dropped:
  whatever changed while nobody listened is read again. A probe every few seconds notices a dead
  connection. Every process of a distributed deployment has the database, so no other channel
  (Redis) is needed.
* SQLite (embedded, one server process; the `kassa keys` commands are another): a cheap look at
  the newest `changed_at` twice a second, the whole cache dropped when it moves.

The same task flushes the resolver's recorded key uses to `last_used_at` every few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import asyncpg
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from .auth import KeyResolver
from .db import Database
from .tables import api_keys

log = logging.getLogger("kassa.keys")

CHANNEL = "kassa_api_keys"
SQLITE_POLL_SECONDS = 0.5
PROBE_SECONDS = 5.0
USAGE_FLUSH_SECONDS = 10.0


class KeyWatch:
    def __init__(self, resolver: KeyResolver, db: Database, database_url: str) -> None:
        self.resolver = resolver
        self.db = db
        self.url = database_url
        self._task: asyncio.Task[None] | None = None
        self._flushed_at = time.monotonic()
        # Set once the listener (or the SQLite watch) is in place: tests wait for it.
        self.listening = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="kassa-key-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.resolver.flush_usage()

    async def _run(self) -> None:
        while True:
            try:
                if self.url.startswith("postgresql"):
                    await self._listen()
                else:
                    await self._poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the database restarting: watch again shortly
                self.listening.clear()
                log.warning("API key watch stopped (%s: %s); reconnecting", type(exc).__name__, exc)
                await asyncio.sleep(1.0)

    async def _flush_if_due(self) -> None:
        if time.monotonic() - self._flushed_at >= USAGE_FLUSH_SECONDS:
            self._flushed_at = time.monotonic()
            try:
                await self.resolver.flush_usage()
            except Exception as exc:  # noqa: BLE001 - kept for the next flush
                log.warning("could not record API key use (%s: %s)", type(exc).__name__, exc)

    async def _listen(self) -> None:
        dsn = make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)
        conn = await asyncpg.connect(dsn, timeout=5, server_settings={"application_name": "kassa-key-watch"})
        try:
            await conn.add_listener(CHANNEL, lambda _conn, _pid, _channel, digest: self.resolver.forget(digest))
            self.resolver.forget()
            self.listening.set()
            probed = time.monotonic()
            while True:
                await asyncio.sleep(1.0)
                if conn.is_closed():
                    raise ConnectionError("listener connection closed")
                if time.monotonic() - probed >= PROBE_SECONDS:
                    await conn.fetchval("SELECT 1", timeout=5)
                    probed = time.monotonic()
                await self._flush_if_due()
        finally:
            self.listening.clear()
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    async def _poll(self) -> None:
        newest = sa.select(sa.func.max(api_keys.c.changed_at))
        seen: object = None
        first = True
        while True:
            async with self.db() as conn:
                changed = (await conn.execute(newest)).scalar_one_or_none()
            if first or changed != seen:
                self.resolver.forget()
                seen, first = changed, False
                self.listening.set()
            await self._flush_if_due()
            await asyncio.sleep(SQLITE_POLL_SECONDS)
