"""The SDK as a package: strict typing of the SDK and its examples, and the built wheel installed into a
fresh virtual environment (with nothing else of the repository) running the README's quick start and
the examples against a real `kassa serve`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.support.cli import serving

REPO = Path(__file__).resolve().parents[2]
SDK = REPO / "sdk" / "python"


def _uv() -> str:
    found = shutil.which("uv") or str(REPO / ".kassa" / "tools" / "bin" / "uv")
    if not Path(found).exists():
        if IN_CI:
            pytest.fail("uv is needed to build the SDK (./dev installs it)")
        pytest.skip("uv is not installed (./dev installs it)")
    return found


def test_mypy_strict_passes_on_the_sdk_and_its_examples() -> None:
    done = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "src/kassa_sdk", "examples"],
                          cwd=SDK, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def quick_start() -> str:
    """The first Python block of the SDK README's "Quick start" section."""
    text = (SDK / "README.md").read_text()
    section = text.split("## Quick start", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block, "the README's quick start has a python block"
    code = block.group(1)
    assert len(code.strip().splitlines()) <= 10, "the quick start is ten lines at most"
    return code


@pytest.mark.slow
def test_the_wheel_installs_alone_and_runs_the_quick_start_against_kassa_serve(tmp_path: Path) -> None:
    uv = _uv()
    dist = tmp_path / "dist"
    env = {**os.environ, "UV_NO_PROGRESS": "1"}
    for package in ("kassa-contract", "kassa-sdk"):
        subprocess.run([uv, "build", "--package", package, "--out-dir", str(dist), "--quiet"], cwd=REPO, env=env,
                       check=True, timeout=300)
    wheels = sorted(dist.glob("*.whl"))
    assert [w.name.split("-")[0] for w in wheels] == ["kassa_contract", "kassa_sdk"]
    assert sorted(p.name.split("-")[0] for p in dist.glob("*.tar.gz")) == ["kassa_contract", "kassa_sdk"]
    with zipfile.ZipFile(next(w for w in wheels if w.name.startswith("kassa_sdk"))) as wheel:
        names = wheel.namelist()
        metadata = wheel.read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "kassa_sdk/py.typed" in names and "kassa_sdk/webhooks.py" in names
    requires = sorted(line.split(": ", 1)[1] for line in metadata.splitlines() if line.startswith("Requires-Dist"))
    assert [r.split(">")[0].split("<")[0].strip() for r in requires] == ["httpx", "kassa-contract"], requires
    assert not any("file:" in r or "@" in r for r in requires), requires  # nothing that points into this repository

    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], env=env, check=True, timeout=120)
    python = venv / "bin" / "python"
    # The dependencies at the versions the repository locks: found in uv's cache, else in the package registry.
    pins = tmp_path / "pins.txt"
    pins.write_text("".join(f"{name}=={version(name)}\n" for name in
                            ("httpx", "httpcore", "msgspec", "anyio", "idna", "certifi", "h11", "sniffio")))
    install = [uv, "pip", "install", "--quiet", "--python", str(python), "--constraint", str(pins), *map(str, wheels)]
    if subprocess.run([*install, "--offline"], env=env, capture_output=True, timeout=300).returncode != 0:
        subprocess.run(install, env=env, check=True, timeout=300)
    alone = subprocess.run([str(python), "-c", "import kassa_sdk, kassa_contract\n"
                            "try:\n import kassa_platform\nexcept ImportError: print('alone')"],
                           capture_output=True, text=True, timeout=60)
    assert alone.stdout.strip() == "alone", alone.stderr

    with serving(cwd=tmp_path, timeout=120) as (base, _):  # a first start migrates and makes the demo app
        demo = dict(line.split("=", 1) for line in (tmp_path / ".kassa" / "demo.env").read_text().split())
        run_env = {**os.environ, "KASSA_API_KEY": demo["KASSA_DEMO_SECRET_KEY"], "KASSA_BASE_URL": base,
                   "KASSA_VARIANT_ID": demo["KASSA_DEMO_VARIANT_ID"]}
        run_env.pop("PYTHONPATH", None)
        (tmp_path / "quickstart.py").write_text(quick_start())
        done = subprocess.run([str(python), "quickstart.py"], cwd=tmp_path, env=run_env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert re.fullmatch(rf"\d+ EUR {re.escape(base)}/s/cs_\w+", done.stdout.strip()), done.stdout
        out = {}
        for example in ("checkout_flow.py", "async_parallel.py"):
            ran = subprocess.run([str(python), str(SDK / "examples" / example)], cwd=tmp_path, env=run_env,
                                 capture_output=True, text=True, timeout=60)
            assert ran.returncode == 0, f"{example}:\n{ran.stdout}{ran.stderr}"
            out[example] = ran.stdout
        assert "as expected: cart_not_found" in out["checkout_flow.py"]
        assert "cart totals:" in out["async_parallel.py"]
