"""HTTP for the calling application (docs/contract.md, "Platform"): its view and its API version pin.

Served by the cart service beside the API keys (`api_key_routes`); the rules live in
`kassa_platform.applications`.
"""

from __future__ import annotations

from typing import Any

from kassa_contract.applications import Application, UpgradeApiVersion
from kassa_platform import applications
from kassa_platform.app import caller, runtime_of
from kassa_platform.db import transaction
from litestar import Request, get, post
from litestar.params import JSONBody


@get("/api/v1/application", operation_id="getApplication", opt={"scope": "application:read"})
async def get_application(request: Request[Any, Any, Any]) -> Application:
    async with runtime_of(request).db() as conn:
        return applications.view(await applications.get(conn, caller(request).app_id))


@post("/api/v1/application/upgrade-version", operation_id="upgradeApiVersion", status_code=200,
      opt={"scope": "application:write"})
async def upgrade_version(request: Request[Any, Any, Any], data: JSONBody[UpgradeApiVersion]) -> Application:
    runtime = runtime_of(request)
    principal = caller(request)
    async with transaction(runtime.db) as conn:
        application = await applications.upgrade_api_version(conn, principal.app_id, data.version,
                                                             now=runtime.clock.now())
    runtime.keys.forget()  # this process at once; the others through the notification
    return application


ROUTES = [get_application, upgrade_version]
