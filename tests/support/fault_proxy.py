"""A fault-injecting HTTP reverse proxy on 127.0.0.1, put between a client and localstripe.

    async with FaultProxy(localstripe.url) as proxy:
        proxy.drop_answer("POST", r"^/v1/payment_intents$")         # Stripe acts, the client sees a network error
        proxy.fail("POST", r"^/v1/refunds$", status=500)            # answered 500 (Stripe-shaped), not forwarded
        proxy.hang("POST", r"/capture$")                            # held: the client times out
        async with localstripe.client(base=proxy.url, timeout=2) as client: ...
        proxy.requests  # [Seen(method, path, query, idempotency_key, authorization, body, outcome,
                        #       status, response), ...]: `response` is localstripe's answer, dropped or not

Every request is forwarded as it came (method, path, query, headers with `Idempotency-Key` and
`Authorization`, body) unless a rule matches it. A rule matches a method and a path regex
(`re.search` on the path, without the query) for its next `times` requests (None: all of them);
the first rule that still has uses wins.

It is a small HTTP/1.1 server on raw asyncio (keep-alive, Content-Length bodies, as Stripe's
clients send) rather than an ASGI app: uvicorn answers 500 for an app that returns without
answering, so an ASGI app cannot drop a connection without a word.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

Action = Literal["drop_answer", "status", "hang", "hang_answer"]

# Hop-by-hop headers and those that the forwarding recomputes.
_SKIP_REQUEST = {"host", "content-length", "connection", "keep-alive", "transfer-encoding", "te", "upgrade",
                 "proxy-connection", "accept-encoding"}
_SKIP_RESPONSE = {"content-length", "connection", "keep-alive", "transfer-encoding", "content-encoding"}


@dataclass
class Rule:
    method: str
    path: re.Pattern[str]
    action: Action
    times: int | None = 1
    status: int = 500
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        return ((self.times is None or self.hits < self.times) and self.method in ("*", method.upper())
                and self.path.search(path) is not None)


@dataclass
class Seen:
    method: str
    path: str
    query: str
    idempotency_key: str | None
    authorization: str | None
    body: bytes
    outcome: str = "forwarded"  # forwarded | drop_answer | status | hang | hang_answer
    status: int | None = None  # what localstripe answered, when forwarded (also when the client never saw it)
    response: bytes | None = None

    def json(self) -> Any:
        """localstripe's answer, decoded: a dropped answer tells the test what Stripe did."""
        assert self.response is not None, f"{self.method} {self.path} was not forwarded"
        return json.loads(self.response)


