"""`create_app()` for the webhook service."""

from __future__ import annotations

from kassa_platform.app import build_service_app
from kassa_platform.runtime import Runtime
from litestar import Litestar

from .erasure_routes import ROUTES as ERASURE_ROUTES
from .metrics import backlog_figures
from .routes import ROUTES
from .service import module_of, reaper
from .waker import OutboxWaker

# The public paths this service answers; the embedded gateway routes them here.
PATH_PREFIXES = ("/api/v1/webhook-endpoints", "/api/v1/events", "/api/v1/webhook-deliveries",
                 "/internal/webhooks")


def create_app(runtime: Runtime, *, owns_runtime: bool = True) -> Litestar:
    module = module_of(runtime)
    app = build_service_app("webhooks", [*ROUTES, *ERASURE_ROUTES], runtime, owns_runtime=owns_runtime)
    if backlog_figures not in runtime.metric_sources:
        runtime.metric_sources.append(backlog_figures)
    waker = OutboxWaker(module, runtime.settings.database_url, gather_seconds=runtime.settings.outbox_gather_seconds)
    # Every process that runs this service (its app, a worker) hands a dead process's deliveries on.
    runtime.liveness.watch("webhooks", reaper(module))

    async def start_waker() -> None:
        waker.start()

    async def stop_waker() -> None:
        await waker.stop()
        await module.deliverer.close()

    # Startup hooks run once the runtime has started (the lifespan comes first); shutdown hooks run last.
    app.on_startup.append(start_waker)
    app.on_shutdown.append(stop_waker)
    return app
