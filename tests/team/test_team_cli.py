"""`kassa users create-owner` and the demo owner of `kassa serve`, as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.cli import kassa, serving

pytestmark = pytest.mark.slow


def test_create_owner_attaches_the_existing_applications_and_signs_in(tmp_path: Path) -> None:
    app_id = kassa("apps", "create", "Old shop", "--env", "live", cwd=tmp_path).stdout.strip()
    # The password from standard input (a prompt when it is a terminal).
    made = subprocess.run([sys.executable, "-m", "kassa.cli", "users", "create-owner", "Boss@Example.com",
                           "--workspace", "Shop GmbH"], cwd=tmp_path, input="a long enough passphrase\n",
                          capture_output=True, text=True, env={**os.environ, "KASSA_LOG_FORMAT": "text"})
    assert made.returncode == 0, made.stderr
    assert "owner boss@example.com" in made.stdout and "1 existing application attached" in made.stdout
    again = kassa("users", "create-owner", "boss@example.com", "--password", "another long passphrase",
                  cwd=tmp_path, check=False)
    assert again.returncode == 2 and "already an account" in again.stderr
    short = kassa("users", "create-owner", "b@example.com", "--password", "short", cwd=tmp_path, check=False)
    assert short.returncode == 2 and "at least 8 characters" in short.stderr
    with serving(cwd=tmp_path) as (base, _):
        signed = httpx.post(f"{base}/api/v1/auth/sign-in", json={"email": "boss@example.com",
                                                                 "password": "a long enough passphrase"})
        assert signed.status_code == 200, signed.text
        # On loopback the cookie is not `Secure` (development over plain http).
        assert "secure" not in signed.headers["set-cookie"].lower()
        session = httpx.get(f"{base}/api/v1/auth/session", cookies=signed.cookies).json()
        [workspace] = session["workspaces"]
        assert workspace["name"] == "Shop GmbH" and [a["id"] for a in workspace["applications"]] == [app_id]


def test_serve_creates_a_demo_owner_that_can_sign_in(tmp_path: Path) -> None:
    with serving(cwd=tmp_path) as (base, _):
        env = dict(line.split("=", 1) for line in (tmp_path / ".kassa" / "demo.env").read_text().split())
        signed = httpx.post(f"{base}/api/v1/auth/sign-in", json={"email": env["KASSA_DEMO_OWNER_EMAIL"],
                                                                 "password": env["KASSA_DEMO_OWNER_PASSWORD"]})
        assert signed.status_code == 200, signed.text
        csrf = signed.json()["csrfToken"]
        session = httpx.get(f"{base}/api/v1/auth/session", cookies=signed.cookies).json()
        [workspace] = session["workspaces"]
        assert workspace["role"] == "owner" and [a["name"] for a in workspace["applications"]] == ["Demo store"]
        app_id = workspace["applications"][0]["id"]
        # The dashboard's way: the cookie, the application, the CSRF token.
        products = httpx.get(f"{base}/api/v1/products", cookies=signed.cookies, headers={"Kassa-Application": app_id})
        assert products.status_code == 200 and products.json()["data"][0]["name"] == "Kassa T-shirt"
        key = httpx.post(f"{base}/api/v1/api-keys", cookies=signed.cookies, json={"scopes": ["carts:read"]},
                         headers={"Kassa-Application": app_id, "X-CSRF-Token": csrf})
        assert key.status_code == 201, key.text
