"""Rate limits through the HTTP app: per key and route class, per application for completes, per
client address for failed authentication; in the process (SQLite, PostgreSQL) and in Redis. The
buckets read the runtime's clock, which the tests move: no test waits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from kassa_platform.ratelimit import Buckets, Policy

from tests.conftest import Backend, Tenant, TestClock, _backend, make_tenant
from tests.support import cards
from tests.support.envelopes import assert_envelope

# Small quotas over long windows: a token comes back every 12 s (reads) of the test clock.
LIMITS = {"reads": "5/60", "writes": "3/60", "completes": "2/60", "auth_failures": "3/60"}


class FrozenClock(TestClock):
    """Time that moves only when the test moves it: the bucket counts do not depend on how fast
    the machine runs the test."""

    def __init__(self) -> None:
        super().__init__()
        self.start = TestClock.now(self)

    def now(self):  # type: ignore[no-untyped-def]
        return self.start + self.offset


@pytest.fixture(scope="module", params=["sqlite", "pg", "redis"])
def limited_store(request: pytest.FixtureRequest) -> tuple[str, str, str | None]:
    """In-process buckets on SQLite and on PostgreSQL, Redis buckets on PostgreSQL."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    return request.param, url, request.getfixturevalue("redis_url") if request.param == "redis" else None


@pytest.fixture(scope="module")
async def limited(limited_store: tuple[str, str, str | None]) -> AsyncIterator[Backend]:
    """The cart and checkout services with small limits."""
    name, url, redis_url = limited_store
    async for backend in _backend(name, url, FrozenClock(), rate_limits=LIMITS, redis_url=redis_url):
        yield backend


def client_at(backend: Backend, address: str) -> httpx.AsyncClient:
    """A client calling the same app from another address."""
    app = backend.client._transport.app  # type: ignore[attr-defined]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 50000)),
                             base_url="http://kassa.test")


def test_a_bucket_refills_at_its_rate_and_takes_all_or_nothing() -> None:
    now = [1000.0]
    buckets = Buckets(lambda: now[0], idle_seconds=60)
    reads, completes = Policy("reads", 5, 60), Policy("completes", 1, 60)
    assert [buckets.take(["k"], [reads])[0] for _ in range(6)] == [True] * 5 + [False]
    allowed, left, wait = buckets.take(["k"], [reads])
    assert not allowed and left == [0.0] and wait == pytest.approx(12.0)
    now[0] += 12.0
    assert buckets.take(["k"], [reads])[0] and not buckets.take(["k"], [reads])[0]
    # Two buckets: a refusal by one takes nothing from the other.
    assert buckets.take(["a", "app"], [reads, completes])[0]
    assert not buckets.take(["b", "app"], [reads, completes])[0]
    assert buckets.take(["b"], [reads])[1] == [4.0]
    assert Policy.parse("reads", "X", "100") == Policy("reads", 100, 1)
    assert Policy.parse("reads", "X", "30/60") == Policy("reads", 30, 60)
    assert not Policy.parse("reads", "X", "0").enabled and not Policy.parse("reads", "X", "off").enabled
    with pytest.raises(ValueError, match="X='fast'"):
        Policy.parse("reads", "X", "fast")


async def test_reads_beyond_the_quota_are_429_with_retry_after_and_ratelimit_headers(limited: Backend) -> None:
    tenant = await make_tenant(limited)
    for left in (4, 3, 2, 1, 0):
        ok = await tenant.get("/api/v1/products")
        assert ok.status_code == 200
        assert ok.headers["ratelimit-policy"] == '"reads";q=5;w=60'
        assert ok.headers["ratelimit"] == f'"reads";r={left};t={(5 - left) * 12}'
    refused = await tenant.get("/api/v1/products")
    err = assert_envelope(refused, 429, "rate_limited")
    assert err["details"] == {"policy": "reads", "retryAfter": 12}
    assert refused.headers["retry-after"] == "12" and refused.headers["retry-after-ms"] == "12000"
    assert refused.headers["ratelimit"] == '"reads";r=0;t=60'
    # Writes have a bucket of their own, and another key of the application is not held back.
    assert (await tenant.post("/api/v1/carts", {"currency": "EUR"})).status_code == 201
    other = await tenant.scoped_key(["catalog:read"])
    assert (await tenant.get("/api/v1/products", key=other)).status_code == 200
    limited.clock.advance(seconds=12)
    assert (await tenant.get("/api/v1/products")).status_code == 200
    assert (await tenant.get("/api/v1/products")).status_code == 429


async def test_a_refused_request_releases_its_idempotency_key(limited: Backend) -> None:
    tenant = await make_tenant(limited)
    for _ in range(3):
        assert (await tenant.post("/api/v1/carts", {"currency": "EUR"})).status_code == 201
    body, headers = {"currency": "EUR"}, {"Idempotency-Key": "limited-1"}
    assert_envelope(await tenant.post("/api/v1/carts", body, headers=headers), 429, "rate_limited")
    limited.clock.advance(seconds=20)
    made = await tenant.post("/api/v1/carts", body, headers=headers)
    assert made.status_code == 201 and "idempotent-replayed" not in made.headers


