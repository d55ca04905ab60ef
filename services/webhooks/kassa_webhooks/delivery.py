"""Delivery: claim due deliveries, POST them signed, record every attempt, schedule retries.

A delivery is due when it is `pending` and its `next_attempt_at` has come, or `sending` and its
lease (`next_attempt_at` again) is over. Claiming sets `sending`, a lease and the claiming
process's number (`lease_owner`, kassa_platform.liveness) in one short transaction; the requests go
out with no transaction open; their results are recorded in batches. PostgreSQL therefore always
knows what is left to do. A worker killed mid-delivery costs a repeat of its requests (receivers
dedupe on `webhook-id`), and no wait: its liveness lock goes with it, and its leases end as soon as
that is seen (`reclaim_dead`: every process looks once a second; each claim also looks at the
endpoints it takes from), so a dead worker's rows never count against an endpoint's cap. A live
worker's lease runs for `lease` and is renewed while its request is still open, so a slow endpoint
is never mistaken for a dead worker.

Claims are fair across applications (the rule and its reasons: fairness.py): due endpoints are
listed round robin across applications, at most `max_concurrency` deliveries per endpoint are in
flight across all workers (claims of one endpoint take a transaction-scoped advisory lock on
PostgreSQL; SQLite serializes writes), one application holds at most `max_in_flight_per_app` of a
worker's requests, and an endpoint failing for a while gets one request at a time. Endpoints with
`ordered_delivery` get one delivery per aggregate at a time, in sequence order.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import random
import time
from collections import Counter, OrderedDict, defaultdict
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa
from kassa_platform.clock import Clock
from kassa_platform.db import Database, transaction
from kassa_platform.ids import new_id
from kassa_platform.liveness import Liveness
from kassa_platform.sealing import SealBroken
from kassa_platform.ssrf import http_transport, was_blocked
from sqlalchemy.ext.asyncio import AsyncConnection

from . import delivery_rows
from .config import WebhookConfig
from .endpoint_secrets import active_secrets_query
from .endpoints import disable_endpoint
from .fairness import DueEndpoint, allot
from .metrics import count_attempts
from .rendering import render_payload
from .signing import Signer
from .tables import webhook_endpoints

log = logging.getLogger("kassa.webhooks.delivery")


class _Unsigned(Exception):
    """No readable secret to sign with."""


e = webhook_endpoints


MAX_POOLS = 1000  # endpoints with idle connections kept open in this process
MAX_RECORDING = 4  # result batches being written at once; the loop waits beyond that
# After a result arrives, results that follow within this window are recorded with it: one
# transaction for many attempts, at the cost of a few milliseconds.
RECORD_WINDOW_SECONDS = 0.01


@dataclass
class Claimed:
    id: str
    app_id: str
    endpoint_id: str
    event_id: str
    url: str
    payload: bytes
    secrets: list[str]
    attempt: int  # the number of this attempt over the delivery's life
    schedule_step: int
    max_concurrency: int
    lease_owner: int | None = None  # the number of the process whose lease it is under


@dataclass
class AttemptResult:
    delivery: Claimed
    started_at: datetime
    finished_at: datetime
    status_code: int | None
    latency_ms: int
    excerpt: str | None
    error: str | None
    retry_after: timedelta | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """`Retry-After` as seconds or as an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when - now, timedelta())


