"""`create_app()` for the team service."""

from __future__ import annotations

from kassa_platform.app import build_service_app
from kassa_platform.runtime import Runtime
from litestar import Litestar

from .routes import ROUTES
from .service import team_of

# The public paths this service answers; the embedded gateway routes them here. (`/api/v1/application`,
# singular, the calling key's own application, stays the cart service's.)
PATH_PREFIXES = ("/api/v1/auth", "/api/v1/workspaces", "/api/v1/invitations", "/api/v1/applications")


def create_app(runtime: Runtime, *, owns_runtime: bool = True) -> Litestar:
    team_of(runtime)
    return build_service_app("team", ROUTES, runtime, owns_runtime=owns_runtime)
