"""Old clients keep working (issue 21): the Python SDK as built before API versions existed
(tests/sdk/fixtures/old_sdk, commit 1a13d08) runs its README's quick start, pays the session and
reads its payments against today's `kassa serve` (a real process, SQLite: only uv is needed), in a
virtual environment of its own, for applications made with `kassa apps create --api-version`.

The old SDK sends no `Kassa-Version`, so it gets its application's pin. Pinned to the first version
(2026-11-30) every answer has the shape it was built for: a payment names its `connector`. Pinned to
the newest, the same code gets `provider` instead and its types refuse the payments: that is what
pins are for.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from kassa_contract.versions import FIRST_VERSION, LATEST_VERSION

from tests.e2e.test_cli import kassa as kassa_cli
from tests.e2e.test_cli import serving
from tests.support import cards
from tests.support.old_sdk import OLD_SDK_COMMIT, REPO, old_sdk_python, old_wheels, readme_quick_start, wheel_readme

# After the quick start (which leaves `cart` and `session` behind): pay, then read the session's
# payments and the payment methods with the same old SDK, and the payments' raw JSON beside them.
AFTER_QUICK_START = '''
import json as _json
import httpx as _httpx
from kassa_sdk.types import CardInput, PaymentMethodInput

with Kassa() as kassa:
    card = PaymentMethodInput(type="card", card=CardInput(number=GOOD_NUMBER, exp_month=12, exp_year=2030,
                                                          cvc="123"))
    paid = kassa.checkout.sessions.complete(session.id, payment_method=card)
    try:
        payments = [{"connector": p.connector, "status": p.status, "amount": p.amount}
                    for p in kassa.checkout.sessions.list_payments(session.id)]
    except Exception as exc:  # the old types refusing a shape they do not know
        payments = f"{type(exc).__name__}: {exc}"
    try:
        methods = sorted({m.connector for m in kassa.payment_methods.list(session_id=session.id)})
    except Exception as exc:
        methods = f"{type(exc).__name__}: {exc}"
raw = _httpx.get(f"{os.environ['KASSA_BASE_URL']}/api/v1/checkout-sessions/{session.id}/payments",
                 headers={"Authorization": f"Bearer {os.environ['KASSA_API_KEY']}"})
print(_json.dumps({"status": paid.status, "order": paid.order_id, "payments": payments, "methods": methods,
                   "answered": raw.headers.get("kassa-version"), "raw": raw.json()["data"]}))
'''.replace("GOOD_NUMBER", repr(cards.GOOD))


def test_the_fixture_wheels_are_the_sources_of_the_commit_before_api_versions() -> None:
    """Each module in the wheels is byte for byte the commit's source (so the fixture is what it claims)."""
    archive = subprocess.run(["git", "archive", OLD_SDK_COMMIT, "sdk/python/src/kassa_sdk", "shared/contract/kassa_contract"],
                             cwd=REPO, capture_output=True, timeout=60)
    if archive.returncode != 0:
        pytest.skip(f"commit {OLD_SDK_COMMIT} is not in this clone's history (a shallow clone?)")
    import io

    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        sources = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]
    where = {"kassa_sdk": "sdk/python/src/kassa_sdk", "kassa_contract": "shared/contract/kassa_contract"}
    compared = 0
    for wheel in old_wheels():
        with zipfile.ZipFile(wheel) as zf:
            for name in zf.namelist():
                top, _, rest = name.partition("/")
                if top in where:
                    assert zf.read(name) == sources.get(f"{where[top]}/{rest}"), f"{wheel.name}: {name}"
                    compared += 1
    assert compared == len(sources) and compared > 40, (compared, len(sources))


