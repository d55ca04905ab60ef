"""@kassa/js against a real Kassa: each compiled test file of sdk/js/packages/js/test runs under
`node --test` with an application of its own (see conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Tenant
from tests.sdk_js.conftest import JS, RunNode, passed

FILES = sorted(p.stem for p in (JS / "packages" / "js" / "test").glob("*.test.ts"))


@pytest.mark.parametrize("name", FILES)
async def test_kassa_js(name: str, js_build: Path, js_tenant: Tenant, run_node: RunNode) -> None:
    output = await run_node(js_build / "packages" / "js" / "test" / f"{name}.js", tenant=js_tenant)
    assert passed(output) > 0, output
