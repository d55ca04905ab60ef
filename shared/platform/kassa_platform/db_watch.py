"""A task that watches the database for the life of a process: LISTEN on PostgreSQL, a cheap poll
on SQLite (which has no NOTIFY), started again a second after it fails (the database restarting).
The outbox waker and the API key watch are two."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.engine import make_url

log = logging.getLogger("kassa.db_watch")


class DatabaseWatch:
    name = "database watch"

    def __init__(self, database_url: str) -> None:
        self.url = database_url
        self._task: asyncio.Task[None] | None = None

    @property
    def listen_dsn(self) -> str:
        """The database URL as asyncpg takes it, for the listening connection."""
        return make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"kassa-{self.name.replace(' ', '-')}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

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
                log.warning("%s stopped (%s: %s); reconnecting", self.name, type(exc).__name__, exc)
                await asyncio.sleep(1.0)

    async def _listen(self) -> None:
        raise NotImplementedError

    async def _poll(self) -> None:
        raise NotImplementedError