def stripe_error_body(status: int) -> bytes:
    """An error body as Stripe sends it (`{"error": {"type", "message"}}`)."""
    kind = "api_error" if status >= 500 else "invalid_request_error"
    return json.dumps({"error": {"type": kind, "message": f"An injected {status} from the fault proxy."}}).encode()


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.rules: list[Rule] = []
        self.requests: list[Seen] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._client: httpx.AsyncClient | None = None
        self._release = asyncio.Event()
        self._held = 0
        self._held_changed = asyncio.Condition()
        self._connections: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- rules

    def add_rule(self, method: str, path: str, action: Action, *, times: int | None = 1, status: int = 500,
                 body: bytes | None = None, headers: dict[str, str] | None = None) -> Rule:
        rule = Rule(method.upper(), re.compile(path), action, times, status,
                    stripe_error_body(status) if body is None else body, headers or {})
        self.rules.append(rule)
        return rule

    def drop_answer(self, method: str, path: str, *, times: int | None = 1) -> Rule:
        """Forward the request (localstripe acts on it), then close the connection without answering."""
        return self.add_rule(method, path, "drop_answer", times=times)

    def fail(self, method: str, path: str, *, status: int = 500, times: int | None = 1, body: bytes | None = None,
             headers: dict[str, str] | None = None) -> Rule:
        """Answer `status` with a Stripe-shaped error body, without forwarding."""
        return self.add_rule(method, path, "status", times=times, status=status, body=body, headers=headers)

    def hang(self, method: str, path: str, *, times: int | None = 1, after_forward: bool = False) -> Rule:
        """Hold the request until `release()` or the proxy closes. Held before forwarding (default:
        localstripe never sees it, and on release the connection closes without an answer), or with
        `after_forward` after localstripe acted (on release the answer is sent, if the client still waits)."""
        return self.add_rule(method, path, "hang_answer" if after_forward else "hang", times=times)

    def release(self) -> None:
        """Let every held request go on (and those that match a hang rule from now on)."""
        self._release.set()

    async def wait_held(self, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until `count` requests are held (the proxy's own I/O: not a sleep)."""
        async with self._held_changed:
            await asyncio.wait_for(self._held_changed.wait_for(lambda: self._held >= count), timeout)

    def seen(self, method: str | None = None, path: str | None = None) -> list[Seen]:
        return [s for s in self.requests if (method is None or s.method == method.upper())
                and (path is None or re.search(path, s.path))]

    # -- lifecycle

    async def start(self) -> FaultProxy:
        self._client = httpx.AsyncClient(base_url=self.upstream, timeout=30)
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        self._release.set()  # a held request is let go (a pre-forward one closes without an answer)
        if self._server is not None:
            self._server.close()
            for writer in list(self._connections):
                writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
            self._server = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- serving

    async def _hold(self) -> None:
        async with self._held_changed:
            self._held += 1
            self._held_changed.notify_all()
        try:
            await self._release.wait()
        finally:
            async with self._held_changed:
                self._held -= 1
                self._held_changed.notify_all()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return  # the client closed its idle connection
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                method, target, _ = request_line.split(" ", 2)
                headers = [(k.strip(), v.strip()) for k, _, v in (ln.partition(":") for ln in header_lines if ln)]
                lower = {k.lower(): v for k, v in headers}
                if "chunked" in lower.get("transfer-encoding", "").lower():
                    raise ValueError("the fault proxy reads Content-Length bodies only")
                body = await reader.readexactly(int(lower.get("content-length", "0")))
                path, _, query = target.partition("?")
                seen = Seen(method.upper(), path, query, lower.get("idempotency-key"), lower.get("authorization"), body)
                self.requests.append(seen)
                rule = next((r for r in self.rules if r.matches(method, path)), None)
                if rule is not None:
                    rule.hits += 1
                    seen.outcome = rule.action
                if rule is not None and rule.action == "status":
                    self._write(writer, rule.status, [("Content-Type", "application/json"), *rule.headers.items()],
                                rule.body)
                    await writer.drain()
                    continue
                if rule is not None and rule.action == "hang":
                    await self._hold()
                    return  # never forwarded; the connection closes without an answer
                status, response_headers, content = await self._forward(method, target, headers, body)
                seen.status, seen.response = status, content
                if rule is not None and rule.action == "drop_answer":
                    writer.transport.abort()  # localstripe acted; the client gets no answer at all
                    return
                if rule is not None and rule.action == "hang_answer":
                    await self._hold()
                self._write(writer, status, response_headers, content)
                await writer.drain()
        except (ConnectionError, asyncio.LimitOverrunError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client went away, or the proxy is closing
        finally:
            self._connections.discard(writer)
            writer.close()

    async def _forward(self, method: str, target: str, headers: list[tuple[str, str]],
                       body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        assert self._client is not None
        forwarded = [(k, v) for k, v in headers if k.lower() not in _SKIP_REQUEST]
        response = await self._client.request(method, target, headers=forwarded, content=body)
        kept = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _SKIP_RESPONSE]
        return response.status_code, kept, response.content

    @staticmethod
    def _write(writer: asyncio.StreamWriter, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        lines = "".join(f"{k}: {v}\r\n" for k, v in headers)
        writer.write(f"HTTP/1.1 {status} X\r\n{lines}content-length: {len(body)}\r\n\r\n".encode("latin-1") + body)
