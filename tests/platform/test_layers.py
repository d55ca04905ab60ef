"""Only the rows layers ask which database they are on (docs/architecture.md, "Layers").

A service's domain modules call its `*_rows.py` modules and the helpers of `kassa_platform.rows`;
they never branch on the direct asyncpg pool or on the dialect themselves."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What branching on the database looks like: the direct pool, the PostgreSQL test, the dialect's name.
ASKS_THE_DATABASE = re.compile(r"db.direct|is_postgres|\.direct\b|dialect\.name")


def test_no_module_but_the_rows_layers_branches_on_the_database() -> None:
    found = []
    modules = sorted((ROOT / "services").rglob("*.py"))
    assert len(modules) > 50  # the services were read
    for path in modules:
        if path.name.endswith("_rows.py") or "migrations" in path.parts:  # migrations: DDL per dialect
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if ASKS_THE_DATABASE.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == []


def test_the_pattern_finds_what_it_is_for() -> None:
    for line in ("if self.db.direct is not None:", "postgres = is_postgres(conn)",
                 "from kassa_platform.direct import DirectStatement", 'if conn.dialect.name == "postgresql":'):
        assert ASKS_THE_DATABASE.search(line), line
