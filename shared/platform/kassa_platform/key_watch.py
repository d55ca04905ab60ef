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

Signed-in users' sessions ride on the same channel: a trigger on `users` NOTIFYs `user:<id>` when
the user's `changed_at` moves (sign-out, sign-out everywhere, a role changed), and the listener
drops that user's cached sessions; on SQLite the poll watches the newest `users.changed_at` too.

The same task flushes the resolver's recorded key uses to `last_used_at`, and the sessions' last
requests to `last_seen_at` (their idle timeout), every few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import asyncpg
import sqlalchemy as sa

from .auth import KeyResolver, SessionResolver
from .db import Database
from .db_watch import DatabaseWatch
from .tables import api_keys, users

log = logging.getLogger("kassa.keys")

CHANNEL = "kassa_api_keys"
SQLITE_POLL_SECONDS = 0.5
PROBE_SECONDS = 5.0
USAGE_FLUSH_SECONDS = 10.0


class KeyWatch(DatabaseWatch):
    name = "API key watch"

    def __init__(self, resolver: KeyResolver, db: Database, database_url: str,
                 sessions: SessionResolver | None = None) -> None:
        super().__init__(database_url)
        self.resolver = resolver
        self.sessions = sessions
        self.db = db
        self._flushed_at = time.monotonic()

    async def stop(self) -> None:
        await super().stop()
        with contextlib.suppress(Exception):
            await self.resolver.flush_usage()
        if self.sessions is not None:
            with contextlib.suppress(Exception):
                await self.sessions.flush_seen()

    async def _flush_if_due(self) -> None:
        if time.monotonic() - self._flushed_at >= USAGE_FLUSH_SECONDS:
            self._flushed_at = time.monotonic()
            try:
                await self.resolver.flush_usage()
            except Exception as exc:  # noqa: BLE001 - kept for the next flush
                log.warning("could not record API key use (%s: %s)", type(exc).__name__, exc)
            if self.sessions is not None:
                try:
                    await self.sessions.flush_seen()
                except Exception as exc:  # noqa: BLE001 - kept for the next flush
                    log.warning("could not record session use (%s: %s)", type(exc).__name__, exc)

    async def _listen(self) -> None:
        conn = await asyncpg.connect(self.listen_dsn, timeout=5, server_settings={"application_name": "kassa-key-watch"})
        try:
            await conn.add_listener(CHANNEL, lambda _conn, _pid, _channel, payload: self._changed(payload))
            self._forget_all()
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
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    def _changed(self, payload: str) -> None:
        if payload.startswith("user:"):
            if self.sessions is not None:
                self.sessions.forget_user(payload[5:])
        else:
            self.resolver.forget(payload)

    def _forget_all(self) -> None:
        self.resolver.forget()
        if self.sessions is not None:
            self.sessions.forget()

    async def _poll(self) -> None:
        newest = sa.select(sa.func.max(api_keys.c.changed_at), sa.select(sa.func.max(users.c.changed_at))
                           .scalar_subquery())
        seen: object = None
        first = True
        while True:
            async with self.db() as conn:
                changed = tuple((await conn.execute(newest)).one())
            if first or changed != seen:
                self._forget_all()
                seen, first = changed, False
            await self._flush_if_due()
            await asyncio.sleep(SQLITE_POLL_SECONDS)
