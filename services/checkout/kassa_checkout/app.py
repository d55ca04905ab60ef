"""`create_app()` for the checkout service."""

from __future__ import annotations

from kassa_platform.app import build_service_app
from kassa_platform.runtime import Runtime
from litestar import Litestar

from . import embed_script
from .erasure_routes import ROUTES as ERASURE_ROUTES
from .hosted.routes import ROUTES as HOSTED_ROUTES
from .routes import ROUTES
from .service import module_of

# The public paths this service answers; the embedded router and the gateway (deploy/nginx) route
# them here: the API, the hosted page `/s/{id}` and its assets, and the embed script.
PATH_PREFIXES = ("/api/v1/checkout", "/api/v1/checkout-sessions", "/api/v1/payment-methods", "/api/v1/orders",
                 "/api/v1/payment-settings", "/webhooks/stripe", "/s", "/static/checkout", "/embed",
                 "/internal/checkout")


def create_app(runtime: Runtime, *, owns_runtime: bool = True) -> Litestar:
    module_of(runtime)
    return build_service_app("checkout", [*ROUTES, *HOSTED_ROUTES, *embed_script.ROUTES, *ERASURE_ROUTES], runtime,
                             owns_runtime=owns_runtime)
