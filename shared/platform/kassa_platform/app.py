"""Wiring shared by every service app: middleware, error envelope, health, OpenAPI."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Response, get
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.types import ControllerRouterHandler

from .auth import Principal, principal_of
from .body import RequestBodyMiddleware
from .cors import OriginGuardMiddleware, PreflightMiddleware, cors_headers
from .errors import EXCEPTION_HANDLERS
from .idempotency import IdempotencyMiddleware
from .metrics import CONTENT_TYPE, instrument, render
from .middleware import AuthMiddleware, RequestIdMiddleware
from .runtime import Runtime
from .service_client import APP_KEY_PREFIX

RUNTIME_KEY = "runtime"


def runtime_of(request: Request[Any, Any, Any]) -> Runtime:
    return request.app.state[RUNTIME_KEY]


def caller(request: Request[Any, Any, Any]) -> Principal:
    return principal_of(request)


@get("/healthz", opt={"public": True}, operation_id="healthz", include_in_schema=False, sync_to_thread=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", opt={"public": True}, operation_id="readyz", include_in_schema=False)
async def readyz(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    checks = await runtime_of(request).check_ready()
    ok = all(v == "ok" for v in checks.values())
    return Response({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)


@get("/metrics", opt={"public": True}, operation_id="metrics", include_in_schema=False)
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus figures, for scrapers on the service's own address (the gateway never routes here)."""
    return Response(await render(runtime_of(request)), media_type=CONTENT_TYPE)


def build_service_app(
    name: str,
    route_handlers: Sequence[ControllerRouterHandler],
    runtime: Runtime,
    *,
    owns_runtime: bool = True,
    debug: bool = False,
) -> Litestar:
    @asynccontextmanager
    async def lifespan(_: Litestar):  # type: ignore[no-untyped-def]
        await runtime.start()
        try:
            yield
        finally:
            if owns_runtime:
                await runtime.close()

    app = Litestar(
        route_handlers=[healthz, readyz, metrics, *route_handlers],
        middleware=[
            RequestIdMiddleware,
            PreflightMiddleware,
            DefineMiddleware(AuthMiddleware, resolver=runtime.keys, service_token=runtime.settings.service_token),
            DefineMiddleware(OriginGuardMiddleware, origins=runtime.origins,
                             public_base_url=runtime.settings.public_base_url),
            DefineMiddleware(RequestBodyMiddleware, max_bytes=runtime.settings.max_body_bytes),
            DefineMiddleware(IdempotencyMiddleware, store=runtime.idempotency),
        ],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        before_send=[cors_headers],
        lifespan=[lifespan],
        state=State({RUNTIME_KEY: runtime}),
        openapi_config=OpenAPIConfig(title=f"Kassa {name}", version="1", path="/schema/" + name),
        debug=debug,
        logging_config=None,  # kassa_platform.logs configures logging once per process
        request_max_body_size=runtime.settings.max_body_bytes,  # RequestBodyMiddleware refuses first
    )
    instrument(app, name, runtime)
    # Other services in this process reach this one through its app (embedded mode).
    runtime.services[APP_KEY_PREFIX + name] = app
    return app
