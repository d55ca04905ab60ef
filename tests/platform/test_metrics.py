"""`/metrics`: requests counted by route template and status, pools sampled, job runs counted.

The counters are the process's own, shared by every test this xdist worker runs one after the
other, so each test compares the figures before and after what it does. (The figures of a whole
deployment, against exactly what a run did, are checked in tests/e2e/test_cluster.py.)
"""

from __future__ import annotations

import pytest
from kassa_platform.jobs import InProcessRunner, JobContext, JobRegistry
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Backend, Tenant


async def scrape(backend: Backend) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await backend.client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def value(page: dict, name: str, **labels: str) -> float:
    return page.get((name, frozenset(labels.items())), 0.0)


async def test_requests_are_counted_by_route_template_and_status(pg_tenant: Tenant) -> None:
    backend = pg_tenant.backend
    before = await scrape(backend)
    cart = await pg_tenant.cart()
    await pg_tenant.cart()
    assert (await pg_tenant.get(f"/api/v1/carts/{cart['id']}", key="sk_test_not_a_key")).status_code == 401
    assert (await pg_tenant.get(f"/api/v1/carts/{cart['id']}/no-such-thing")).status_code == 404
    after = await scrape(backend)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    cart_route = {"service": "cart", "method": "POST", "route": "/api/v1/carts"}
    assert grew("kassa_http_requests_total", **cart_route, status="201") == 2
    assert grew("kassa_http_request_duration_seconds_count", **cart_route) == 2
    assert grew("kassa_http_request_duration_seconds_sum", **cart_route) > 0
    # A 401 raised by the auth middleware (before the handler) counts under its route too.
    assert grew("kassa_http_requests_total", service="cart", method="GET", route="/api/v1/carts/{cart_id}",
                status="401") == 1
    assert grew("kassa_http_requests_total", service="cart", method="GET", route="unmatched", status="404") == 1
    page = (await backend.client.get("/metrics")).text
    assert cart["id"] not in page  # routes are templates, never raw paths
    # Both pools of a PostgreSQL process are sampled at the scrape.
    assert value(after, "kassa_db_pool_connections", pool="main", state="size") == backend.runtime.settings.db_pool_size
    assert value(after, "kassa_db_pool_connections", pool="direct", state="size") == backend.runtime.settings.db_pool_size
    assert value(after, "kassa_db_pool_connections", pool="direct", state="idle") >= 1  # the cart writes used it


async def test_job_runs_are_counted_by_result(pg_backend: Backend) -> None:
    registry = JobRegistry()

    @registry.cron(name="metrics_test_ok")
    async def fine(ctx: JobContext) -> int:
        return 1

    @registry.cron(name="metrics_test_failing")
    async def failing(ctx: JobContext) -> int:
        raise RuntimeError("boom")

    runner = InProcessRunner(registry, lambda r: pg_backend.runtime.job_context(r))
    before = await scrape(pg_backend)
    await runner.run_cron("metrics_test_ok")
    await runner.run_cron("metrics_test_ok")
    with pytest.raises(RuntimeError):
        await runner.run_cron("metrics_test_failing")
    after = await scrape(pg_backend)
    runs = "kassa_job_runs_total"
    assert value(after, runs, job="metrics_test_ok", result="ok") - value(before, runs, job="metrics_test_ok",
                                                                          result="ok") == 2
    assert value(after, runs, job="metrics_test_failing", result="failed") - value(
        before, runs, job="metrics_test_failing", result="failed") == 1
    assert value(after, "kassa_job_duration_seconds_count", job="metrics_test_ok") - value(
        before, "kassa_job_duration_seconds_count", job="metrics_test_ok") == 2
    assert value(after, "kassa_job_last_success_timestamp_seconds", job="metrics_test_ok") > 0
    assert value(after, "kassa_job_last_success_timestamp_seconds", job="metrics_test_failing") == 0
