"""HTTP for API key management (docs/contract.md, "Platform"): the application's keys, managed with a key.

The cart service serves these routes: the keys are the platform's table, which every service
reads, so any service could; the cart service is the one every deployment runs and already
serves the application's own settings (embed config, tax settings, shipping methods). The rules
(who may grant what, roll, revoke) live in `kassa_platform.api_keys`, shared with `kassa keys`.
"""

from __future__ import annotations

from typing import Annotated, Any

from kassa_contract.api_keys import ApiKey, CreateApiKey, RollApiKey
from kassa_contract.common import Page
from kassa_platform import api_keys
from kassa_platform.app import caller, runtime_of
from kassa_platform.db import transaction
from kassa_platform.pagination import DEFAULT_LIMIT, Cursor, Limit, check_limit
from litestar import Controller, Request, delete, get, post
from litestar.params import Body, FromPath, JSONBody, QueryParameter

IncludeInactive = Annotated[bool, QueryParameter(name="includeInactive", required=False)]

READ = {"scope": "keys:read"}
WRITE = {"scope": "keys:write"}


class ApiKeyController(Controller):
    path = "/api/v1/api-keys"
    tags = ["api keys"]

    @get("/", operation_id="listApiKeys", opt=READ)
    async def list_keys(self, request: Request[Any, Any, Any], limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None,
                        include_inactive: IncludeInactive = False) -> Page[ApiKey]:
        runtime = runtime_of(request)
        async with runtime.db() as conn:
            return await api_keys.list_keys(conn, caller(request).app_id, runtime.clock.now(), limit=check_limit(limit),
                                            cursor=cursor, include_inactive=include_inactive)

    @get("/{key_id:str}", operation_id="getApiKey", opt=READ)
    async def get_key(self, request: Request[Any, Any, Any], key_id: FromPath[str]) -> ApiKey:
        async with runtime_of(request).db() as conn:
            return api_keys.view(await api_keys.get_key(conn, caller(request).app_id, key_id))

    @post("/", operation_id="createApiKey", opt=WRITE)
    async def create(self, request: Request[Any, Any, Any], data: JSONBody[CreateApiKey]) -> ApiKey:
        runtime = runtime_of(request)
        principal = caller(request)
        async with transaction(runtime.db) as conn:
            return await api_keys.create(conn, principal, principal.app_id, data, runtime.clock.now())

    @post("/{key_id:str}/roll", operation_id="rollApiKey", status_code=200, opt=WRITE)
    async def roll(self, request: Request[Any, Any, Any], key_id: FromPath[str],
                   data: Annotated[RollApiKey | None, Body(title="RollApiKey")] = None) -> ApiKey:
        runtime = runtime_of(request)
        principal = caller(request)
        hours = (data or RollApiKey()).expires_in_hours
        async with transaction(runtime.db) as conn:
            key, old_digest = await api_keys.roll(conn, principal, principal.app_id, key_id, hours, runtime.clock.now())
        runtime.keys.forget(old_digest)  # this process at once; the others through the notification
        return key

    @delete("/{key_id:str}", operation_id="revokeApiKey", status_code=200, opt=WRITE)
    async def revoke(self, request: Request[Any, Any, Any], key_id: FromPath[str]) -> ApiKey:
        runtime = runtime_of(request)
        principal = caller(request)
        async with transaction(runtime.db) as conn:
            key, digest = await api_keys.revoke(conn, principal, principal.app_id, key_id, runtime.clock.now())
        runtime.keys.forget(digest)
        return key


ROUTES = [ApiKeyController]
