"""What the end-to-end tests need beyond PostgreSQL and Redis: the gateway (nginx) and docker-compose."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import _unavailable
from tests.e2e.cluster import nginx_binary


@pytest.fixture(scope="session")
def nginx() -> str:
    """The nginx binary (./dev test installs Debian's package); skipped without it, failed under CI=true."""
    binary = nginx_binary()
    if binary is None:
        _unavailable("nginx", FileNotFoundError("nginx is not on the PATH (apt-get install nginx)"))
    return binary  # type: ignore[return-value]


@pytest.fixture(scope="session")
def docker_compose() -> str:
    """docker-compose, which checks compose.yaml (./dev test installs Debian's package; no engine needed)."""
    binary = shutil.which("docker-compose")
    if binary is None:
        _unavailable("docker-compose", FileNotFoundError("docker-compose is not on the PATH (apt-get install "
                                                         "docker-compose)"))
    return binary  # type: ignore[return-value]
