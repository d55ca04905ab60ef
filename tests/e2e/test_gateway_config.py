"""deploy/Caddyfile routes exactly what the services declare, as the embedded router does.

Caddy itself reads the file (`caddy adapt`), with each service's upstreams set to addresses that
name it; the routes it builds are compared with `SERVICES` (src/kassa/services.py). When a service
gains a path prefix, this test names the line of deploy/Caddyfile to extend.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

from kassa.services import SERVICES
from tests.e2e.cluster import CADDYFILE

INTERNAL = "/internal"


def adapted(caddy: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASSA_")}
    env.update({f"KASSA_{name.upper()}_UPSTREAMS": f"{name}.one.test:81 {name}.two.test:82" for name in SERVICES},
               KASSA_GATEWAY_ADMIN="off")
    done = subprocess.run([caddy, "adapt", "--config", str(CADDYFILE), "--adapter", "caddyfile"], env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def handlers(route: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for handler in route.get("handle", []):
        yield handler
        for inner in handler.get("routes", []):  # a `handle` block is a subroute
            yield from handlers(inner)


def routes(config: dict[str, Any]) -> tuple[dict[str, set[str]], set[str], list[dict[str, Any]]]:
    """(service -> the paths routed to it, paths answered 404 by the gateway, the proxies)."""
    routed: dict[str, set[str]] = {}
    refused: set[str] = set()
    proxies = []
    for route in config["apps"]["http"]["servers"]["srv0"]["routes"]:
        paths = {p for m in route.get("match", []) for p in m.get("path", [])}
        for handler in handlers(route):
            if handler["handler"] == "reverse_proxy":
                service = {u["dial"].split(".")[0] for u in handler["upstreams"]}
                assert len(service) == 1, handler["upstreams"]
                routed.setdefault(service.pop(), set()).update(paths)
                proxies.append(handler)
            elif handler["handler"] == "static_response" and handler.get("status_code") == 404:
                refused.update(paths)
    return routed, refused, proxies


def as_caddy_paths(prefixes: set[str]) -> set[str]:
    """The embedded router's prefix match (the path itself, or below it) in Caddy's terms."""
    return {p for prefix in prefixes for p in (prefix, prefix + "/*")}


def test_the_gateway_routes_each_services_prefixes_and_nothing_else(caddy: str) -> None:
    routed, refused, proxies = routes(adapted(caddy))
    for name, service in SERVICES.items():
        public = {p for p in service.path_prefixes if not (p == INTERNAL or p.startswith(INTERNAL + "/"))}
        expected = as_caddy_paths(public | {f"/schema/{name}"})
        missing, extra = expected - routed.get(name, set()), routed.get(name, set()) - expected
        assert not missing and not extra, (
            f"deploy/Caddyfile's @{name} matcher disagrees with the {name} service's PATH_PREFIXES: "
            f"add {sorted(missing)}, remove {sorted(extra)}")
    assert set(routed) == set(SERVICES)
    # Service-to-service endpoints and metrics are never forwarded.
    assert as_caddy_paths({INTERNAL}) <= refused
    assert not [p for paths in routed.values() for p in paths if p.startswith((INTERNAL, "/metrics"))]


def test_every_service_is_balanced_over_its_replicas_with_health_checks(caddy: str) -> None:
    _, _, proxies = routes(adapted(caddy))
    assert len(proxies) == len(SERVICES)
    for proxy in proxies:
        name = proxy["upstreams"][0]["dial"].split(".")[0]
        assert [u["dial"] for u in proxy["upstreams"]] == [f"{name}.one.test:81", f"{name}.two.test:82"]
        assert proxy["health_checks"]["active"]["uri"] == "/readyz"
        assert proxy["health_checks"]["passive"]["fail_duration"] > 0
        assert proxy["load_balancing"]["try_duration"] > 0  # a refused connection goes to another replica
