"""No import cycles in any package: the shared ones (the contract, the platform, the promotions core),
the services and the `kassa` command.

Every import counts, including one inside a function or under TYPE_CHECKING: such an import only
hides a cycle. A type the platform needs from a module that would close a cycle is a Protocol
where it is used (`kassa_platform.metrics.Runtime`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.imports import cycles, import_graph

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("folder,package", [("shared/contract", "kassa_contract"), ("shared/platform", "kassa_platform"),
                                            ("shared/promotions", "kassa_promotions"), ("services/cart", "kassa_cart"),
                                            ("services/checkout", "kassa_checkout"),
                                            ("services/webhooks", "kassa_webhooks"), ("src", "kassa")])
def test_no_import_cycles(folder: str, package: str) -> None:
    graph = import_graph(ROOT / folder, package)
    assert len(graph) > 5  # the package was read
    assert cycles(graph) == []


def test_a_cycle_is_found() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
