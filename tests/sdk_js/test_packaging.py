"""The JavaScript packages as a developer gets them: generated types in step with the server, each
package packs, the example app type-checks, every README's quick start runs as written, and the
storefront bundle stays within its budget."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.conftest import Tenant
from tests.sdk_js.conftest import JS, RunNode, passed

ROOT = JS.parents[1]
TSC = JS / "node_modules" / "typescript" / "bin" / "tsc"
ESBUILD = JS / "node_modules" / ".bin" / "esbuild"
# The published packages (the dashboard is private: built into services/dashboard, never packed).
PACKAGES = sorted(p.parent.name for p in JS.glob("packages/*/package.json") if not json.loads(p.read_text()).get("private"))
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
    for target in manifest["exports"].values():  # a file, or {import: {types, default}, require: {types, default}}
        for file in ([target] if isinstance(target, str) else [f for c in target.values() for f in c.values()]):
            assert "package/" + file.removeprefix("./") in names, (file, sorted(names))
    if package in OWN:
        assert {"package/README.md", "package/CHANGELOG.md", "package/LICENSE"} <= names
    assert not any("/test/" in n or n.endswith(".tsbuildinfo") for n in names), names


@pytest.mark.parametrize("package", PACKAGES)
def test_the_package_type_checks(package: str, js_build: Path) -> None:
    done = subprocess.run(["node", str(TSC), "--noEmit", "-p", str(JS / "packages" / package)], cwd=JS,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_example_app_type_checks(js_build: Path) -> None:
    done = subprocess.run(["node", str(TSC), "--noEmit", "-p", str(JS / "examples" / "storefront")], cwd=JS,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr


def quick_start(package: str) -> tuple[str, str]:
    """The README's quick start code and its language (ts or tsx)."""
    readme = (JS / "packages" / package / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1]
    code = re.search(r"```(tsx?)\n(.*?)```", section, re.S)
    assert code, f"{package}/README.md has no quick start code block"
    lines = code.group(2).strip().splitlines()
    assert len(lines) <= 12, f"the quick start of {package} has {len(lines)} lines"
    return code.group(2), code.group(1)


# How the harness drives each quick start: a script runs; a route handler is called with a signed
# delivery; a component is rendered in jsdom.
DRIVERS = {
    "js": "await import('./js.run.mjs');",
    # The page of the quick start, whose server endpoint answers a real embed token for a real session.
    "embed": """
await import('../packages/react/test/dom.js');
const base = process.env.KASSA_URL;
const serverFetch = globalThis.fetch;
const api = async (method, path, body) => {
  const r = await serverFetch(base + path, { method, body: body && JSON.stringify(body), headers: {
    Authorization: 'Bearer ' + process.env.KASSA_SECRET_KEY, 'Content-Type': 'application/json' } });
  assert.ok(r.ok, await r.clone().text());
  return r.json();
};
const variantId = (await api('GET', '/api/v1/products?limit=1')).data[0].variants[0].id;
const cart = await api('POST', '/api/v1/carts', { currency: 'EUR', lineItems: [{ variantId, quantity: 1 }] });
const session = await api('POST', '/api/v1/checkout/sessions', { cartId: cart.id });
globalThis.fetch = async (url, init) => {  // the shop's server endpoint the quick start calls
  assert.equal(url, '/checkout/embed-token');
  assert.equal(init.method, 'POST');
  const token = await api('POST', '/api/v1/checkout-sessions/embed-token', { sessionId: session.id, origin: 'http://shop.test' });
  return new Response(JSON.stringify(token));
};
document.body.insertAdjacentHTML('beforeend', `<div id="checkout" data-session-id="${session.id}"></div>`);
await import('./embed.run.mjs');
const frame = () => document.querySelector('#checkout iframe');
for (let i = 0; i < 400 && !frame()?.src; i++) await new Promise((r) => setTimeout(r, 5));
console.log('framed', frame()?.src);
assert.ok(frame().src.startsWith(`${base}/s/${session.id}?embed=`), frame()?.src);
// The checkout (here: its messages) loads, then reports the order.
const say = (data) => window.dispatchEvent(new window.MessageEvent('message', {
  data: { sessionId: session.id, ...data }, origin: new URL(base).origin, source: frame().contentWindow }));
say({ type: 'kassa.ready' });
say({ type: 'kassa.completed', orderId: 'ord_1' });
assert.equal(document.getElementById('checkout').textContent, 'Thank you! Order ord_1');""",
    "webhooks": """
const { POST } = await import('./webhooks.run.mjs');
const sample = JSON.parse(process.env.KASSA_SAMPLE_DELIVERY);
const answer = await POST(new Request('http://shop.test/hooks', { method: 'POST', headers: sample.headers, body: sample.body }));
assert.equal(answer.status, 204);
const forged = await POST(new Request('http://shop.test/hooks', { method: 'POST', headers: sample.headers, body: sample.body + ' ' }));
assert.equal(forged.status, 400);
console.log('verified', sample.id);""",
    "react": """
const { root } = await import('../packages/react/test/dom.js');
const { createElement } = await import('react');
const { createRoot } = await import('react-dom/client');
const { kassa, CartTotal } = await import('./react.run.mjs');
const variantId = (await kassa.products.list({ limit: 1 })).data[0].variants[0].id;
const cart = await kassa.carts.create({ currency: 'EUR', lineItems: [{ variantId, quantity: 3 }] });
const reactRoot = createRoot(root);
reactRoot.render(createElement(CartTotal, { cartId: cart.id }));
for (let i = 0; i < 400 && !/items/.test(root.textContent); i++) await new Promise((r) => setTimeout(r, 5));
console.log('rendered:', root.textContent);
assert.match(root.textContent, /^3 items, 36.00 EUR$/);
reactRoot.unmount();""",
}


