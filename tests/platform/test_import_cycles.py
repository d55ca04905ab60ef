"""No import cycles in the shared packages: the contract, the platform and the promotions core.

Every import counts, including one inside a function or under TYPE_CHECKING: such an import only
hides a cycle. A type the platform needs from a module that would close a cycle is a Protocol
where it is used (`kassa_platform.metrics.Runtime`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.imports import cycles, import_graph

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.mark.parametrize("folder,package", [("contract", "kassa_contract"), ("platform", "kassa_platform"),
                                            ("promotions", "kassa_promotions")])
def test_no_import_cycles(folder: str, package: str) -> None:
    graph = import_graph(SHARED / folder, package)
    assert len(graph) > 5  # the package was read
    assert cycles(graph) == []


def test_a_cycle_is_found() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
