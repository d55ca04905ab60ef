"""The services this build has: how to create each app, which paths it owns, its migrations and jobs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kassa_cart import app as cart_app
from kassa_cart import jobs as cart_jobs
from kassa_cart.component import cart_component
from kassa_checkout import app as checkout_app
from kassa_checkout import jobs as checkout_jobs
from kassa_checkout.component import checkout_component
from kassa_platform import platform_jobs
from kassa_platform.jobs import JobRegistry
from kassa_platform.migrate import Component, platform_component
from kassa_platform.runtime import Runtime
from kassa_promotions.store.component import promotions_component
from kassa_team import app as team_app
from kassa_team import jobs as team_jobs
from kassa_team.component import team_component
from kassa_webhooks import app as webhooks_app
from kassa_webhooks import jobs as webhooks_jobs
from kassa_webhooks.component import webhooks_component
from litestar import Litestar


@dataclass(frozen=True)
class ServiceDef:
    name: str
    create_app: Callable[..., Litestar]
    path_prefixes: tuple[str, ...]
    component: Callable[[], Component]
    jobs: JobRegistry
    calls: tuple[str, ...] = ()  # the services it calls over HTTP


SERVICES: dict[str, ServiceDef] = {
    "cart": ServiceDef("cart", cart_app.create_app, cart_app.PATH_PREFIXES, cart_component, cart_jobs.registry),
    "checkout": ServiceDef("checkout", checkout_app.create_app, checkout_app.PATH_PREFIXES, checkout_component,
                           checkout_jobs.registry, calls=("cart",)),
    "webhooks": ServiceDef("webhooks", webhooks_app.create_app, webhooks_app.PATH_PREFIXES, webhooks_component,
                           webhooks_jobs.registry),
    "team": ServiceDef("team", team_app.create_app, team_app.PATH_PREFIXES, team_component, team_jobs.registry),
}


def components() -> list[Component]:
    # The promotions store is a library the cart service uses; its tables migrate with the platform's.
    return [platform_component(), promotions_component(), *(s.component() for s in SERVICES.values())]


def job_registry(names: list[str] | None = None) -> JobRegistry:
    chosen = [SERVICES[n].jobs for n in (names or list(SERVICES))]
    return platform_jobs.registry.merge(*chosen)


def build_runtime(settings, names: list[str] | None = None, **kwargs) -> Runtime:  # type: ignore[no-untyped-def]
    return Runtime(settings, job_registry(names), **kwargs)


def unreachable(names: list[str], service_urls: dict[str, str]) -> list[str]:
    """The services that `names` call but that neither run in this process nor have a URL."""
    return sorted({c for n in names for c in SERVICES[n].calls if c not in names and c not in service_urls})
