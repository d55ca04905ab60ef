"""The dashboard's files Kassa serves (services/dashboard/kassa_dashboard/static/, committed so the
service needs no Node) are exactly the build of sdk/js/packages/dashboard/src, whose types check, and
its English and German catalogs have the same messages."""

from __future__ import annotations

import json
import re
import subprocess

from tests.sdk_js.conftest import JS, _node

PACKAGE = JS / "packages" / "dashboard"


def test_the_served_files_are_the_build_of_the_source() -> None:
    done = subprocess.run([_node(), str(JS / "scripts" / "dashboard.mjs"), "--check"], cwd=JS, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"run ./dev gen and commit the result:\n{done.stdout}{done.stderr}"


def test_every_language_has_every_message() -> None:
    catalogs = {p.stem: json.loads(p.read_text()) for p in (PACKAGE / "src" / "locales").glob("*.json")}
    assert set(catalogs) >= {"en", "de"}
    for name, catalog in catalogs.items():
        assert set(catalog) == set(catalogs["en"]), (name, set(catalog) ^ set(catalogs["en"]))
        for key, text in catalog.items():  # the same placeholders as the English message
            assert sorted(re.findall(r"\{(\w+)\}", text)) == sorted(
                re.findall(r"\{(\w+)\}", catalogs["en"][key])), (name, key)
