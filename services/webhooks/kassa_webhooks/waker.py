"""The relay's wake-up hint, run inside the webhook service's app process.

PostgreSQL: LISTEN on `kassa_outbox` (a trigger NOTIFYs at every outbox commit). SQLite (embedded)
has no NOTIFY: a cheap look at the pending index once per gathering window does the same. Either
way a check every few seconds covers a lost notification or a listener that is reconnecting, and
the minute cron covers everything else.

Commits are gathered before the relay job is queued: the first notification opens a window of
`gather_seconds` (KASSA_OUTBOX_GATHER_SECONDS, 0.25 s), and one relay pass takes everything
committed in it; `gather_commits` notifications close it early (a burst relays at once, in batches
that are large anyway). A relay pass costs a transaction of four statements whatever it carries,
and so does the delivery run it starts, so passes must not come more often when there is less
to carry. The window used to open at the pass instead (a commit after a quiet moment was relayed
at once, alone, and only the commits during the next 100 ms were gathered): at low load nearly
every journey paid for passes of its own, and a journey cost twice the CPU it costs at saturation.
An event waits at most the window before its pass; its first delivery attempt follows the pass.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg
from kassa_platform.db_watch import DatabaseWatch

from .service import RELAY_JOB, WebhookModule

CHANNEL = "kassa_outbox"
FALLBACK_CHECK_SECONDS = 2.0
GATHER_SECONDS = 0.25
# Commits that close the window early: beyond this many, waiting gathers little that a pass would
# not take anyway, and only adds latency.
GATHER_COMMITS = 200


class OutboxWaker(DatabaseWatch):
    name = "outbox waker"

    def __init__(self, module: WebhookModule, database_url: str, *, gather_seconds: float = GATHER_SECONDS,
                 gather_commits: int = GATHER_COMMITS) -> None:
        super().__init__(database_url)
        self.module = module
        self.gather_seconds = gather_seconds
        self.gather_commits = gather_commits
        self._woken = asyncio.Event()  # a commit came since the last pass was queued
        self._full = asyncio.Event()  # gather_commits of them came
        self._commits = 0

    def notified(self, *_: Any) -> None:
        """One outbox commit (a notification)."""
        self._commits += 1
        self._woken.set()
        if self._commits >= self.gather_commits:
            self._full.set()

    async def _gather_and_kick(self) -> None:
        """Let the window's commits gather, then queue one relay pass for them all."""
        if not self._full.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self.gather_seconds)
        # What commits from here on opens the next window (the pass may take it too: no harm).
        self._commits = 0
        self._woken.clear()
        self._full.clear()
        await self.module.hint(RELAY_JOB)

    async def _poll(self) -> None:
        while True:
            if await self.module.relay.has_pending():
                await self.module.hint(RELAY_JOB)
            await asyncio.sleep(self.gather_seconds)

    async def _listen(self) -> None:
        conn = await asyncpg.connect(self.listen_dsn, timeout=5)
        try:
            await conn.add_listener(CHANNEL, self.notified)
            self.notified()  # whatever was written while nobody listened
            while True:
                try:
                    await asyncio.wait_for(self._woken.wait(), FALLBACK_CHECK_SECONDS)
                except TimeoutError:
                    if conn.is_closed():
                        raise ConnectionError("listener connection closed") from None
                    if not await self.module.relay.has_pending():
                        continue
                await self._gather_and_kick()
        finally:
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)
