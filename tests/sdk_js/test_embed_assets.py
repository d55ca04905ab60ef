"""The embed script Kassa serves (services/checkout/kassa_checkout/embed_assets/, committed so the
service needs no Node) is exactly @kassa/embed's browser build of the current source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.sdk_js.conftest import JS

PACKAGE = JS / "packages" / "embed"
MANIFEST = json.loads((PACKAGE / "package.json").read_text())
BUILDS = [b["outfile"] for b in MANIFEST["kassa"]["browserBuilds"]]


@pytest.mark.parametrize("outfile", BUILDS)
def test_the_served_files_are_the_build_of_the_source(outfile: str, js_build: Path) -> None:
    built = (PACKAGE / outfile).read_bytes()  # js_build rebuilt dist/ from the source
    served = (PACKAGE / MANIFEST["kassa"]["servedBy"]) / Path(outfile).name
    assert served.read_bytes() == built, (
        f"{served} is not the build of sdk/js/packages/embed/src: run `npm run assets -w @kassa/embed` in sdk/js "
        "and commit the result")
