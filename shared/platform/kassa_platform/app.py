"""Wiring shared by every service app: middleware, error envelope, health, OpenAPI."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import asynccontextmanager
from typing import Any

from kassa_contract.errors import ErrorBody
from litestar import Litestar, Request, Response, Router, get
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.types import ControllerRouterHandler

from .auth import Principal, principal_of
from .body import RequestBodyMiddleware
from .cors import OriginGuardMiddleware, PreflightMiddleware, cors_headers
from .errors import EXCEPTION_HANDLERS, error_response
from .idempotency import IdempotencyMiddleware
from .metrics import CONTENT_TYPE, instrument, render
from .middleware import AuthMiddleware, RequestIdMiddleware
from .openapi import finish_openapi
from .runtime import Runtime
from .security_headers import security_headers
from .service_client import APP_KEY_PREFIX
from .versioning import ApiVersionMiddleware

RUNTIME_KEY = "runtime"


def runtime_of(request: Request[Any, Any, Any]) -> Runtime:
    runtime: Runtime = request.app.state[RUNTIME_KEY]
    return runtime


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

    schema_path = "/schema/" + name

    def schema_not_found(response: Response[Any]) -> Response[Any]:
        """Litestar answers another path under the document's with an HTML page: ours is the envelope."""
        if response.status_code != 404:
            return response
        return error_response(ErrorBody(code="route_not_found",
                                        message=f"No such document: the OpenAPI document is at {schema_path}"), 404)

    app = Litestar(
        route_handlers=[healthz, readyz, metrics, *route_handlers],
        middleware=[
            RequestIdMiddleware,
            PreflightMiddleware,
            DefineMiddleware(AuthMiddleware, resolver=runtime.keys, service_token=runtime.settings.service_token,
                             limiter=runtime.limiter, signing_key=runtime.settings.signing_key, clock=runtime.clock,
                             sessions=runtime.sessions),
            DefineMiddleware(OriginGuardMiddleware, origins=runtime.origins,
                             public_base_url=runtime.settings.public_base_url),
            DefineMiddleware(RequestBodyMiddleware, max_bytes=runtime.settings.max_body_bytes),
            ApiVersionMiddleware,
            DefineMiddleware(IdempotencyMiddleware, store=runtime.idempotency),
        ],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        before_send=[cors_headers, security_headers],
        lifespan=[lifespan],
        state=State({RUNTIME_KEY: runtime}),
        # The document only, as JSON at `/schema/<name>` and `/schema/<name>/openapi.json`: no
        # documentation page, whose scripts would come from a third-party CDN and run on the origin
        # that also serves the hosted checkout. Readers load the JSON into their own tools.
        openapi_config=OpenAPIConfig(title=f"Kassa {name}", version="1", path=schema_path,
                                     render_plugins=[JsonRenderPlugin(path=["/", "/openapi.json"])],
                                     openapi_router=Router(schema_path, route_handlers=[], include_in_schema=False,
                                                           after_request=schema_not_found)),
        debug=debug,
        logging_config=None,  # kassa_platform.logs configures logging once per process
        request_max_body_size=runtime.settings.max_body_bytes,  # RequestBodyMiddleware refuses first
    )
    instrument(app, name, runtime)
    finish_openapi(app)
    # Other services in this process reach this one through its app (embedded mode).
    runtime.services[APP_KEY_PREFIX + name] = app
    return app
