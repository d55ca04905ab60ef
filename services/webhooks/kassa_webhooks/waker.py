"""The relay's wake-up hint, run inside the webhook service's app process.

PostgreSQL: LISTEN on `kassa_outbox` (a trigger NOTIFYs at every outbox commit) and queue the
relay job on each notification. SQLite (embedded) has no NOTIFY: a cheap look at the pending
index several times a second does the same. Either way a check every few seconds covers a lost
notification or a listener that is reconnecting, and the minute cron covers everything else.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
from kassa_platform.db_watch import DatabaseWatch

from .service import RELAY_JOB, WebhookModule

CHANNEL = "kassa_outbox"
SQLITE_POLL_SECONDS = 0.2
FALLBACK_CHECK_SECONDS = 2.0
# Commits arriving within 100 ms make one relay pass. A pass has a fixed cost (a transaction of
# four statements) whatever its batch: at 20 ms a server completing 60 checkouts/s spent more CPU
# relaying than completing; at 100 ms a pass carries ~30 events, for ~0.1 s of added latency.
DEBOUNCE_SECONDS = 0.1


class OutboxWaker(DatabaseWatch):
    name = "outbox waker"

    def __init__(self, module: WebhookModule, database_url: str) -> None:
        super().__init__(database_url)
        self.module = module

    async def _kick(self) -> None:
        await self.module.hint(RELAY_JOB)
        await asyncio.sleep(DEBOUNCE_SECONDS)

    async def _poll(self) -> None:
        while True:
            if await self.module.relay.has_pending():
                await self._kick()
            await asyncio.sleep(SQLITE_POLL_SECONDS)

    async def _listen(self) -> None:
        notified = asyncio.Event()
        conn = await asyncpg.connect(self.listen_dsn, timeout=5)
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