async def test_completes_are_limited_per_application(limited: Backend) -> None:
    tenant = await make_tenant(limited)
    keys = [tenant.secret_key, await tenant.scoped_key(["checkout:write"])]
    complete = "/api/v1/checkout-sessions/cs_nosuchsession/complete"
    body = {"paymentMethod": cards.OK_CARD}
    for key in keys:  # two keys, one application: they share its completes
        answer = await tenant.post(complete, body, key=key)
        assert answer.status_code == 404, answer.text
        assert answer.headers["ratelimit-policy"] == '"writes";q=3;w=60, "completes";q=2;w=60'
    err = assert_envelope(await tenant.post(complete, body, key=keys[1]), 429, "rate_limited")
    assert err["details"]["policy"] == "completes" and "application" in err["message"]
    other = await make_tenant(limited)
    assert (await other.post(complete, body)).status_code == 404


async def test_publishable_keys_are_limited_per_client_address(limited: Backend) -> None:
    tenant = await make_tenant(limited)
    headers = tenant.headers(tenant.publishable_key)
    async with client_at(limited, "198.51.100.7") as shopper, client_at(limited, "198.51.100.8") as neighbour:
        for _ in range(5):
            assert (await shopper.get("/api/v1/products", headers=headers)).status_code == 200
        assert_envelope(await shopper.get("/api/v1/products", headers=headers), 429, "rate_limited")
        assert (await neighbour.get("/api/v1/products", headers=headers)).status_code == 200


async def test_failed_authentication_is_limited_per_address_before_any_lookup(limited: Backend) -> None:
    tenant = await make_tenant(limited)
    fresh = await tenant.scoped_key(["catalog:read"])  # valid, but not yet known to the process
    bad = {"Authorization": "Bearer sk_test_guessed"}
    async with client_at(limited, "203.0.113.9") as attacker, client_at(limited, "203.0.113.10") as bystander:
        assert (await attacker.get("/api/v1/products", headers=tenant.headers())).status_code == 200  # cached now
        for _ in range(3):
            assert_envelope(await attacker.get("/api/v1/products", headers=bad), 401, "unauthorized")
        with limited.counter:
            refused = await attacker.get("/api/v1/products", headers={"Authorization": "Bearer sk_test_other"})
            assert_envelope(refused, 429, "rate_limited")
            assert_envelope(await attacker.get("/api/v1/products", headers=tenant.headers(fresh)), 429,
                            "rate_limited")
        assert not [s for s in limited.counter.statements if "api_keys" in s]  # refused before any lookup
        assert refused.json()["error"]["details"]["policy"] == "auth-failures"
        assert refused.headers["retry-after"] == "20"
        # A key the process already holds as valid still works from there; other addresses are unaffected.
        assert (await attacker.get("/api/v1/products", headers=tenant.headers())).status_code == 200
        assert (await bystander.get("/api/v1/products", headers=tenant.headers(fresh))).status_code == 200
        assert_envelope(await bystander.get("/api/v1/products", headers=bad), 401, "unauthorized")
        limited.clock.advance(seconds=20)
        assert (await attacker.get("/api/v1/products", headers=tenant.headers(fresh))).status_code == 200


async def test_service_calls_are_not_limited(limited: Backend) -> None:
    tenant = await make_tenant(limited)
    service = {"Authorization": f"Service {limited.runtime.settings.service_token}",
               "X-Kassa-Application": tenant.app_id}
    for _ in range(8):
        answer = await limited.client.get("/api/v1/products", headers=service)
        assert answer.status_code == 200 and "ratelimit" not in answer.headers


async def test_concurrent_requests_on_redis_get_exactly_the_bucket(redis_url: str) -> None:
    """N requests at once against a bucket of B tokens, from processes that share Redis: exactly B pass."""
    from kassa_platform.auth import Principal
    from kassa_platform.ratelimit import Limits, RateLimiter

    from tests.conftest import REDIS_PREFIX

    now = 5000.0
    limits = Limits.from_values({"reads": "10/3600"})
    limiters = [RateLimiter(limits, lambda: now, redis_url, REDIS_PREFIX) for _ in range(4)]  # one per "process"
    principal = Principal(app_id=f"app_rl{id(limits)}", environment="test", key_id="key_concurrent", kind="secret")

    async def one(limiter: RateLimiter) -> bool:
        try:
            await limiter.take(principal, "reads", "127.0.0.1")
            return True
        except Exception as exc:  # noqa: BLE001 - a refusal is the other outcome counted
            assert getattr(exc, "code", None) == "rate_limited", exc
            return False

    outcomes = await asyncio.gather(*(one(limiters[i % 4]) for i in range(60)))
    assert sum(outcomes) == 10
    for limiter in limiters:
        await limiter.close()


async def test_a_redis_outage_falls_back_to_the_process_buckets() -> None:
    from kassa_platform.auth import Principal
    from kassa_platform.ratelimit import Limits, RateLimiter

    limiter = RateLimiter(Limits.from_values({"reads": "2/60"}), lambda: 100.0, "redis://127.0.0.1:1", "x")
    principal = Principal(app_id="app_x", environment="test", key_id="key_x", kind="secret")
    await limiter.take(principal, "reads", "a")
    await limiter.take(principal, "reads", "a")
    with pytest.raises(Exception, match="Too many reads"):
        await limiter.take(principal, "reads", "a")
    await limiter.close()


async def test_every_key_is_limited_by_default(backend: Backend) -> None:
    tenant: Tenant = await make_tenant(backend)
    answer = await tenant.get("/api/v1/products")
    assert answer.headers["ratelimit-policy"] == '"reads";q=100;w=1'
