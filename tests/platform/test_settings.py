"""The settings module is the one reader of the environment: typed fields, a value that does not parse
stops the process naming its variable, and the operator's table is generated from the fields."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from kassa_platform.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]
# Process plumbing, not settings: `kassa serve` hands its worker processes their service and the
# metrics directory (prometheus_client's own variable), and its chosen public address.
PLUMBING = {("src/kassa/serving.py", "SERVICE_ENV"), ("src/kassa/serving.py", "MULTIPROC_ENV"),
            ("shared/platform/kassa_platform/metrics.py", "MULTIPROC_ENV"),
            ("src/kassa/cli.py", "KASSA_PUBLIC_BASE_URL")}


def test_variables_become_typed_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KASSA_WEBHOOKS_MAX_IN_FLIGHT", "64")
    monkeypatch.setenv("KASSA_ACCESS_LOG", "yes")
    monkeypatch.setenv("KASSA_LOG_FORMAT", "text")
    monkeypatch.setenv("KASSA_CART_TIMEOUT_SECONDS", "2.5")
    monkeypatch.setenv("KASSA_SERVICE_TOKEN", "t" * 32)
    monkeypatch.setenv("KASSA_SIGNING_KEY", "k" * 32)
    settings = Settings.from_env(data_dir=Path("/nonexistent-kassa"))
    assert (settings.webhooks_max_in_flight, settings.access_log, settings.log_json, settings.cart_timeout_seconds) == (
        64, True, False, 2.5)
    assert Settings.from_env(webhooks_max_in_flight=8).webhooks_max_in_flight == 8  # overrides win
    monkeypatch.setenv("KASSA_TRUSTED_PROXIES", " 10.0.0.0/8, fd00::1 ")
    assert Settings.from_env().trusted_proxies == "10.0.0.0/8,fd00::1"


@pytest.mark.parametrize("variable,value", [("KASSA_DB_POOL_SIZE", "twenty"), ("KASSA_ACCESS_LOG", "maybe"),
                                            ("KASSA_LOG_FORMAT", "xml"), ("KASSA_STRIPE_TIMEOUT_SECONDS", "1s"),
                                            ("KASSA_LOG_LEVEL", "LOUD"), ("KASSA_TRUSTED_PROXIES", "gateway"),
                                            ("KASSA_TRUSTED_PROXIES", "10.0.0.0/33")])
def test_a_value_that_does_not_parse_names_its_variable(monkeypatch: pytest.MonkeyPatch, variable: str,
                                                        value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env()


def test_the_command_stops_at_start_naming_the_variable(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "kassa.cli", "migrate"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "KASSA_MAX_BODY_BYTES": "1MB"})
    assert done.returncode == 2 and "KASSA_MAX_BODY_BYTES='1MB' is not an integer" in done.stderr, done.stderr


def test_the_operators_table_is_generated_from_the_fields() -> None:
    script = ROOT / "shared" / "platform" / "scripts" / "generate_settings_doc.py"
    done = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_no_product_code_reads_the_environment_but_the_settings() -> None:
    found = []
    for folder in ("shared", "services", "src"):
        for path in (ROOT / folder).rglob("*.py"):
            relative = str(path.relative_to(ROOT))
            if relative.endswith("kassa_platform/settings.py") or "/migrations/" in relative or "/scripts/" in relative:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if (isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv")
                        and isinstance(node.value, ast.Name) and node.value.id == "os"):
                    found.append((relative, node.lineno))
    allowed = {relative for relative, _ in PLUMBING}
    assert [f for f in found if f[0] not in allowed] == []
