"""Build the SDK packages and check them the way their registries' own tools do, without publishing.

    ./dev release --dry-run [--out-dir DIR]     # what maintainers run (docs/releasing.md)
    uv run python sdk/release.py --dry-run      # the same, once ./dev has installed everything

1. Metadata: versions agree (pyproject, `__version__`, the JS packages' dependencies on each other),
   each package has its licence (a copy of sdk/LICENSE) and a CHANGELOG.md whose top entry is its
   version and names the API version it sends (`kassa_contract.versions.LATEST_VERSION`).
2. Python: `uv build` makes the wheel and the sdist of kassa-contract and kassa-sdk; `twine check
   --strict` reads them as PyPI will; their contents and metadata are checked.
3. npm: the workspace is built, `npm pack` makes each package's tarball, `npm publish --dry-run`
   runs on the tarball, and @arethetypeswrong/cli (`attw`) checks that its types resolve for ESM and
   CommonJS consumers (node16 and bundler resolution).

Publishing itself needs the registries' credentials and is not done here: without `--dry-run` this
refuses. Nothing is uploaded; `npm publish` only ever runs with `--dry-run`. The artifacts stay in
the output folder (default `dist/release/`) to look at.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
import zipfile
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path
from urllib.parse import urlsplit

from kassa_contract.versions import LATEST_VERSION
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
JS = REPO / "sdk" / "js"
LICENSE = REPO / "sdk" / "LICENSE"
ATTW = JS / "node_modules" / ".bin" / "attw"
# Hosts a package's URLs may name: the registries' pages of the package itself (no invented hosts).
URL_HOSTS = {"pypi.org", "www.npmjs.com"}


@dataclass(frozen=True)
class PyPackage:
    name: str
    folder: Path
    module: str  # the import package in the wheel


PY_PACKAGES = (PyPackage("kassa-contract", REPO / "shared" / "contract", "kassa_contract"),
               PyPackage("kassa-sdk", REPO / "sdk" / "python", "kassa_sdk"))
JS_PACKAGES = ("embed", "js", "react", "webhooks")


class Failed(Exception):
    """A check that did not pass: the release is not ready."""


def uv() -> str:
    found = shutil.which("uv") or str(REPO / ".kassa" / "tools" / "bin" / "uv")
    if not Path(found).exists():
        raise Failed("uv is not installed (./dev installs it)")
    return found


def run(args: list[str], cwd: Path = REPO, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise Failed(f"`{' '.join(map(str, args))}` failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def say(message: str) -> None:
    print(message, flush=True)


# ---------------------------------------------------------------- 1. metadata


def changelog_top(folder: Path) -> tuple[str, str]:
    """The version of CHANGELOG.md's top release entry and that entry's text."""
    path = folder / "CHANGELOG.md"
    if not path.exists():
        raise Failed(f"{path.relative_to(REPO)} is missing")
    entries = re.split(r"^## ", path.read_text(), flags=re.M)[1:]
    releases = [e for e in entries if not e.startswith("[Unreleased]")]
    if not releases:
        raise Failed(f"{path.relative_to(REPO)} has no release entry")
    head = re.match(r"\[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}\n", releases[0])
    if not head:
        raise Failed(f"{path.relative_to(REPO)}: the top entry is not `## [X.Y.Z] - YYYY-MM-DD`")
    return head.group(1), releases[0]


def check_package_files(folder: Path, version: str) -> None:
    where = folder.relative_to(REPO)
    if not (folder / "LICENSE").exists() or (folder / "LICENSE").read_bytes() != LICENSE.read_bytes():
        raise Failed(f"{where}/LICENSE is not a copy of sdk/LICENSE (cp sdk/LICENSE {where}/)")
    if not (folder / "README.md").exists():
        raise Failed(f"{where}/README.md is missing")
    top, entry = changelog_top(folder)
    if top != version:
        raise Failed(f"{where}/CHANGELOG.md's top entry is {top}, the package is {version}")
    if LATEST_VERSION not in entry:
        raise Failed(f"{where}/CHANGELOG.md's entry for {version} does not name the API version {LATEST_VERSION}")


def check_url(where: str, url: str) -> None:
    if urlsplit(url).scheme != "https" or urlsplit(url).hostname not in URL_HOSTS:
        raise Failed(f"{where}: {url} is not a page of the package on its registry ({', '.join(sorted(URL_HOSTS))})")


def check_metadata() -> dict[str, str]:
    """Every package's metadata; the version of each (by name)."""
    versions: dict[str, str] = {}
    for pkg in PY_PACKAGES:
        project = tomllib.loads((pkg.folder / "pyproject.toml").read_text())["project"]
        versions[pkg.name] = version = project["version"]
        for field in ("description", "readme", "license", "license-files", "authors", "keywords", "classifiers",
                      "urls", "requires-python"):
            if not project.get(field):
                raise Failed(f"{pkg.name}: pyproject.toml has no `{field}`")
        if "Typing :: Typed" not in project["classifiers"] or not (
                pkg.folder / ("src" if (pkg.folder / "src").exists() else "") / pkg.module / "py.typed").exists():
            raise Failed(f"{pkg.name}: typed packages ship py.typed and say `Typing :: Typed`")
        for label, url in project["urls"].items():
            check_url(f"{pkg.name} [project.urls] {label}", url)
        check_package_files(pkg.folder, version)
    sdk_version = re.search(r'__version__ = "([^"]+)"', (REPO / "sdk/python/src/kassa_sdk/_version.py").read_text())
    if not sdk_version or sdk_version.group(1) != versions["kassa-sdk"]:
        raise Failed("kassa_sdk/_version.py's __version__ is not pyproject.toml's version")
    sdk = tomllib.loads((REPO / "sdk/python/pyproject.toml").read_text())["project"]
    contract = next(Requirement(r) for r in sdk["dependencies"] if Requirement(r).name == "kassa-contract")
    if versions["kassa-contract"] not in contract.specifier:
        raise Failed(f"kassa-sdk requires {contract}, which kassa-contract {versions['kassa-contract']} is not")

    manifests = {name: json.loads((JS / "packages" / name / "package.json").read_text()) for name in JS_PACKAGES}
    by_name = {m["name"]: m["version"] for m in manifests.values()}
    for name, m in manifests.items():
        where = f"{m['name']} (sdk/js/packages/{name}/package.json)"
        versions[m["name"]] = m["version"]
        if m.get("private"):
            raise Failed(f"{where} is private")
        for field in ("version", "description", "license", "author", "keywords", "main", "types", "files", "exports",
                      "engines"):
            if not m.get(field):
                raise Failed(f"{where} has no `{field}`")
        if "sideEffects" not in m:
            raise Failed(f"{where} does not say `sideEffects`")
        if m.get("publishConfig", {}).get("access") != "public":
            raise Failed(f"{where}: a scoped package is published with publishConfig.access = public")
        if "homepage" in m:
            check_url(f"{where} homepage", m["homepage"])
        if not {"dist", "README.md", "CHANGELOG.md", "LICENSE"} <= set(m["files"]):
            raise Failed(f"{where}: `files` must list dist, README.md, CHANGELOG.md and LICENSE")
        for entry, target in m["exports"].items():
            if isinstance(target, dict) and not all(
                    isinstance(target.get(c), dict) and target[c].get("types") and target[c].get("default")
                    for c in ("import", "require")):
                raise Failed(f"{where}: exports[{entry!r}] needs `types` and `default` under both import and require")
        for dep, wanted in m.get("dependencies", {}).items():
            if dep in by_name and wanted != by_name[dep]:
                raise Failed(f"{where} depends on {dep} {wanted}, the workspace has {by_name[dep]}")
        check_package_files(JS / "packages" / name, m["version"])
    return versions


