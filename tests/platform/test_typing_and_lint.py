"""Tools every contributor runs the same way, held by the suite so CI runs them too: ruff over the
repository (`./dev lint`), and mypy --strict on the contract package, whose types the SDK and every
service share, and on the platform (its configuration: shared/platform/pyproject.toml); mypy checked
(not strict: what is annotated must hold) on the webhook, cart and checkout services (services/*/pyproject.toml)
and on the promotions core, whose pure engine is held to the strict flags (shared/promotions/pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_mypy_strict_passes_on_the_contract() -> None:
    done = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "kassa_contract"],
                          cwd=ROOT / "shared" / "contract", capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict_passes_on_the_platform() -> None:
    done = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "kassa_platform"],
                          cwd=ROOT / "shared" / "platform", capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "Success" in done.stdout, done.stdout + done.stderr


def test_mypy_passes_on_the_promotions_core() -> None:
    done = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "kassa_promotions"],
                          cwd=ROOT / "shared" / "promotions", capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "Success" in done.stdout, done.stdout + done.stderr


def test_mypy_passes_on_the_webhook_service() -> None:
    done = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "kassa_webhooks"],
                          cwd=ROOT / "services" / "webhooks", capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "Success" in done.stdout, done.stdout + done.stderr


def test_mypy_passes_on_the_cart_service() -> None:
    done = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "kassa_cart"],
                          cwd=ROOT / "services" / "cart", capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "Success" in done.stdout, done.stdout + done.stderr


def test_mypy_passes_on_the_checkout_service() -> None:
    done = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "kassa_checkout"],
                          cwd=ROOT / "services" / "checkout", capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "Success" in done.stdout, done.stdout + done.stderr


def test_ruff_passes_on_the_repository() -> None:
    """`./dev lint`: no unused or undefined names, imports in order (pyproject.toml, [tool.ruff])."""
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
