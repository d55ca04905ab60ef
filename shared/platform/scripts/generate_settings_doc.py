"""Write the table of settings in `docs/operator.md` ("Configuration") from kassa_platform.settings.

    python shared/platform/scripts/generate_settings_doc.py          # rewrite the table
    python shared/platform/scripts/generate_settings_doc.py --check  # exit 1 if it is out of date

The table sits between the markers `<!-- settings:begin -->` and `<!-- settings:end -->`; the tests
run `--check`, so a setting added to the module fails the build until the page shows it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from kassa_platform.doc_sections import write_section
from kassa_platform.settings import settings_table

TARGET = Path(__file__).resolve().parents[3] / "docs" / "operator.md"


def main() -> int:
    return write_section(TARGET, "settings", settings_table(), "shared/platform/scripts/generate_settings_doc.py", sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
