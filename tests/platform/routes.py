"""Every route of every service, read from the apps themselves, so that tests iterating over them
cover the routes added later too."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from kassa_platform.settings import Settings

from kassa.services import SERVICES, build_runtime
from tests.conftest import Tenant

_PARAM = re.compile(r"\{(\w+):\w+\}")


def every_route() -> list[tuple[str, str, str]]:
    """(service, method, path) of every route, path parameters filled with `x_<name>`."""
    data_dir = Path(tempfile.mkdtemp(prefix="kassa-routes-"))
    runtime = build_runtime(Settings(database_url=f"sqlite+aiosqlite:///{data_dir / 'unused.db'}", data_dir=data_dir))
    found = set()
    for name, service in SERVICES.items():
        for route in service.create_app(runtime, owns_runtime=False).routes:
            for handler in getattr(route, "route_handlers", []):
                for method in handler.http_methods - {"HEAD", "OPTIONS"}:
                    found.add((name, method, _PARAM.sub(r"x_\1", route.path)))
    return sorted(found)


def auth_headers(tenant: Tenant, path: str) -> dict[str, str]:
    """What lets `tenant` call `path`: its secret key, or the deployment's token for `/internal/…`."""
    if path.startswith("/internal/"):  # service-to-service routes answer the deployment's token only
        return {"Authorization": f"Service {tenant.backend.runtime.settings.service_token}",
                "X-Kassa-Application": tenant.app_id}
    return tenant.headers()