def sample_delivery(secret: str) -> dict[str, object]:
    from datetime import UTC, datetime

    from svix.webhooks import Webhook

    body = json.dumps({"id": "evt_quickstart", "type": "cart.abandoned", "version": "1",
                       "createdAt": datetime.now(UTC).isoformat(), "data": {"cartId": "cart_1", "sequence": 3,
                                                                            "recoveryUrl": None}})
    now = datetime.now(UTC)
    headers = {"webhook-id": "evt_quickstart", "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": Webhook(secret).sign("evt_quickstart", now, body)}
    return {"id": "evt_quickstart", "body": body, "headers": headers}


@pytest.mark.parametrize("package", OWN)
async def test_the_readme_quick_start_works_as_written(package: str, js_build: Path, js_tenant: Tenant,
                                                       run_node: RunNode) -> None:
    """The README's code, unchanged, type-checked and run with the environment it names."""
    source, language = quick_start(package)
    work = JS / ".build" / "quickstart"
    work.mkdir(parents=True, exist_ok=True)
    ts = work / f"{package}.{language}"
    ts.write_text(source)
    checked = subprocess.run(["node", str(TSC), "--noEmit", "--strict", "--module", "nodenext", "--target", "es2022",
                              "--jsx", "react-jsx", "--types", "node", "--skipLibCheck", str(ts)], cwd=JS,
                             capture_output=True, text=True, timeout=180)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # What the quick starts expect to find: a product, and shipping to Germany.
    await js_tenant.post("/api/v1/products", {"name": "Cup", "variants": [{"sku": "cup-1", "prices": {"EUR": 1200}}]})
    await js_tenant.post("/api/v1/shipping-methods", {"name": "DHL", "prices": {"EUR": 490}, "countries": ["DE"]})
    (work / f"{package}.run.mjs").write_text(
        subprocess.run([str(ESBUILD), str(ts), "--format=esm", "--jsx=automatic", "--log-level=error"], check=True,
                       capture_output=True, text=True).stdout)
    script = work / f"{package}.test.mjs"  # a node test file, so the harness reports it like the others
    script.write_text("import assert from 'node:assert/strict';\nimport { test } from 'node:test';\n"
                      f"test('quick start of {package}', async () => {{\n{DRIVERS[package]}\n}});\n")
    secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    output = await run_node(script, tenant=js_tenant, env={"KASSA_WEBHOOK_SECRET": secret,
                                                           "KASSA_SAMPLE_DELIVERY": json.dumps(sample_delivery(secret))})
    expected = {"js": "2 items, total", "embed": "framed http://127.0.0.1:", "webhooks": "win back cart_1",
                "react": "rendered: 3 items"}[package]
    assert expected in output and passed(output) == 1, output


def test_the_storefront_bundle_stays_within_8_kb(js_build: Path) -> None:
    spec = importlib.util.spec_from_file_location("js_bundle", ROOT / "bench" / "js_bundle.py")
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    sizes = bench.sizes()
    minified, gzipped = sizes["@kassa/js"]
    assert 1000 < gzipped <= 8 * 1024, sizes

