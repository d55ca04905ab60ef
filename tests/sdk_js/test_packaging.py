"""The JavaScript packages as a developer gets them: generated types in step with the server, each
package packs, the example app type-checks, every README's quick start runs as written, and the
storefront bundle stays within its budget."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.conftest import Tenant
from tests.sdk_js.conftest import JS, RunNode

ROOT = JS.parents[1]
TSC = JS / "node_modules" / "typescript" / "bin" / "tsc"
ESBUILD = JS / "node_modules" / ".bin" / "esbuild"
PACKAGES = sorted(p.parent.name for p in JS.glob("packages/*/package.json"))
OWN = [p for p in PACKAGES if (JS / "packages" / p / "README.md").exists()]


def test_generated_types_match_the_server(js_build: Path) -> None:
    done = subprocess.run([sys.executable, str(JS / "scripts" / "generate.py"), "--check"], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("package", PACKAGES)
def test_npm_pack_builds_the_package(package: str, js_build: Path, tmp_path: Path) -> None:
    done = subprocess.run(["npm", "pack", "--json", "--pack-destination", str(tmp_path)], cwd=JS / "packages" / package,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    [info] = json.loads(done.stdout)
    with tarfile.open(tmp_path / info["filename"]) as tar:
        names = set(tar.getnames())
    manifest = json.loads((JS / "packages" / package / "package.json").read_text())
    for target in manifest["exports"].values():
        for file in (target.values() if isinstance(target, dict) else [target]):
            assert "package/" + file.removeprefix("./") in names, (file, sorted(names))
    assert "package/README.md" in names
    assert not any("/test/" in n or n.endswith(".tsbuildinfo") for n in names), names


def test_the_example_app_type_checks(js_build: Path) -> None:
    done = subprocess.run(["node", str(TSC), "--noEmit", "-p", str(JS / "examples" / "storefront")], cwd=JS,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr


def quick_start(package: str) -> str:
    readme = (JS / "packages" / package / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1]
    code = re.search(r"```tsx?\n(.*?)```", section, re.S)
    assert code, f"{package}/README.md has no quick start code block"
    lines = code.group(1).strip().splitlines()
    assert len(lines) <= 12, f"the quick start of {package} has {len(lines)} lines"
    return code.group(1)


@pytest.mark.parametrize("package", OWN)
async def test_the_readme_quick_start_works_as_written(package: str, js_build: Path, js_tenant: Tenant,
                                                       run_node: RunNode) -> None:
    """The README's code, unchanged, type-checked and run with the environment it names."""
    source = quick_start(package)
    work = JS / ".build" / "quickstart"
    work.mkdir(parents=True, exist_ok=True)
    ts = work / f"{package}.ts"
    ts.write_text(source)
    checked = subprocess.run(["node", str(TSC), "--noEmit", "--strict", "--module", "nodenext", "--target", "es2022",
                              "--types", "node", "--skipLibCheck", str(ts)], cwd=JS, capture_output=True, text=True,
                             timeout=180)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # What the quick start expects to find: a product, and shipping to Germany.
    await js_tenant.post("/api/v1/products", {"name": "Cup", "variants": [{"sku": "cup-1", "prices": {"EUR": 1200}}]})
    await js_tenant.post("/api/v1/shipping-methods", {"name": "DHL", "prices": {"EUR": 490}, "countries": ["DE"]})
    # Run as a node test file, so the harness reports it like the others.
    script = work / f"{package}.test.mjs"
    script.write_text("import { test } from 'node:test';\n"
                      f"test('quick start of {package}', async () => {{ await import('./{package}.run.mjs'); }});\n")
    (work / f"{package}.run.mjs").write_text(
        subprocess.run([str(ESBUILD), str(ts), "--format=esm", "--log-level=error"], check=True, capture_output=True,
                       text=True).stdout)
    output = await run_node(script, tenant=js_tenant)
    if package == "js":
        assert "2 items, total" in output, output


def test_the_storefront_bundle_stays_within_8_kb(js_build: Path) -> None:
    spec = importlib.util.spec_from_file_location("js_bundle", ROOT / "bench" / "js_bundle.py")
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    sizes = bench.sizes()
    minified, gzipped = sizes["@kassa/js"]
    assert 1000 < gzipped <= 8 * 1024, sizes

