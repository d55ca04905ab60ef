"""Bundle sizes of the JavaScript packages: each entry point bundled by esbuild for a browser,
minified, then gzipped (level 9), as a storefront's bundler would ship it. The storefront entry
point of @kassa/js must stay within 8 KB (minified + gzip); the run exits 1 beyond it.

    ./dev bench js_bundle
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

JS = Path(__file__).resolve().parents[1] / "sdk" / "js"
BUDGETS = {"@kassa/js": 8 * 1024}  # the storefront entry point


def entry_points() -> list[tuple[str, Path]]:
    found = []
    for manifest in sorted(JS.glob("packages/*/package.json")):
        package = json.loads(manifest.read_text())
        for entry, target in package.get("exports", {}).items():
            if not isinstance(target, dict) or "import" not in target:
                continue
            name = package["name"] + ("" if entry == "." else entry[1:])
            source = manifest.parent / "src" / ((entry[2:] if entry != "." else "index") + ".ts")
            if source.exists():
                found.append((name, source))
    return found


def bundle(source: Path) -> bytes:
    """The minified browser bundle of one entry point, its peer dependencies (React) left out."""
    package = json.loads((source.parents[1] / "package.json").read_text())
    external = [f"--external:{d}" for d in {**package.get("peerDependencies", {}), **package.get("dependencies", {})}]
    done = subprocess.run([str(JS / "node_modules" / ".bin" / "esbuild"), str(source), "--bundle", "--minify",
                           "--format=esm", "--platform=browser", "--target=es2022", "--log-level=error", *external],
                          capture_output=True, check=True, cwd=JS)
    return done.stdout


def sizes() -> dict[str, tuple[int, int]]:
    """Entry point -> (minified bytes, minified + gzip bytes)."""
    out = {}
    for name, source in entry_points():
        code = bundle(source)
        out[name] = (len(code), len(gzip.compress(code, compresslevel=9, mtime=0)))
    return out


def main() -> int:
    over = []
    print(f"{'entry point':<28} {'minified':>10} {'min+gzip':>10}  budget")
    for name, (minified, gzipped) in sizes().items():
        budget = BUDGETS.get(name)
        if budget is not None and gzipped > budget:
            over.append(name)
        print(f"{name:<28} {minified:>9,}B {gzipped:>9,}B  {f'{budget:,}B' if budget else ''}")
    if over:
        print("over budget: " + ", ".join(over))
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
