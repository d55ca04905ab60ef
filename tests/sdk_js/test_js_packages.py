"""@kassa/embed (in jsdom), @kassa/js and @kassa/react against a real Kassa: each compiled test file of their test folders
runs under `node --test` with an application of its own (see conftest.py). The React tests render
in jsdom."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Tenant
from tests.sdk_js.conftest import JS, RunNode, passed
from tests.support.team import team_env

FILES = sorted((p.parent.parent.name, p.name.split(".")[0]) for package in ("embed", "js", "react")
               for p in (JS / "packages" / package / "test").glob("*.test.ts*"))


@pytest.mark.parametrize(("package", "name"), FILES, ids=[f"{p}/{n}" for p, n in FILES])
async def test_package(package: str, name: str, js_build: Path, js_tenant: Tenant, run_node: RunNode) -> None:
    env = await team_env(js_tenant) if name == "team" else None
    output = await run_node(js_build / "packages" / package / "test" / f"{name}.test.js", tenant=js_tenant, env=env)
    assert passed(output) > 0, output
