"""What the end-to-end tests need beyond PostgreSQL and Redis: the gateway (nginx), docker-compose, and a
distributed deployment (cart and checkout processes behind the gateway) on a database of its own."""

from __future__ import annotations

import secrets
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import _unavailable, free_port, fresh_database
from tests.e2e.cluster import Gateway, Kassa, ProcessEnv, nginx_binary
from tests.support.browser import browser  # noqa: F401 - the fixture (test_embedded_distributed.py)


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


@pytest.fixture
async def fresh_pg() -> AsyncIterator[str]:
    """An empty database of its own (not migrated: `kassa migrate` does that), dropped at the end."""
    async with fresh_database(f"kassa_e2e_dist_{uuid.uuid4().hex[:10]}") as url:
        yield url


@pytest.fixture
def deployment(tmp_path: Path, fresh_pg: str, nginx: str) -> Iterator[dict]:
    """Migrated by the CLI; an app + secret key from the CLI; the two service processes ready."""
    shared = {"KASSA_DATABASE_URL": fresh_pg, "KASSA_SERVICE_TOKEN": secrets.token_urlsafe(32),
              "KASSA_SIGNING_KEY": secrets.token_urlsafe(32), "KASSA_LOG_FORMAT": "text"}

    deployment_env = ProcessEnv(tmp_path, shared)
    env_for, kassa = deployment_env.env_for, deployment_env.kassa

    assert "migrations applied" in kassa("migrate")
    cart_port, checkout_port = free_port(), free_port()
    cart = Kassa.serve("cart", cart_port, env_for("cart"), tmp_path / "cart.log")
    checkout = Kassa.serve("checkout", checkout_port,
                           env_for("checkout", KASSA_CART_URL=f"http://127.0.0.1:{cart_port}"), tmp_path / "checkout.log")
    # One base URL in front of both, as clients of a distributed deployment use it: the real gateway.
    gateway = Gateway(free_port(), {"cart": [f"127.0.0.1:{cart_port}"], "checkout": [f"127.0.0.1:{checkout_port}"],
                                    "webhooks": [f"127.0.0.1:{free_port()}"]}, tmp_path)
    try:
        cart.start()  # they boot while the CLI makes the application and its key
        checkout.start()
        gateway.start()

        def app_and_key() -> tuple[str, str]:
            app_id = kassa("apps", "create", "Distributed shop", "--env", "test")
            return app_id, kassa("keys", "create", app_id, "--scopes", "*")

        with ThreadPoolExecutor(1) as pool:
            made = pool.submit(app_and_key)
            cart.wait_ready()
            checkout.wait_ready()
            gateway.wait_ready()
            app_id, key = made.result()
        assert app_id.startswith("app_") and key.startswith("sk_test_")
        yield {"cart": cart, "checkout": checkout, "gateway": gateway, "app_id": app_id, "key": key,
               "service_token": shared["KASSA_SERVICE_TOKEN"], "db": fresh_pg}
    finally:
        gateway.stop()
        checkout.stop()
        cart.stop()
