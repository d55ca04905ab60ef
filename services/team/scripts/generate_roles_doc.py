"""Write the role table in `docs/team.md` from kassa_platform.roles (the one table in the code).

    python services/team/scripts/generate_roles_doc.py          # rewrite the table
    python services/team/scripts/generate_roles_doc.py --check  # exit 1 if it is out of date

The table sits between `<!-- roles:begin -->` and `<!-- roles:end -->`; `./dev gen --check` (and so
the test suite) fails while the page and the code disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path

from kassa_platform.doc_sections import write_section
from kassa_platform.roles import role_table

TARGET = Path(__file__).resolve().parents[3] / "docs" / "team.md"


def main() -> int:
    return write_section(TARGET, "roles", role_table(), "services/team/scripts/generate_roles_doc.py", sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
