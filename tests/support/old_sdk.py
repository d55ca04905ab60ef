"""The Python SDK as it was before API versions (tests/sdk/fixtures/old_sdk), installed alone into a
fresh virtual environment, and applications pinned to an API version for it to call.

`old_sdk_python(where)` makes the environment with uv (its cache makes this a second or two):
the two committed wheels plus their dependencies at the versions this repository locks, nothing
else of the repository. Without uv the test is skipped, except under CI=true, where that fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest
from kassa_platform.auth import create_application, create_key
from kassa_platform.db import transaction

from tests.conftest import IN_CI, Backend, Tenant

REPO = Path(__file__).resolve().parents[2]
OLD_SDK = REPO / "tests" / "sdk" / "fixtures" / "old_sdk"
OLD_SDK_COMMIT = "1a13d08"  # main before issue 21 (API versions); see the fixture's README
# What the two wheels need, at the versions the repository locks (found in uv's cache when it has them).
RUNTIME_DEPENDENCIES = ("httpx", "httpcore", "msgspec", "anyio", "idna", "certifi", "h11", "sniffio")


def uv_or_skip() -> str:
    """The uv binary (on PATH, or where ./dev installs it); skips without one, fails under CI=true."""
    found = shutil.which("uv") or str(REPO / ".kassa" / "tools" / "bin" / "uv")
    if not Path(found).exists():
        if IN_CI:
            pytest.fail("uv is needed to install the old SDK's wheels (./dev installs it); CI=true requires it",
                        pytrace=False)
        pytest.skip("uv is not installed (./dev installs it): the old SDK cannot be installed")
    return found


def old_wheels() -> list[Path]:
    wheels = sorted(OLD_SDK.glob("*.whl"))
    assert [w.name.split("-")[0] for w in wheels] == ["kassa_contract", "kassa_sdk"], wheels
    return wheels


def old_sdk_python(where: Path) -> Path:
    """A new virtual environment under `where` with only the old SDK (and its dependencies); its python."""
    uv = uv_or_skip()
    env = {**os.environ, "UV_NO_PROGRESS": "1"}
    venv = where / "old-sdk-venv"
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], env=env, check=True, timeout=120)
    python = venv / "bin" / "python"
    pins = where / "old-sdk-pins.txt"
    pins.write_text("".join(f"{name}=={version(name)}\n" for name in RUNTIME_DEPENDENCIES))
    install = [uv, "pip", "install", "--quiet", "--python", str(python), "--constraint", str(pins),
               *map(str, old_wheels())]
    if subprocess.run([*install, "--offline"], env=env, capture_output=True, timeout=300).returncode != 0:
        subprocess.run(install, env=env, check=True, timeout=300)  # not all in uv's cache yet: the registry
    return python


def wheel_readme(wheel: Path) -> str:
    """The README a wheel was built with (its METADATA's description)."""
    with zipfile.ZipFile(wheel) as zf:
        metadata = zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))).decode()
    return metadata.split("\n\n", 1)[1]


def readme_quick_start(readme: str) -> str:
    """The first Python block of a README's "Quick start" section."""
    section = readme.split("## Quick start", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block, "the README's quick start has a python block"
    return block.group(1)


async def pinned_tenant(backend: Backend, api_version: str) -> Tenant:
    """A test application of its own pinned to `api_version` (as one made before a newer version
    came out is), with a secret key for every scope and a publishable key."""
    now = backend.clock.now()
    async with transaction(backend.runtime.db) as conn:
        app_id = await create_application(conn, f"test-{uuid.uuid4().hex[:8]}", "test", now, api_version=api_version)
        secret = await create_key(conn, app_id, kind="secret", scopes=["*"], now=now)
        publishable = await create_key(conn, app_id, kind="publishable", scopes=None, now=now)
    return Tenant(backend, app_id, secret, publishable)
