"""`create_app()` for the dashboard: the page and files of the merchant dashboard."""

from __future__ import annotations

from kassa_platform.app import build_service_app
from kassa_platform.jobs import JobRegistry
from kassa_platform.runtime import Runtime
from litestar import Litestar

from .routes import ROUTES

# The public paths this service answers; the embedded gateway routes them here.
PATH_PREFIXES = ("/dashboard",)
JOBS = JobRegistry()  # none: the dashboard keeps no state of its own


def create_app(runtime: Runtime, *, owns_runtime: bool = True) -> Litestar:
    return build_service_app("dashboard", ROUTES, runtime, owns_runtime=owns_runtime)
