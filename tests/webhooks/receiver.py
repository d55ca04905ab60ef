"""A merchant's webhook receiver for tests: a small HTTP/1.1 server on 127.0.0.1 (raw asyncio,
keep-alive) that verifies every request with `svix.webhooks.Webhook`, as a merchant would.

Its behaviour is programmable per request (`respond`), it can hold requests (`gate`) to catch a
worker mid-delivery, and it records what it received so that tests count events themselves.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from svix.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    event_id: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    received_at: float

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


Reply = tuple[int, dict[str, str], bytes]
Responder = Callable[[Received], Reply | Awaitable[Reply]]


@dataclass
class Receiver:
    secrets: list[str] = field(default_factory=list)
    respond: Responder | None = None
    gate: asyncio.Event | None = None  # when set to an unset Event, requests wait for it
    received: list[Received] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    _connections: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def start(self, port: int = 0) -> Receiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", port or self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._connections):  # keep-alive connections outlive close() otherwise
                writer.close()
            await self._server.wait_closed()
            self._server = None

    def verify(self, body: bytes, headers: dict[str, str]) -> bool:
        for secret in self.secrets:
            try:
                Webhook(secret).verify(body, headers)
                return True
            except (WebhookVerificationError, ValueError):
                continue
        return False

    @property
    def event_ids(self) -> set[str]:
        return {r.event_id for r in self.received if r.verified}

    def ok(self) -> list[Received]:
        return [r for r in self.received if r.verified]

    async def wait_for(self, count: int, timeout: float = 10.0) -> None:
        """Wait until `count` verified requests arrived (real I/O is happening: this is not a sleep)."""
        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: len(self.ok()) >= count), timeout)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                item = Received(headers.get("webhook-id", ""), headers, body, self.verify(body, headers), time.time())
                self.received.append(item)
                async with self._arrived:
                    self._arrived.notify_all()
                if self.gate is not None:
                    await self.gate.wait()
                status, extra, reply = 200, {}, b"ok"
                if self.respond is not None:
                    outcome = self.respond(item)
                    status, extra, reply = await outcome if asyncio.iscoroutine(outcome) else outcome  # type: ignore[misc]
                extra_lines = "".join(f"{k}: {v}\r\n" for k, v in extra.items())
                writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: {len(reply)}\r\n{extra_lines}\r\n".encode()
                             + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, asyncio.CancelledError):
            pass  # the client went away, or the receiver is stopping with a request held
        finally:
            self._connections.discard(writer)
            writer.close()