# ---------------------------------------------------------------- 2. Python


def metadata_of(wheel: Path) -> tuple[list[str], dict[str, list[str]]]:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        text = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    message = Parser().parsestr(text)
    fields: dict[str, list[str]] = {}
    for key, value in message.items():
        fields.setdefault(key, []).append(value)
    return names, fields


def build_python(out: Path) -> list[Path]:
    env = {**os.environ, "UV_NO_PROGRESS": "1"}
    for pkg in PY_PACKAGES:
        run([uv(), "build", "--package", pkg.name, "--out-dir", str(out), "--quiet"], env=env)
    artifacts = sorted(out.glob("*.whl")) + sorted(out.glob("*.tar.gz"))
    if len(artifacts) != 2 * len(PY_PACKAGES):
        raise Failed(f"expected a wheel and an sdist per package, got {[a.name for a in artifacts]}")
    say(run([sys.executable, "-m", "twine", "--no-color", "check", "--strict", *map(str, artifacts)],
            env={**os.environ, "NO_COLOR": "1"}).strip())
    for pkg in PY_PACKAGES:
        [wheel] = out.glob(f"{pkg.module}-*.whl")
        names, meta = metadata_of(wheel)
        for wanted in (f"{pkg.module}/py.typed", next((n for n in names if n.endswith(".dist-info/licenses/LICENSE")),
                                                      "<dist-info>/licenses/LICENSE")):
            if wanted not in names:
                raise Failed(f"{wheel.name} has no {wanted}")
        for key in ("License-Expression", "Author", "Keywords", "Project-URL", "Requires-Python", "Description-Content-Type"):
            if key not in meta:
                raise Failed(f"{wheel.name}: METADATA has no {key}")
        if any("file:" in r or " @ " in r for r in meta.get("Requires-Dist", [])):
            raise Failed(f"{wheel.name} requires something inside this repository: {meta['Requires-Dist']}")
        [sdist] = out.glob(f"{pkg.module}-*.tar.gz")
        with tarfile.open(sdist) as tar:
            members = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
        for wanted in ("LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml"):
            if wanted not in members:
                raise Failed(f"{sdist.name} has no {wanted}")
    return artifacts


