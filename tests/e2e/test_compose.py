"""compose.yaml as docker-compose reads it: the topology, start order by health, shared secrets.

No container can run on this machine, so this checks the file; every command it runs is run as a
process, with its health check, in tests/e2e/test_cluster.py.
"""

from __future__ import annotations

from pathlib import Path

from kassa.cli import build_parser
from tests.e2e.cluster import ENV_EXAMPLE, GATEWAY_TEMPLATE, ROOT, SECRETS, compose, compose_config, compose_env_file

API_SERVICES = {"cart-1": "cart", "cart-2": "cart", "checkout": "checkout", "webhooks": "webhooks", "team": "team"}


def test_compose_needs_its_secrets(docker_compose: str, tmp_path: Path) -> None:
    refused = compose(docker_compose, ENV_EXAMPLE, "config")  # the example as shipped: secrets left empty
    assert refused.returncode != 0 and "(see .env.example)" in refused.stderr, refused.stderr
    assert any(name in refused.stderr for name in SECRETS)


def test_compose_runs_the_topology_in_order_of_health(docker_compose: str, tmp_path: Path) -> None:
    services = compose_config(docker_compose, compose_env_file(tmp_path))["services"]
    assert set(services) == {"postgres", "redis", "migrate", *API_SERVICES, "worker", "gateway"}
    kassa = {name: s for name, s in services.items() if s.get("image") == "kassa:local"}
    assert set(kassa) == {"migrate", *API_SERVICES, "worker"}
    for name, service in kassa.items():
        command = service["command"]
        assert command[0] == "kassa", (name, command)
        build_parser().parse_args(command[1:])  # a command and options `kassa` has (exits 2 otherwise)
        assert service["build"]["context"] == str(ROOT)  # the repository's Dockerfile
        # Every process of the deployment shares the database, Redis and the deployment's secrets.
        env = service["environment"]
        assert env["KASSA_SERVICE_TOKEN"] == kassa["migrate"]["environment"]["KASSA_SERVICE_TOKEN"]
        assert env["KASSA_SIGNING_KEY"] == kassa["migrate"]["environment"]["KASSA_SIGNING_KEY"]
        assert env["KASSA_DATABASE_URL"].startswith("postgresql://kassa:") and env["KASSA_REDIS_URL"]
        if name != "migrate":
            assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
            assert "readyz" in " ".join(service["healthcheck"]["test"])
    for name, service_name in API_SERVICES.items():
        assert kassa[name]["command"][1:3] == ["serve", service_name]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["worker"]["deploy"]["replicas"] == 2
    # Both cart replicas answer to `cart`, where checkout and the workers call it.
    for name in ("cart-1", "cart-2"):
        assert services[name]["networks"]["default"]["aliases"] == ["cart"]
    assert kassa["checkout"]["environment"]["KASSA_CART_URL"] == "http://cart:8000"
    # The gateway: the repository's template, every replica as an upstream, started once they are healthy.
    gateway = services["gateway"]
    assert gateway["build"]["context"] == str(GATEWAY_TEMPLATE.parent)
    dockerfile = (GATEWAY_TEMPLATE.parent / "Dockerfile").read_text()
    assert "COPY kassa.conf.template /etc/nginx/templates/" in dockerfile and "headers-more" in dockerfile
    assert gateway["environment"]["KASSA_CART_SERVERS"] == "server cart-1:8000; server cart-2:8000;"
    assert gateway["environment"]["KASSA_CHECKOUT_SERVERS"] == "server checkout:8000;"
    assert gateway["environment"]["KASSA_WEBHOOKS_SERVERS"] == "server webhooks:8000;"
    assert gateway["environment"]["KASSA_TEAM_SERVERS"] == "server team:8000;"
    assert {n: c["condition"] for n, c in gateway["depends_on"].items()} == dict.fromkeys(API_SERVICES,
                                                                                          "service_healthy")
    assert {"postgres", "redis", "gateway"} <= {n for n, s in services.items() if s.get("healthcheck")}
    assert services["postgres"]["volumes"]  # the data outlives the container