class Deliverer:
    """Sends claimed deliveries and records what happened. One per process; jobs share it."""

    def __init__(self, db: Database, clock: Clock, config: WebhookConfig, *, wall_clock: Clock | None = None,
                 on_retry_scheduled: Any = None, liveness: Liveness | None = None) -> None:
        self.db = db
        self.clock = clock
        self.config = config
        self.liveness = liveness  # whose number this process's leases carry (None: plain leases)
        # Signature timestamps are checked by receivers against their own clock: real time always.
        self.wall_clock = wall_clock or Clock()
        self.signer = Signer(config.user_agent)
        self.on_retry_scheduled = on_retry_scheduled  # async (datetime) -> None: a hint to come back then
        self._idle: OrderedDict[tuple[str, bool], list[httpx.AsyncHTTPTransport]] = OrderedDict()
        timeout = config.request_timeout
        self._timeouts = {"timeout": {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}}
        self._recording: set[asyncio.Task[None]] = set()
        self._urls: dict[str, httpx.URL] = {}
        self._random = random.Random()
        # The running loop's queue of results (None: new work was announced); None when no loop runs.
        self._results: asyncio.Queue[AttemptResult | None] | None = None
        # Requests open in this process: of the running loop, or carried over from one whose budget
        # ran out (they outlive it, see `run`). Per application for the fair share (fairness.py).
        self._requests: set[asyncio.Task[None]] = set()
        self._held: Counter[str] = Counter()
        # Whether the last claim left due deliveries behind (a cap, a fair share or its limit stopped it):
        # only then can a freed slot or a written result make the next claim find more.
        self._held_back = True
        # Deliveries with a request open here: when their lease was taken or last renewed, and under
        # which number (_keep_leases renews the old ones).
        self._leases: dict[str, tuple[datetime, int | None]] = {}
        self._keeper: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """New work may be due: a running loop claims again without waiting for a result."""
        if self._results is not None:
            self._results.put_nowait(None)

    async def settle(self) -> None:
        """Wait until every open request is answered and its result written (tests, shutdown)."""
        while self._requests:
            await asyncio.gather(*list(self._requests), return_exceptions=True)

    @contextlib.asynccontextmanager
    async def connection(self, item: Claimed) -> AsyncIterator[httpx.AsyncHTTPTransport]:
        """An httpx transport holding one keep-alive connection to the endpoint, lent for one request.

        Each endpoint keeps a free list of single-connection transports (at most its concurrency cap
        are ever lent at once, the claim sees to that). httpcore's own pool re-examines every
        connection it holds on every request, which at tens of connections costs more than the
        request itself; a pool of one has nothing to scan. The transport is called directly: the
        client layer above it (auth, cookies, redirects) has nothing to do for a webhook.
        """
        guarded = not self.config.allows_private(item.app_id)
        key = (item.endpoint_id, guarded)
        free = self._idle.pop(key, None) or []
        transport = free.pop() if free else http_transport(guarded=guarded, max_connections=1)
        if free:
            self._idle[key] = free
        try:
            yield transport
        except BaseException:
            await transport.aclose()  # the connection's state is unknown: never reuse it
            raise
        else:
            spare = self._idle.setdefault(key, [])
            self._idle.move_to_end(key)  # most recently used last
            if len(spare) < item.max_concurrency:
                spare.append(transport)
            else:
                await transport.aclose()
            while len(self._idle) > MAX_POOLS:  # the least recently used endpoint lets its connections go
                _, idle = self._idle.popitem(last=False)
                for t in idle:
                    await t.aclose()

    async def close(self) -> None:
        for task in list(self._requests):  # shutdown: others take these deliveries once this process is gone
            task.cancel()
        await asyncio.gather(*list(self._requests), return_exceptions=True)
        if self._keeper is not None:
            self._keeper.cancel()
            await asyncio.gather(self._keeper, return_exceptions=True)
        for transports in self._idle.values():
            for transport in transports:
                await transport.aclose()
        self._idle.clear()

    # ---------------------------------------------------------------- the loop

    async def run(self, *, budget_seconds: float = 30.0) -> tuple[int, bool]:
        """Deliver what is due until nothing is (or the time budget is spent).

        Returns (attempts recorded, whether the budget ran out). New claims are made as slots free
        up, so one slow endpoint never holds back the others; results are written in batches while
        the next requests are out. When the budget runs out the loop stops claiming and returns at
        once: requests still open carry over to the next run, which the job queues at once (each
        writes its own result if none is running). Waiting for them instead would leave the
        process taking no new work for up to a delivery timeout, and others' deliveries would
        wait behind one tenant's endpoints that never answer.
        """
        deadline = time.monotonic() + budget_seconds
        results: asyncio.Queue[AttemptResult | None] = asyncio.Queue()
        attempts = 0
        exhausted = False  # the last claim found nothing more to take, and nothing held back
        woken = False  # new work was announced: worth a claim even for a few free slots
        self._results = results
        try:
            while True:
                room = self.config.max_in_flight - len(self._requests)
                # Claim in batches: a claim is a transaction, so not one per freed slot.
                worth_claiming = (room >= min(self.config.claim_batch // 4, self.config.max_in_flight)
                                  or not self._requests or (woken and room > 0))
                if worth_claiming and time.monotonic() < deadline and not exhausted:
                    woken = False
                    claimed = await self.claim(min(room, self.config.claim_batch), self._held)
                    exhausted = len(claimed) < min(room, self.config.claim_batch) and not self._held_back
                    for item in claimed:
                        self._held[item.app_id] += 1
                        task = asyncio.create_task(self._send(item))
                        self._requests.add(task)
                        task.add_done_callback(self._requests.discard)
                if not self._requests and results.empty():
                    if self._recording:  # their rows still hold slots: once written, claim again if that frees any
                        await self._drain_recording()
                        if not exhausted:
                            continue
                    return attempts, time.monotonic() >= deadline
                try:
                    async with asyncio.timeout(max(deadline - time.monotonic(), 0.0)):
                        batch = [await results.get()]
                except TimeoutError:
                    break  # the budget is spent: what is still open carries over
                if self._requests:  # let the results that follow closely join this batch
                    await asyncio.sleep(RECORD_WINDOW_SECONDS)
                while not results.empty():
                    batch.append(results.get_nowait())
                finished = [r for r in batch if r is not None]
                woken = woken or len(finished) < len(batch)
                if finished:
                    attempts += len(finished)
                    # Written while the next requests go out; a slot counts as taken (its row is still
                    # `sending`) until its result is written, so the cap holds meanwhile.
                    await self._record_soon(finished)
                # A result frees a slot, which matters only if the last claim held work back; new work
                # announced (a wake) is worth a claim in any case. Otherwise a claim would find nothing:
                # at low load that empty claim (a transaction) cost as much as the useful one.
                exhausted = exhausted and not woken
        except BaseException:
            self._results = None
            for task in list(self._requests):  # shutdown, job timeout: the lease brings them back
                task.cancel()
            raise
        finally:
            self._results = None
            # Results that came in after the last batch (from here on, each request writes its own).
            late = [results.get_nowait() for _ in range(results.qsize())]
            if any(r is not None for r in late):
                await self._record_soon([r for r in late if r is not None])
            await self._drain_recording()
        return attempts, True

    async def _send(self, item: Claimed) -> None:
        """One request, its result handed to the running loop, or written here when none runs."""
        self._leases[item.id] = (self.clock.now(), item.lease_owner)
        if self._keeper is None or self._keeper.done():
            self._keeper = asyncio.create_task(self._keep_leases())
        try:
            result = await self.attempt(item)
        finally:
            self._leases.pop(item.id, None)
            self._held[item.app_id] -= 1
            if self._held[item.app_id] <= 0:
                del self._held[item.app_id]
        if self._results is not None:
            self._results.put_nowait(result)
            return
        try:
            await self.record([result])
        except Exception:  # noqa: BLE001 - the lease brings the delivery back
            log.exception("could not record the attempt of delivery %s", item.id)

    async def _keep_leases(self) -> None:
        """While requests are open here, renew the leases a third of the way through: a request may
        outlast the lease (a short lease, a slow endpoint), and a live worker's claim must stand."""
        step = self.config.lease.total_seconds() / 3
        while self._leases:
            await asyncio.sleep(step)
            now = self.clock.now()
            due = [(i, owner) for i, (taken, owner) in list(self._leases.items())
                   if (now - taken).total_seconds() >= step]
            for owner in {owner for _, owner in due if owner is not None}:
                ids = [i for i, o in due if o == owner]
                try:
                    await delivery_rows.renew(self.db, ids, owner=owner, lease=now + self.config.lease)
                except Exception as exc:  # noqa: BLE001 - the next round tries again; the lease is a backstop
                    log.warning("could not renew delivery leases (%s: %s)", type(exc).__name__, exc)
                    continue
                for i in ids:
                    if i in self._leases:
                        self._leases[i] = (now, owner)

    async def _drain_recording(self) -> None:
        pending, self._recording = self._recording, set()
        for result in await asyncio.gather(*pending, return_exceptions=True):
            if isinstance(result, BaseException):
                raise result

    async def _record_soon(self, results: list[AttemptResult]) -> None:
        while len(self._recording) >= MAX_RECORDING:
            await asyncio.wait(self._recording, return_when=asyncio.FIRST_COMPLETED)
        for task in [t for t in self._recording if t.done()]:
            self._recording.discard(task)
            task.result()  # a failed write fails the run: the lease brings those deliveries back
        task = asyncio.create_task(self.record(results))
        self._recording.add(task)

    # ---------------------------------------------------------------- claim

    async def claim(self, limit: int, held: Mapping[str, int] | None = None) -> list[Claimed]:
        """Take up to `limit` due deliveries, as fairness.py shares them out; `held`: requests this
        worker has in flight per application."""
        now = self.clock.now()
        self._held_back = True  # unless found otherwise below
        async with transaction(self.db) as conn:
            endpoints = await delivery_rows.due_endpoints(conn, now=now, limit=limit, recently=now - timedelta(days=1))
            if not endpoints:
                self._held_back = False
                return []
            gone = [ep.id for ep in endpoints if ep.disabled or ep.deleted_at is not None]
            if gone:
                await delivery_rows.fail_orphans(conn, gone, now)
            active = [ep for ep in endpoints if not (ep.disabled or ep.deleted_at is not None)]
            if not active:
                return []
            # Claims of one endpoint take turns; a dead worker's requests are off the cap and due again, now.
            await delivery_rows.take_endpoints(conn, [ep.id for ep in active], now)
            in_flight = await delivery_rows.in_flight(conn, [ep.id for ep in active], now)
            allotted = allot([DueEndpoint(ep.id, ep.app_id, ep.max_concurrency, ep.failing_since) for ep in active],
                             in_flight=in_flight, held=held or {}, limit=limit, config=self.config, now=now)
            rows: list[sa.Row[Any]] = []
            caps = {ep.id: ep.max_concurrency for ep in active}
            held_back = len(endpoints) >= limit
            for ep in active:
                if ep.id in allotted:
                    taken = await delivery_rows.claim_due(conn, ep.id, ordered=ep.ordered_delivery, now=now,
                                                          limit=allotted[ep.id])
                    rows.extend(taken)
                    # All it was allotted: more may be due. (Ordered endpoints may hold rows back too.)
                    held_back = held_back or len(taken) >= allotted[ep.id] or ep.ordered_delivery
                else:
                    held_back = True  # due, but no room for it now
            self._held_back = held_back
            if not rows:
                return []
            owner = self.liveness.id if self.liveness is not None else None
            await delivery_rows.mark_sending(conn, [r.id for r in rows], lease=now + self.config.lease, now=now,
                                             owner=owner)
            payloads = await delivery_rows.payloads(conn, list({r.event_id for r in rows}))
            endpoint_ids = list({r.endpoint_id for r in rows})
            targets = await delivery_rows.targets(conn, endpoint_ids)
            secrets: dict[str, list[str]] = defaultdict(list)
            for endpoint_id, sealed in (await conn.execute(active_secrets_query(endpoint_ids, now))).all():
                try:
                    secrets[endpoint_id].append(self.config.sealer.open(sealed))
                except SealBroken:  # sealed under another signing key: the attempt says so (below)
                    log.warning("endpoint %s has a signing secret this deployment cannot open", endpoint_id)
        return [Claimed(id=r.id, app_id=r.app_id, endpoint_id=r.endpoint_id, event_id=r.event_id,
                        url=targets[r.endpoint_id].url,
                        payload=render_payload(payloads[r.event_id], targets[r.endpoint_id].api_version),
                        secrets=secrets[r.endpoint_id],
                        attempt=r.attempt_count + 1, schedule_step=r.schedule_step,
                        max_concurrency=caps[r.endpoint_id], lease_owner=owner) for r in rows]

    # ---------------------------------------------------------------- one attempt

    async def attempt(self, item: Claimed) -> AttemptResult:
        started_at = self.clock.now()
        started = time.perf_counter()
        status_code: int | None = None
        excerpt: str | None = None
        error: str | None = None
        retry_after: timedelta | None = None
        try:
            if not item.secrets:
                # Never send unsigned: the merchant rotates the secret (the signing key changed).
                raise _Unsigned
            headers = self.signer.headers(item.event_id, item.payload, item.secrets, self.wall_clock.now())
            # The body is sent as the stored bytes (`content=`): exactly what was signed.
            request = httpx.Request("POST", self._url(item.url), content=item.payload, headers=headers,
                                    extensions=self._timeouts)
            async with asyncio.timeout(self.config.request_timeout), self.connection(item) as transport:
                response = await transport.handle_async_request(request)
                try:
                    status_code = response.status_code
                    excerpt = await self._excerpt(response)
                    if status_code in (429, 503):
                        retry_after = parse_retry_after(response.headers.get("retry-after"), self.wall_clock.now())
                finally:
                    await response.aclose()
        except _Unsigned:
            error = "no_signing_secret: no secret of this endpoint can be read; rotate the endpoint's secret"
        except TimeoutError:
            error = f"timeout: no complete response within {self.config.request_timeout:g} s"
        except httpx.InvalidURL as exc:  # saved before today's URL rules (endpoints.check_url) refuse it
            error = f"webhook_url_invalid: {exc}"[:500]
        except httpx.HTTPError as exc:
            kind = "destination_blocked" if was_blocked(exc) else type(exc).__name__
            error = f"{kind}: {exc}"[:500]
        except Exception as exc:  # noqa: BLE001 - any failure is recorded and retried, never lost
            log.exception("delivery %s failed unexpectedly", item.id)
            error = f"internal: {type(exc).__name__}"
        if status_code is not None and not 200 <= status_code < 300 and error is None:
            error = f"HTTP {status_code}"
        return AttemptResult(delivery=item, started_at=started_at, finished_at=self.clock.now(),
                             status_code=status_code, latency_ms=int((time.perf_counter() - started) * 1000),
                             excerpt=excerpt, error=error, retry_after=retry_after)

    def _url(self, url: str) -> httpx.URL:
        """Parsed once per endpoint URL: parsing costs a tenth of a small request."""
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) > 10_000:
                self._urls.clear()
            parsed = self._urls[url] = httpx.URL(url)
        return parsed

    async def _excerpt(self, response: httpx.Response) -> str | None:
        """The first bytes of the response, for the attempt log; the rest is not even read."""
        cap = self.config.response_excerpt_bytes
        buffer = bytearray()
        async for chunk in response.aiter_raw():
            buffer += chunk
            if len(buffer) >= cap:
                break
        return bytes(buffer[:cap]).decode("utf-8", "replace") if buffer else None

    # ---------------------------------------------------------------- record

    def _next_attempt(self, result: AttemptResult) -> tuple[str, datetime | None, int]:
        """(status, next_attempt_at, schedule_step) after this attempt."""
        step = result.delivery.schedule_step
        if result.succeeded:
            return "succeeded", None, step + 1
        if result.status_code == 410 or step >= len(self.config.retry_schedule):
            return "failed", None, step + 1
        delay = self.config.retry_schedule[step]
        if result.retry_after is not None:
            delay = min(result.retry_after, self.config.retry_after_cap)
        else:
            delay *= 1 + self._random.uniform(-self.config.jitter, self.config.jitter)
        return "pending", result.finished_at + delay, step + 1

    async def record(self, results: list[AttemptResult]) -> None:
        if not results:
            return
        now = self.clock.now()
        updates: list[dict[str, Any]] = []
        attempts: list[dict[str, Any]] = []
        retries: set[datetime] = set()
        by_endpoint: dict[str, list[AttemptResult]] = defaultdict(list)
        for r in results:
            status, next_at, step = self._next_attempt(r)
            if next_at is not None:
                retries.add(next_at)
            c = r.delivery
            updates.append({"b_id": c.id, "b_status": status, "b_next": next_at, "b_attempts": c.attempt,
                            "b_step": step, "b_code": r.status_code, "b_error": r.error, "b_now": now,
                            "b_succeeded_at": r.finished_at if r.succeeded else None})
            attempts.append({"id": new_id("wha"), "app_id": c.app_id, "delivery_id": c.id, "endpoint_id": c.endpoint_id,
                             "attempt": c.attempt, "started_at": r.started_at, "succeeded": r.succeeded,
                             "status_code": r.status_code, "latency_ms": r.latency_ms, "response_excerpt": r.excerpt,
                             "error": r.error})
            by_endpoint[c.endpoint_id].append(r)
        async with transaction(self.db) as conn:
            # Endpoints first, then deliveries: the order every writer of both follows (no deadlocks).
            for endpoint_id in sorted(by_endpoint):
                await self._update_health(conn, endpoint_id, by_endpoint[endpoint_id], now)
            await delivery_rows.record(conn, updates, attempts)
        count_attempts([r.latency_ms for r in results], [u["b_status"] for u in updates])
        if self.on_retry_scheduled is not None:
            for when in sorted(retries):
                await self.on_retry_scheduled(when)

    async def _update_health(self, conn: AsyncConnection, endpoint_id: str, results: list[AttemptResult],
                             now: datetime) -> None:
        """Track the failing streak; a 410 or five days of failures with no success disable the endpoint.

        A healthy endpoint costs no write here: only failures and the first success after them do.
        """
        results = sorted(results, key=lambda r: r.finished_at)
        last = results[-1]
        failures = [r for r in results if not r.succeeded]
        if not failures:
            await conn.execute(sa.update(e).where(e.c.id == endpoint_id, e.c.failing_since.is_not(None))
                               .values(failing_since=None))
            return
        worst = failures[-1]
        values: dict[str, Any] = {"last_failure_at": worst.finished_at, "last_failure_reason": worst.error}
        if last.succeeded:
            values["failing_since"] = None
        else:
            successes = [r for r in results if r.succeeded]
            if successes:  # the streak began after the last success of this batch
                values["failing_since"] = next(r.finished_at for r in results
                                               if not r.succeeded and r.finished_at >= successes[-1].finished_at)
            else:
                values["failing_since"] = sa.func.coalesce(e.c.failing_since, failures[0].finished_at)
        query = sa.update(e).where(e.c.id == endpoint_id).values(**values)
        await conn.execute(query)
        row = (await conn.execute(sa.select(e).where(e.c.id == endpoint_id))).first()
        if row is None or row.disabled:
            return
        if any(r.status_code == 410 for r in results):
            await disable_endpoint(conn, row, "the endpoint answered 410 Gone", now, notify=True)
        elif row.failing_since is not None and not last.succeeded and \
                row.failing_since <= now - self.config.disable_after:
            await disable_endpoint(conn, row, f"failing with no success since {row.failing_since.isoformat()}",
                                   now, notify=True)


async def disable_long_failing(db: Database, clock: Clock, config: WebhookConfig) -> int:
    """The sweep behind the recorder: an endpoint that stopped getting events still gets disabled."""
    now = clock.now()
    disabled = 0
    async with transaction(db) as conn:
        rows = (await conn.execute(sa.select(e).where(e.c.disabled.is_(False), e.c.deleted_at.is_(None),
                                                      e.c.failing_since <= now - config.disable_after))).all()
        for row in rows:
            await disable_endpoint(conn, row, f"failing with no success since {row.failing_since.isoformat()}", now,
                                   notify=True)
            disabled += 1
    return disabled


async def reclaim_dead(db: Database, clock: Clock) -> int:
    """Deliveries in flight in a dead process: due now (kassa_platform.liveness runs this when a
    process disappears). Returns how many; the caller hints the delivery job when there are any."""
    return await delivery_rows.reclaim_dead(db, clock.now())
