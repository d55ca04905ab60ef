"""Prometheus metrics: what every service process counts, and the `/metrics` page that shows it.

Three kinds of figures:

* counted as things happen, in the process that does them: HTTP requests (by service, method,
  route template and status, with a duration histogram), job runs (by job and result, with a
  duration histogram and the time of the last success), and what services add themselves
  (webhook deliveries by result, carts abandoned);
* sampled from the process: its database pools (connections in use, idle, waiting, size);
* read from the database when `/metrics` is scraped (`Runtime.metric_sources`): figures that
  belong to the deployment, not to a process, such as the outbox backlog.

Several processes behind one port (`kassa serve SERVICE --workers N`) share their figures through
prometheus-client's multiprocess mode: the supervisor points PROMETHEUS_MULTIPROC_DIR at a
directory before the workers start, each writes its values to memory-mapped files there, and
whichever worker answers a scrape adds them all up. Separate replicas (containers, ports) are
scraped one by one, as Prometheus expects; nothing is shared between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from litestar.enums import ScopeType
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.types import ASGIApp, Message, Receive, Scope, Send
    from sqlalchemy.ext.asyncio import AsyncEngine

    from .db import Database

CONTENT_TYPE = "text/plain; version=0.0.4"  # the exposition format (Litestar adds the charset)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# `*_created` series double the page and tell nothing a scraper needs (counters restart at 0 anyway).
disable_created_metrics()

# Durations of requests and jobs: a cart change takes about a millisecond, a sweep up to 45 s.
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0)

HTTP_REQUESTS = Counter("kassa_http_requests", "HTTP requests answered, by service, method, route template and "
                        "status", ["service", "method", "route", "status"])
HTTP_DURATION = Histogram("kassa_http_request_duration_seconds", "Time to answer an HTTP request, by service, "
                          "method and route template", ["service", "method", "route"], buckets=HTTP_BUCKETS)
JOB_RUNS = Counter("kassa_job_runs", "Background job runs by job and result: ok, failed (raised or timed out), "
                   "cancelled (stopped by the arq timeout or a worker shutdown)", ["job", "result"])
JOB_DURATION = Histogram("kassa_job_duration_seconds", "Time a background job run took", ["job"],
                         buckets=JOB_BUCKETS)
JOB_LAST_SUCCESS = Gauge("kassa_job_last_success_timestamp_seconds", "Unix time of the job's last successful run",
                         ["job"], multiprocess_mode="max")
# Summed over the live processes of a multiprocess group: the connections this group holds.
DB_POOL = Gauge("kassa_db_pool_connections", "Database connections of this process by pool (main: SQLAlchemy; "
                "direct: the cart hot path's asyncpg pool) and state (in_use, idle, waiting: tasks queued "
                "for one, size: the most it opens)", ["pool", "state"], multiprocess_mode="livesum")

# The deployment's processes as this one sees them through their liveness locks (kassa_platform.liveness).
PROCESSES_ALIVE = Gauge("kassa_processes_alive", "Kassa processes of this deployment holding their liveness lock, "
                        "as this process last looked", multiprocess_mode="max")
PROCESSES_GONE = Counter("kassa_processes_gone", "Processes this one saw lose their liveness lock (died, or "
                         "stopped): every process counts each one; what they held was handed on")

# Route label of a request no route matched (a scanner's paths must not become labels).
UNMATCHED = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
POOL_SAMPLE_SECONDS = 5.0

MetricSource = Callable[["Runtime"], Awaitable[Iterable[Metric]]]


class Runtime(Protocol):
    """What the metrics read of a process's runtime (`kassa_platform.runtime.Runtime` is one): a
    protocol, so that the runtime, which starts the jobs that record metrics, is not imported here."""

    engine: AsyncEngine
    db: Database
    metric_sources: list[MetricSource]


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


class RequestMetrics:
    """Counts and times every request of one service app.

    It wraps the app's whole ASGI handler (outside Litestar's routing and its exception handling),
    so it also sees the errors middleware raises (401, 429) and requests no route matched. The
    route is Litestar's path template (`/api/v1/carts/{cart_id}`), never the raw path. Label
    children are looked up once per (method, route, status): a request costs two dictionary
    lookups, a counter increment and a histogram observation.
    """

    __slots__ = ("app", "service", "_counts", "_times")

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service
        self._counts: dict[tuple[str, str, int], Any] = {}
        self._times: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers when the app raises past every handler

        async def send_seen(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_seen)
        finally:
            method = scope["method"] if scope["method"] in _METHODS else "other"
            route = scope.get("path_template") or UNMATCHED
            count = self._counts.get((method, route, status))
            if count is None:
                count = self._counts[(method, route, status)] = HTTP_REQUESTS.labels(
                    self.service, method, route, str(status))
            timer = self._times.get((method, route))
            if timer is None:
                timer = self._times[(method, route)] = HTTP_DURATION.labels(self.service, method, route)
            count.inc()
            timer.observe(time.perf_counter() - started)


def instrument(app: Litestar, service: str, runtime: Runtime) -> None:
    """Count the app's requests; with several processes on one port, sample the pools in each."""
    app.asgi_handler = RequestMetrics(app.asgi_handler, service)
    if multiprocess_dir() is None:
        return  # the process answering the scrape samples its own pools then
    sampler: asyncio.Task[None] | None = None

    async def start() -> None:
        nonlocal sampler
        sampler = asyncio.create_task(_sample_pools_forever(runtime), name="kassa-metrics-pools")

    async def stop() -> None:
        if sampler is not None:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler

    app.on_startup.append(start)
    app.on_shutdown.append(stop)


async def _sample_pools_forever(runtime: Runtime) -> None:
    while True:
        sample_pools(runtime)
        await asyncio.sleep(POOL_SAMPLE_SECONDS)


def sample_pools(runtime: Runtime) -> None:
    pool: Any = runtime.engine.sync_engine.pool
    if hasattr(pool, "checkedout"):  # a QueuePool (PostgreSQL and SQLite alike)
        DB_POOL.labels("main", "in_use").set(pool.checkedout())
        DB_POOL.labels("main", "idle").set(pool.checkedin())
        DB_POOL.labels("main", "size").set(pool.size())
    direct = runtime.db.direct
    if direct is not None:
        stats = direct.stats()
        for state in ("in_use", "idle", "waiting", "size"):
            DB_POOL.labels("direct", state).set(stats[state])


@contextlib.asynccontextmanager
async def job_run(name: str) -> AsyncIterator[None]:
    """Count and time one run of a job (both job runners wrap each run in it)."""
    started = time.perf_counter()
    try:
        yield
    except asyncio.CancelledError:
        JOB_RUNS.labels(name, "cancelled").inc()
        raise
    except BaseException:
        JOB_RUNS.labels(name, "failed").inc()
        raise
    else:
        JOB_RUNS.labels(name, "ok").inc()
        JOB_LAST_SUCCESS.labels(name).set(time.time())
    finally:
        JOB_DURATION.labels(name).observe(time.perf_counter() - started)


def _process_registry() -> CollectorRegistry:
    directory = multiprocess_dir()
    if directory is None:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    return registry


class _Figures:
    """A collector over metric families already read (prometheus-client's collectors are not async)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


async def render(runtime: Runtime) -> bytes:
    """The `/metrics` page: this process's (or this process group's) figures, then the figures
    its services read from the database now."""
    sample_pools(runtime)
    page = generate_latest(_process_registry())
    families: list[Metric] = []
    for source in runtime.metric_sources:
        families.extend(await source(runtime))
    if families:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Figures(families))
        page += generate_latest(registry)
    return page
