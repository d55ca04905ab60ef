"""Rate limits as a deployment meets them, over real HTTP: the embedded server (SQLite, buckets in
the process) and two `kassa serve cart` processes sharing their buckets in Redis. The quotas are
per hour, so no token comes back while a test runs: the counts are exact without a clock."""

from __future__ import annotations

import asyncio
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.support.cli import kassa, serving

pytestmark = pytest.mark.slow

HOURLY = {"KASSA_RATE_LIMIT_READS": "10/3600", "KASSA_RATE_LIMIT_AUTH_FAILURES": "3/3600", "KASSA_DB_POOL_SIZE": "2"}


async def _statuses(bases: list[str], key: str, count: int) -> list[httpx.Response]:
    """`count` GETs at once, spread over the servers `bases`."""
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=20) as http:
        return await asyncio.gather(*(http.get(f"{bases[i % len(bases)]}/api/v1/products") for i in range(count)))


def test_embedded_server_limits_reads_and_failed_keys(tmp_path: Path) -> None:
    with serving(cwd=tmp_path, env=HOURLY) as (base, _):
        demo = dict(line.split("=", 1) for line in (tmp_path / ".kassa" / "demo.env").read_text().split())
        answers = asyncio.run(_statuses([base], demo["KASSA_DEMO_SECRET_KEY"], 25))
        assert sorted(r.status_code for r in answers) == [200] * 10 + [429] * 15
        refused = next(r for r in answers if r.status_code == 429)
        assert refused.json()["error"]["code"] == "rate_limited"
        assert refused.headers["retry-after"] == "360" and refused.headers["ratelimit-policy"] == '"reads";q=10;w=3600'
        # Failed keys, counted per client address (uvicorn takes X-Forwarded-For from a local proxy).
        attacker = {"X-Forwarded-For": "192.0.2.50"}
        for _ in range(3):
            assert httpx.get(f"{base}/api/v1/products", headers={**attacker, "Authorization": "Bearer sk_test_x"}
                             ).status_code == 401
        blocked = httpx.get(f"{base}/api/v1/products", headers={**attacker, "Authorization": "Bearer sk_test_y"})
        assert blocked.status_code == 429 and blocked.json()["error"]["details"]["policy"] == "auth-failures"
        other = httpx.get(f"{base}/api/v1/products",
                          headers={"X-Forwarded-For": "192.0.2.51", "Authorization": "Bearer sk_test_x"})
        assert other.status_code == 401


def test_x_forwarded_for_is_believed_from_trusted_proxies_only(tmp_path: Path) -> None:
    """KASSA_TRUSTED_PROXIES names the gateway; here it is not this loopback client, so a header it
    sends names nobody: every attempt counts against its own address."""
    with serving(cwd=tmp_path, env={**HOURLY, "KASSA_TRUSTED_PROXIES": "10.0.0.0/8"}) as (base, _):
        for spoofed in ("192.0.2.60", "192.0.2.61", "192.0.2.62"):
            assert httpx.get(f"{base}/api/v1/products", headers={"X-Forwarded-For": spoofed,
                                                                 "Authorization": "Bearer sk_test_x"}).status_code == 401
        blocked = httpx.get(f"{base}/api/v1/products",
                            headers={"X-Forwarded-For": "192.0.2.63", "Authorization": "Bearer sk_test_x"})
        assert blocked.status_code == 429 and blocked.json()["error"]["details"]["policy"] == "auth-failures"


def test_two_processes_share_their_buckets_in_redis(tmp_path: Path, pg_url: str, redis_url: str) -> None:
    env = {"KASSA_DATABASE_URL": pg_url, "KASSA_REDIS_URL": redis_url, **HOURLY}
    app_id = kassa("apps", "create", "Shared limits", "--env", "live", cwd=tmp_path, env=env).stdout.strip()
    key = kassa("keys", "create", app_id, "--scopes", "catalog:read", cwd=tmp_path, env=env).stdout.strip()
    with ExitStack() as stack:
        a, _ = stack.enter_context(serving("cart", cwd=tmp_path, env=env))
        b, _ = stack.enter_context(serving("cart", cwd=tmp_path, env=env))
        answers = asyncio.run(_statuses([a, b], key, 40))
        # 40 requests at once against a bucket of 10, half through each process: exactly 10 pass.
        assert sorted(r.status_code for r in answers) == [200] * 10 + [429] * 30
        assert [r for r in answers if r.status_code == 200][0].headers["ratelimit"].startswith('"reads";r=')
