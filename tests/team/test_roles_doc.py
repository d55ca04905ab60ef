"""docs/team.md's role table is the code's (kassa_platform.roles), and every role is made of scopes
that exist."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kassa_contract.api_keys import SCOPES
from kassa_platform.roles import APPLICATION_ROLES, TEAM_PERMISSIONS, WORKSPACE_ROLES, role_table

ROOT = Path(__file__).resolve().parents[2]


def test_the_page_shows_the_table_of_the_code() -> None:
    script = ROOT / "services" / "team" / "scripts" / "generate_roles_doc.py"
    done = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert role_table() in (ROOT / "docs" / "team.md").read_text()


def test_every_role_is_made_of_known_scopes_and_permissions() -> None:
    for role in [*WORKSPACE_ROLES.values(), *APPLICATION_ROLES.values()]:
        assert role.scopes <= SCOPES, role.name
        assert role.permissions <= set(TEAM_PERMISSIONS), role.name
    # Application roles never reach the team; only owners manage owners.
    assert not any(r.permissions for r in APPLICATION_ROLES.values())
    assert [n for n, r in WORKSPACE_ROLES.items() if "owners:manage" in r.permissions] == ["owner"]