# ---------------------------------------------------------------- 3. npm


def build_js(out: Path, *, build: bool = True) -> list[Path]:
    if shutil.which("npm") is None or not ATTW.exists():
        raise Failed("npm and sdk/js/node_modules are needed (./dev installs them)")
    if build:
        run(["npm", "run", "--silent", "build", "--workspaces"], cwd=JS)
    # Belt and braces: npm reads this as --dry-run too, so nothing below can publish.
    env = {**os.environ, "npm_config_dry_run": "true", "NO_COLOR": "1", "FORCE_COLOR": "0"}
    tarballs = []
    for name in JS_PACKAGES:
        folder = JS / "packages" / name
        manifest = json.loads((folder / "package.json").read_text())
        [packed] = json.loads(run(["npm", "pack", "--json", "--pack-destination", str(out)], cwd=folder))
        tarball = out / packed["filename"]
        with tarfile.open(tarball) as tar:
            files = set(tar.getnames())
        targets = [t for target in manifest["exports"].values()
                   for t in ([target] if isinstance(target, str) else
                             [v for cond in target.values() for v in cond.values()])]
        for wanted in ["package.json", "LICENSE", "CHANGELOG.md", "README.md", *targets]:
            if "package/" + wanted.removeprefix("./") not in files:
                raise Failed(f"{tarball.name} has no {wanted}")
        if any("/test/" in f or f.endswith(".tsbuildinfo") for f in files):
            raise Failed(f"{tarball.name} carries test or build files")
        run(["npm", "publish", "--dry-run", str(tarball)], cwd=out, env=env)
        # Entry points that are plain files, not modules (@kassa/embed's <script> build), have no types.
        scripts = [e for e, t in manifest["exports"].items() if isinstance(t, str) and not t.endswith(".json")]
        attw = [str(ATTW), str(tarball), "--profile", "node16", "--format", "table-flipped"]
        run(attw + (["--exclude-entrypoints", *scripts] if scripts else []), cwd=out, env=env)
        say(f"{manifest['name']}@{manifest['version']}: npm publish --dry-run and attw (node16, bundler) pass")
        tarballs.append(tarball)
    return tarballs


# ----------------------------------------------------------------


def release(out: Path, *, js_build: bool = True) -> list[Path]:
    """Builds and checks every package into `out` (emptied first); the artifacts. Raises Failed.
    `js_build=False` packs the JS packages' dist/ as it is (the tests, which build it once per run)."""
    started = time.monotonic()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    versions = check_metadata()
    say("metadata: " + ", ".join(f"{name} {version}" for name, version in versions.items()))
    artifacts = build_python(out) + build_js(out, build=js_build)
    for path in artifacts:
        say(f"  {path.name} ({path.stat().st_size // 1024} KiB)")
    say(f"ready to publish (dry run: nothing was uploaded) in {time.monotonic() - started:.1f} s: {out}")
    return artifacts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="build and check everything, publish nothing")
    parser.add_argument("--out-dir", type=Path, default=REPO / "dist" / "release")
    parser.add_argument("--no-js-build", action="store_true", help="pack the JS packages' dist/ as already built")
    args = parser.parse_args()
    if not args.dry_run:
        print("Publishing needs the registries' credentials and is not done by this script: run it with "
              "--dry-run to build and check the packages (docs/releasing.md).", file=sys.stderr)
        return 2
    try:
        release(args.out_dir.resolve(), js_build=not args.no_js_build)
    except Failed as failure:
        print(f"release check failed: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
