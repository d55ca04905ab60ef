"""`./dev release --dry-run` (sdk/release.py) cannot rot: the packages' metadata is checked on every
run, and the whole dry run — wheels and sdists through `twine check --strict`, npm tarballs through
`npm publish --dry-run` and @arethetypeswrong/cli — runs against the packages as built (about 20 s)."""

from __future__ import annotations

import runpy
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from kassa_contract.versions import LATEST_VERSION

from tests.sdk_js.conftest import JS

ROOT = JS.parents[1]
RELEASE = ROOT / "sdk" / "release.py"


def test_the_packages_metadata_is_ready_to_publish() -> None:
    release = runpy.run_path(str(RELEASE))
    versions = release["check_metadata"]()
    assert set(versions) == {"kassa-contract", "kassa-sdk", "@kassa/embed", "@kassa/js", "@kassa/react",
                             "@kassa/webhooks"}
    assert all(v.count(".") == 2 for v in versions.values()), versions
    # A package whose changelog forgot this release fails the check.
    folder = ROOT / "sdk" / "python"
    assert LATEST_VERSION in release["changelog_top"](folder)[1]


def test_without_dry_run_it_refuses_to_publish() -> None:
    done = subprocess.run([sys.executable, str(RELEASE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--dry-run" in done.stderr


@pytest.mark.slow
def test_release_dry_run_builds_and_checks_every_package(js_build: Path, tmp_path: Path) -> None:
    # The JS packages as the run built them (js_build): rebuilding here would empty their dist/
    # under the feet of the other tests.
    done = subprocess.run([sys.executable, str(RELEASE), "--dry-run", "--no-js-build", "--out-dir", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASSED" in done.stdout and "nothing was uploaded" in done.stdout
    names = sorted(p.name for p in tmp_path.iterdir())
    assert [n.split("-")[0] for n in names if n.endswith(".whl")] == ["kassa_contract", "kassa_sdk"]
    assert len([n for n in names if n.endswith(".tar.gz")]) == 2 and len([n for n in names if n.endswith(".tgz")]) == 4
    [wheel] = tmp_path.glob("kassa_sdk-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        version = zf.read("kassa_sdk/_api_version.py").decode()
    assert f'API_VERSION: Final[ApiVersion] = "{LATEST_VERSION}"' in version
    [js] = tmp_path.glob("kassa-js-*.tgz")
    with tarfile.open(js) as tar:
        assert {"package/dist/index.d.cts", "package/dist/server.d.cts", "package/LICENSE"} <= set(tar.getnames())
