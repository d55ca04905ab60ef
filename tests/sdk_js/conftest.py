"""The JavaScript packages' tests (sdk/js), run by pytest against a real Kassa over HTTP.

* `js_build` — builds the packages and compiles their tests once per run (`npm run build` in
  sdk/js, under a file lock so xdist workers build once; skipped when nothing changed since).
* `kassa` — Kassa on a loopback port with its jobs running (the browser tests' fixture).
* `run_node(files, tenant)` — runs `node --test` on compiled test files with the tenant's keys in
  the environment (KASSA_URL, KASSA_SECRET_KEY, KASSA_PUBLISHABLE_KEY) and fails with its output.

Node and the packages come from `./dev test` (npm ci in sdk/js); without Node these tests skip,
except under CI=true, where that fails.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.conftest import Tenant, _unavailable, make_tenant
from tests.support.browser import kassa  # noqa: F401 - the shared fixture: Kassa over real HTTP
from tests.support.served import KassaWeb

ROOT = Path(__file__).resolve().parents[2]
JS = ROOT / "sdk" / "js"
BUILD = JS / ".build"  # compiled tests (tsconfig.test.json)
NODE_TIMEOUT = 120


def _sources_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(JS.glob("packages/*/src/**/*")) + sorted(JS.glob("packages/*/test/**/*")) + sorted(
            JS.glob("packages/*/*.json")) + sorted(JS.glob("*.json")) + sorted(JS.glob("scripts/*")) + sorted(
            JS.glob("examples/**/*.ts*")):
        if path.is_file() and "node_modules" not in path.parts:
            digest.update(str(path.relative_to(JS)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (JS / "node_modules" / "typescript").exists():
        _unavailable("Node and sdk/js/node_modules", FileNotFoundError("run ./dev test, which installs them"))
    return node  # type: ignore[return-value]


@pytest.fixture(scope="session")
def js_build() -> Path:
    """The packages built (dist/) and the tests compiled (.build/), once for every worker of the run."""
    _node()
    with open(JS / "node_modules" / ".kassa-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = JS / "node_modules" / ".kassa-build"
        want = _sources_digest()
        if not stamp.exists() or stamp.read_text() != want:
            done = subprocess.run(["npm", "run", "--silent", "build"], cwd=JS, capture_output=True, text=True,
                                  timeout=300)
            assert done.returncode == 0, f"npm run build failed:\n{done.stdout}\n{done.stderr}"
            stamp.write_text(want)
    return BUILD


RunNode = Callable[..., Awaitable[str]]


def passed(output: str) -> int:
    """The number of passed tests in node's closing summary (`ℹ pass N`)."""
    found = re.findall(r"^ℹ pass (\d+)$", output, re.M)
    return int(found[-1]) if found else 0


@pytest.fixture
def run_node(kassa: KassaWeb) -> RunNode:  # noqa: F811 - the imported fixture
    async def run(*files: Path | str, tenant: Tenant, env: dict[str, str] | None = None) -> str:
        environment = {**os.environ, "KASSA_URL": kassa.origin, "KASSA_SECRET_KEY": tenant.secret_key,
                       "KASSA_PUBLISHABLE_KEY": tenant.publishable_key, "KASSA_APP_ID": tenant.app_id,
                       "NODE_OPTIONS": "", **(env or {})}
        proc = await asyncio.create_subprocess_exec(
            _node(), "--test", "--test-reporter=spec", *map(str, files), cwd=JS, env=environment,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), NODE_TIMEOUT)
        except TimeoutError:
            proc.kill()
            raise AssertionError(f"node --test {' '.join(map(str, files))} did not finish in {NODE_TIMEOUT} s") from None
        text = out.decode(errors="replace")
        assert proc.returncode == 0, f"node --test failed ({proc.returncode}):\n{text}"
        return text

    return run


@pytest.fixture
async def js_tenant(kassa: KassaWeb) -> Tenant:  # noqa: F811
    """A test application of its own in the HTTP Kassa (every node test file gets one)."""
    return await make_tenant(kassa.backend)
