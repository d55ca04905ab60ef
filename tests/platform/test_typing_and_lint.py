"""Tools every contributor runs the same way (`./dev lint`), held by the suite so CI runs them too:
mypy --strict on the contract package, whose types the SDK and every service share."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_mypy_strict_passes_on_the_contract() -> None:
    done = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "kassa_contract"],
                          cwd=ROOT / "shared" / "contract", capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
