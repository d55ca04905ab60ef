"""What the end-to-end tests need beyond PostgreSQL and Redis: the gateway (Caddy)."""

from __future__ import annotations

import pytest

from tests.conftest import _unavailable
from tests.e2e.cluster import caddy_binary


@pytest.fixture(scope="session")
def caddy() -> str:
    """The Caddy binary (./dev test installs Debian's package); skipped without it, failed under CI=true."""
    binary = caddy_binary()
    if binary is None:
        _unavailable("Caddy", FileNotFoundError("caddy is not on the PATH (apt-get install caddy)"))
    return binary  # type: ignore[return-value]