def run_old_sdk(python: Path, script: Path, env: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """Runs `script` with the old SDK's python; the quick start's output and the JSON the continuation prints."""
    done = subprocess.run([str(python), str(script)], cwd=script.parent, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    *quick_start_output, last = done.stdout.strip().splitlines()
    return "\n".join(quick_start_output), json.loads(last)


def pinned_application(base: str, pin: str, cwd: Path) -> dict[str, str]:
    """An application of `kassa serve` pinned to `pin` (`kassa apps create --api-version`), with a secret
    key and a product; the environment the old SDK's quick start reads."""
    app_id = kassa_cli("apps", "create", "old-sdk", "--env", "test", "--api-version", pin, cwd=cwd).stdout.strip()
    key = kassa_cli("keys", "create", app_id, "--scopes", "*", cwd=cwd).stdout.strip()
    made = httpx.post(f"{base}/api/v1/products", headers={"Authorization": f"Bearer {key}"}, timeout=30,
                      json={"name": "Cup", "variants": [{"sku": "cup-1", "prices": {"EUR": 1200}}]})
    assert made.status_code == 201, made.text
    env = {**os.environ, "KASSA_API_KEY": key, "KASSA_BASE_URL": base, "KASSA_VARIANT_ID": made.json()["variants"][0]["id"]}
    env.pop("PYTHONPATH", None)  # nothing of this repository: only what the old wheels bring
    return env


def pin_of(env: dict[str, str]) -> str:
    answer = httpx.get(f"{env['KASSA_BASE_URL']}/api/v1/application", timeout=30,
                       headers={"Authorization": f"Bearer {env['KASSA_API_KEY']}"})
    return str(answer.json()["apiVersion"])


@pytest.mark.slow
def test_the_sdk_from_before_api_versions_works_pinned_to_the_first_version(tmp_path: Path) -> None:
    python = old_sdk_python(tmp_path)  # skips without uv (fails under CI=true)
    [sdk_wheel] = [w for w in old_wheels() if w.name.startswith("kassa_sdk-")]
    script = tmp_path / "old_client.py"
    script.write_text(readme_quick_start(wheel_readme(sdk_wheel)) + AFTER_QUICK_START)

    results: dict[str, tuple[str, dict[str, Any]]] = {}
    with serving(cwd=tmp_path, timeout=120) as (base, _):  # `kassa serve`, as the old README says
        env = pinned_application(base, FIRST_VERSION, tmp_path)
        assert pin_of(env) == FIRST_VERSION
        results[FIRST_VERSION] = run_old_sdk(python, script, env)
        # The merchant moves the pin to the newest version; the old client is not updated.
        moved = httpx.post(f"{base}/api/v1/application/upgrade-version", json={"version": LATEST_VERSION},
                           headers={"Authorization": f"Bearer {env['KASSA_API_KEY']}"}, timeout=30)
        assert moved.status_code == 200 and pin_of(env) == LATEST_VERSION, moved.text
        results[LATEST_VERSION] = run_old_sdk(python, script, env)

    # Pinned to the first version: the README's quick start, a paid session and its payments in the
    # shape the old SDK knows.
    printed, old = results[FIRST_VERSION]
    assert re.fullmatch(rf"\d+ EUR {re.escape(base)}/s/cs_\w+", printed), printed
    assert old["status"] == "complete" and old["order"], old
    assert old["payments"] == [{"connector": "test", "status": "captured", "amount": old["payments"][0]["amount"]}]
    assert old["methods"] == ["test"], old
    assert old["answered"] == FIRST_VERSION
    assert [("connector" in p, "provider" in p) for p in old["raw"]] == [(True, False)], old["raw"]

    # Once the pin moves to the newest: carts and sessions did not change, so those calls still work,
    # but payments come in the newest shape, which the old types cannot read.
    printed, new = results[LATEST_VERSION]
    assert re.fullmatch(rf"\d+ EUR {re.escape(base)}/s/cs_\w+", printed), printed
    assert new["status"] == "complete", new
    assert new["answered"] == LATEST_VERSION
    assert [("connector" in p, "provider" in p) for p in new["raw"]] == [(False, True)], new["raw"]
    for refused in (new["payments"], new["methods"]):
        assert isinstance(refused, str) and refused.startswith("ValidationError") and "connector" in refused, refused
