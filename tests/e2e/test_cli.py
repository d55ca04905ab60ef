"""The `kassa` command as a user runs it: real processes, real HTTP over loopback."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from kassa_platform.jobs import ArqQueue
from kassa_platform.tables import idempotency_keys
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import REDIS_PREFIX, free_port
from tests.support.cli import kassa, serving
from tests.support.localstripe import REJECTED_KEY, LocalStripe

pytestmark = pytest.mark.slow


def test_embedded_serve_creates_a_demo_app_whose_example_request_works(tmp_path: Path) -> None:
    with serving(cwd=tmp_path) as (base, _):
        env = dict(line.split("=", 1) for line in (tmp_path / ".kassa" / "demo.env").read_text().split())
        headers = {"Authorization": f"Bearer {env['KASSA_DEMO_PUBLISHABLE_KEY']}"}
        created = httpx.post(f"{base}/api/v1/carts", headers=headers, json={
            "currency": "EUR", "lineItems": [{"variantId": env["KASSA_DEMO_VARIANT_ID"], "quantity": 2}],
            "shippingAddress": {"addressLine1": "Unter den Linden 1", "city": "Berlin", "countryCode": "DE"}})
        assert created.status_code == 201, created.text
        cart = created.json()
        assert cart["subtotal"] == 5000 and cart["taxTotal"] == 950 and cart["total"] == 5950
        assert created.headers["x-request-id"].startswith("req_")
        options = httpx.get(f"{base}/api/v1/carts/{cart['id']}/shipping-methods",
                            headers={**headers, "X-Cart-Secret": cart["clientSecret"]}).json()["data"]
        assert [o["amount"] for o in options] == [0]  # free above 50 EUR
        missing = httpx.get(f"{base}/api/v1/nowhere", headers=headers)
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "route_not_found"
        assert httpx.get(f"{base}/api/v1/products", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert (tmp_path / ".kassa" / "kassa.db").exists()
    # A second start keeps the data and prints no new keys.
    with serving(cwd=tmp_path) as (base, lines):
        secret = env["KASSA_DEMO_SECRET_KEY"]
        assert httpx.get(f"{base}/api/v1/carts/{cart['id']}", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    assert "secret key:" not in "".join(lines)


def test_distributed_cart_service_on_postgres_with_cli_made_keys(tmp_path: Path, pg_url: str) -> None:
    env = {"KASSA_DATABASE_URL": pg_url}
    app_id = kassa("apps", "create", "CLI shop", "--env", "live", cwd=tmp_path, env=env).stdout.strip()
    assert app_id.startswith("app_")
    key = kassa("keys", "create", app_id, "--scopes", "catalog:read,carts:read", cwd=tmp_path, env=env).stdout.strip()
    assert key.startswith("sk_live_")
    pk = kassa("keys", "create", app_id, "--publishable", cwd=tmp_path, env=env).stdout.strip()
    assert pk.startswith("pk_live_")
    bad = kassa("keys", "create", app_id, "--scopes", "carts:fly", cwd=tmp_path, env=env, check=False)
    assert bad.returncode == 2 and "unknown scopes" in bad.stderr
    with serving("cart", cwd=tmp_path, env=env) as (base, _):
        assert httpx.get(f"{base}/api/v1/products", headers={"Authorization": f"Bearer {key}"}).json()["data"] == []
        denied = httpx.post(f"{base}/api/v1/carts", headers={"Authorization": f"Bearer {key}"}, json={"currency": "EUR"})
        assert denied.status_code == 403 and denied.json()["error"]["details"] == {"scope": "carts:write"}
        made = httpx.post(f"{base}/api/v1/carts", headers={"Authorization": f"Bearer {pk}"}, json={"currency": "EUR"})
        assert made.status_code == 201
        # The operator's keys are in the application's audit log, as the operator's, without their secrets.
        auditor = kassa("keys", "create", app_id, "--scopes", "audit:read", cwd=tmp_path, env=env).stdout.strip()
        log = httpx.get(f"{base}/api/v1/audit-log", headers={"Authorization": f"Bearer {auditor}"})
        assert log.status_code == 200, log.text
        assert [(e["action"], e["actor"]) for e in log.json()["data"]] == \
            [("api_key.created", {"type": "operator", "id": "cli"})] * 3
        assert key not in log.text and pk not in log.text and auditor not in log.text
    assert not (tmp_path / ".kassa" / "kassa.db").exists()  # distributed: nothing on SQLite


async def test_worker_runs_jobs_from_redis(tmp_path: Path, pg_url: str, redis_url: str) -> None:
    aengine = create_async_engine(pg_url)
    async with aengine.begin() as conn:
        await conn.execute(sa.insert(idempotency_keys).values(
            app_id="app_worker_test", key="k", request_hash="h", state="completed",
            locked_until=sa.func.now(), created_at=sa.func.now(), expires_at=sa.text("now() - interval '1 hour'")))
    queue = ArqQueue(redis_url, REDIS_PREFIX)
    await queue.enqueue("purge_idempotency_keys", job_id=f"purge:{time.time_ns()}")
    await queue.close()
    result = kassa("worker", "--burst", cwd=tmp_path, env={"KASSA_DATABASE_URL": pg_url, "KASSA_REDIS_URL": redis_url,
                                                           "KASSA_LOG_FORMAT": "text"})
    assert "Kassa worker" in result.stdout
    async with aengine.connect() as conn:
        left = (await conn.execute(sa.select(sa.func.count()).select_from(idempotency_keys)
                                   .where(idempotency_keys.c.app_id == "app_worker_test"))).scalar_one()
    await aengine.dispose()
    assert left == 0
    no_redis = kassa("worker", cwd=tmp_path, env={"KASSA_DATABASE_URL": pg_url, "KASSA_REDIS_URL": ""}, check=False)
    assert no_redis.returncode == 2 and "KASSA_REDIS_URL" in no_redis.stderr


def test_vouchers_generate_and_import_with_progress(tmp_path: Path, pg_url: str) -> None:
    env = {"KASSA_DATABASE_URL": pg_url}
    app_id = kassa("apps", "create", "Voucher shop", "--env", "test", cwd=tmp_path, env=env).stdout.strip()
    key = kassa("keys", "create", app_id, "--scopes", "*", cwd=tmp_path, env=env).stdout.strip()
    with serving("cart", cwd=tmp_path, env=env) as (base, _):
        headers = {"Authorization": f"Bearer {key}"}
        campaign = httpx.post(f"{base}/api/v1/campaigns", headers=headers, json={
            "name": "Bulk", "reward": {"type": "fixed_off", "amounts": {"EUR": 500}}}).json()
        generated = kassa("vouchers", "generate", "--campaign", campaign["id"], "--count", "5000", "--prefix", "BLK-",
                          cwd=tmp_path, env=env)
        assert "5000 codes created" in generated.stdout and "5000/5000" in generated.stderr
        (tmp_path / "codes.csv").write_text("code\nFILE-1\nFILE-2\n")
        imported = kassa("vouchers", "import", "codes.csv", "--campaign", campaign["id"], cwd=tmp_path, env=env)
        assert "2 codes created" in imported.stdout and "2/2" in imported.stderr
        again = kassa("vouchers", "import", "codes.csv", "--campaign", campaign["id"], cwd=tmp_path, env=env, check=False)
        assert again.returncode == 2 and "code_taken" in again.stderr
        stats = httpx.get(f"{base}/api/v1/campaigns/{campaign['id']}/stats", headers=headers).json()
        assert stats["codes"] == 5002
        assert httpx.get(f"{base}/api/v1/codes/file-1", headers=headers).json()["status"] == "created"


def test_checkout_alone_refuses_to_start_without_the_cart_services_address(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "KASSA_CART_URL"}
    done = subprocess.run([sys.executable, "-m", "kassa.cli", "serve", "checkout", "--port", str(free_port())],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "KASSA_CART_URL" in done.stderr


def test_payments_show_set_test_and_the_refusals_of_a_live_application(tmp_path: Path) -> None:
    live = kassa("apps", "create", "Live shop", "--env", "live", cwd=tmp_path).stdout.strip()
    test_app = kassa("apps", "create", "Test shop", "--env", "test", cwd=tmp_path).stdout.strip()
    shown = kassa("payments", "show", "Test shop", cwd=tmp_path).stdout
    assert f"application     {test_app} (test)" in shown and "provider        test" in shown
    assert "provider        none" in kassa("payments", "show", live, cwd=tmp_path).stdout  # no payments until Stripe
    manual = kassa("payments", "set-test", test_app, "--capture", "manual", cwd=tmp_path).stdout
    assert "provider        test" in manual and "capture         manual" in manual
    assert "capture         manual" in kassa("payments", "show", test_app, cwd=tmp_path).stdout

    refusals = {
        "the test provider": (["set-test", live], "validation_error [provider]: A live application cannot"),
        "test keys": (["set-stripe", live, "--secret-key", "sk_test_abcdefgh", "--publishable-key", "pk_test_abcdefgh"],
                      "validation_error [--secret-key]: A live application takes Stripe live keys only"),
        "a live publishable key": (["set-stripe", test_app, "--secret-key", "sk_test_abcdefgh",
                                    "--publishable-key", "pk_live_abcdefgh"], "[--publishable-key]"),
        "no key at all": (["set-stripe", test_app, "--secret-key", "hello", "--publishable-key", "pk_test_abcdefgh"],
                          "--secret-key is not valid"),
        "an unknown application": (["show", "nobody"], "no single application with id or name 'nobody'"),
    }
    for what, (args, message) in refusals.items():
        done = kassa("payments", *args, cwd=tmp_path, check=False)
        assert done.returncode != 0 and message in done.stderr, (what, done.stderr)
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, (what, done.stderr)
    assert "capture         manual" in kassa("payments", "show", test_app, cwd=tmp_path).stdout  # nothing changed


def test_payments_set_stripe_checks_the_key_with_stripe_and_the_server_uses_it(tmp_path: Path,
                                                                               localstripe: LocalStripe) -> None:
    env = {"KASSA_STRIPE_API_BASE": localstripe.url, "KASSA_PUBLIC_BASE_URL": "https://pay.shop.example"}
    app_id = kassa("apps", "create", "Stripe shop", "--env", "test", cwd=tmp_path).stdout.strip()
    rejected = kassa("payments", "set-stripe", app_id, "--secret-key", REJECTED_KEY, "--publishable-key",
                     localstripe.publishable_key, cwd=tmp_path, env=env, check=False)
    assert rejected.returncode == 2 and "payment_provider_auth_failed [--secret-key]" in rejected.stderr
    assert "Traceback" not in rejected.stderr

    done = kassa("payments", "set-stripe", app_id, "--secret-key", localstripe.api_key, "--publishable-key",
                 localstripe.publishable_key, "--webhook-secret", "whsec_clitest4321", "--capture", "manual",
                 cwd=tmp_path, env=env)
    webhook_url = f"https://pay.shop.example/webhooks/stripe/{app_id}"
    for line in ("provider        stripe", "capture         manual", f"secret key      …{localstripe.api_key[-4:]}",
                 f"publishable key {localstripe.publishable_key}", "webhook secret  …4321",
                 f"webhook URL     {webhook_url}"):
        assert line in done.stdout, (line, done.stdout)
    assert f"add a webhook endpoint at {webhook_url}" in done.stderr
    assert done.stdout == kassa("payments", "show", app_id, cwd=tmp_path, env=env).stdout
    with sqlite3.connect(tmp_path / ".kassa" / "kassa.db") as db:  # sealed at rest, never in clear
        stored = db.execute("SELECT secret_key, webhook_secret FROM payment_settings WHERE app_id = ?",
                            (app_id,)).fetchone()
    assert all(value.startswith("sealed:v1:") for value in stored)
    assert localstripe.api_key not in (tmp_path / ".kassa" / "kassa.db").read_bytes().decode("latin-1")

    # The server opens what the command sealed (the same data directory's signing key) and pays through it.
    key = kassa("keys", "create", app_id, "--scopes", "*", cwd=tmp_path).stdout.strip()
    with serving(cwd=tmp_path, env=env) as (base, _):
        headers = {"Authorization": f"Bearer {key}"}
        product = httpx.post(f"{base}/api/v1/products", headers=headers, json={
            "name": "Cup", "variants": [{"sku": "CUP-1", "prices": {"EUR": 1800}}]}).json()
        cart = httpx.post(f"{base}/api/v1/carts", headers=headers, json={
            "currency": "EUR", "lineItems": [{"variantId": product["variants"][0]["id"]}]}).json()
        session = httpx.post(f"{base}/api/v1/checkout/sessions", headers=headers, json={"cartId": cart["id"]}).json()
        intent = httpx.post(f"{base}/api/v1/checkout-sessions/{session['id']}/payment-intent", headers=headers)
        assert intent.status_code == 200, intent.text
        assert intent.json()["paymentIntentId"].startswith("pi_") and intent.json()["amount"] == 1800
