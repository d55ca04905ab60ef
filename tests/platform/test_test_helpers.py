"""Shared test helpers live in tests/support: test card numbers and the browser set-up are written once."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
CARD_NUMBER = re.compile(r"4242 ?4242|4000 ?0000")


def _modules() -> list[Path]:
    found = sorted(TESTS.rglob("*.py"))
    assert len(found) > 100  # the tests were read
    return found


def test_card_numbers_are_written_only_in_tests_support() -> None:
    """tests/support/cards.py (the test provider's table) and stripe_shop.py (Stripe's) name them."""
    found = [f"{path.relative_to(TESTS)}:{n}" for path in _modules() if "support" not in path.parts
             for n, line in enumerate(path.read_text().splitlines(), 1) if CARD_NUMBER.search(line)]
    assert found == []


def test_no_module_imports_the_browser_tests_conftest() -> None:
    """The browser fixtures are tests/support/browser.py's: a conftest imports them from there."""
    found = [str(path.relative_to(TESTS)) for path in _modules()
             if re.search(r"^from tests\.browser\.conftest import", path.read_text(), re.MULTILINE)]
    assert found == []
