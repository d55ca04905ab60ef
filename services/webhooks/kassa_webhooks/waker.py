"""The relay's wake-up hint, run inside the webhook service's app process.

PostgreSQL: LISTEN on `kassa_outbox` (a trigger NOTIFYs at every outbox commit) and queue the
relay job on each notification. SQLite (embedded) has no NOTIFY: a cheap look at the pending
index several times a second does the same. Either way a check every few seconds covers a lost
notification or a listener that is reconnecting, and the minute cron covers everything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
from sqlalchemy.engine import make_url

from .service import RELAY_JOB, WebhookModule

log = logging.getLogger("kassa.webhooks.waker")

CHANNEL = "kassa_outbox"
SQLITE_POLL_SECONDS = 0.2
FALLBACK_CHECK_SECONDS = 2.0
# Commits arriving within 100 ms make one relay pass. A pass has a fixed cost (a transaction of
# four statements) whatever its batch: at 20 ms a server completing 60 checkouts/s spent more CPU
# relaying than completing; at 100 ms a pass carries ~30 events, for ~0.1 s of added latency.
DEBOUNCE_SECONDS = 0.1


class OutboxWaker:
    def __init__(self, module: WebhookModule, database_url: str) -> None:
        self.module = module
        self.url = database_url
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="kassa-outbox-waker")

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
                    await self._poll(SQLITE_POLL_SECONDS)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the database restarting: listen again shortly
                log.warning("outbox listener stopped (%s: %s); reconnecting", type(exc).__name__, exc)
                await asyncio.sleep(1.0)

    async def _kick(self) -> None:
        await self.module.hint(RELAY_JOB)
        await asyncio.sleep(DEBOUNCE_SECONDS)

    async def _poll(self, interval: float) -> None:
        while True:
            if await self.module.relay.has_pending():
                await self._kick()
            await asyncio.sleep(interval)

    async def _listen(self) -> None:
        dsn = make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)
        notified = asyncio.Event()
        conn = await asyncpg.connect(dsn, timeout=5)
        try:
            await conn.add_listener(CHANNEL, lambda *_: notified.set())
            notified.set()  # whatever was written while nobody listened
            while True:
                try:
                    await asyncio.wait_for(notified.wait(), FALLBACK_CHECK_SECONDS)
                except TimeoutError:
                    if conn.is_closed():
                        raise ConnectionError("listener connection closed") from None
                    if not await self.module.relay.has_pending():
                        continue
                notified.clear()
                await self._kick()
        finally:
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)
