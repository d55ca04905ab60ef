"""Fixtures for the Python SDK's tests: the SDK's clients against the real apps of a backend.

The cart, checkout and webhook apps run behind one path router (as `kassa serve` and the gateway
serve them) on each backend's runtime. `AsyncKassa` reaches them through `httpx.ASGITransport`.
`Kassa` (blocking) runs in a worker thread and reaches them through `LoopTransport`, which runs
each request on the test's event loop, where the apps' connection pools live.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import httpx
import pytest
from kassa_contract.errors import ERROR_STATUS, KassaError
from kassa_platform.app import build_service_app
from kassa_sdk import AsyncKassa, Kassa
from kassa_sdk.types import CardInput, PaymentMethodInput, VariantInput
from litestar import get
from litestar.params import FromPath

from kassa.gateway import PathRouter
from kassa.services import SERVICES
from tests.conftest import Backend
from tests.support import cards
from tests.webhooks.conftest import Merchant, Webhooks, make_merchant, webhooks_on
from tests.webhooks.receiver import Receiver

T = TypeVar("T")
BASE_URL = "http://kassa.test"
OK_CARD = PaymentMethodInput(type="card", card=CardInput(number=cards.GOOD, exp_month=12, exp_year=2030,
                                                         cvc="123"))
DECLINED_CARD = PaymentMethodInput(type="card", card=CardInput(number=cards.DECLINED))
ERRORS_PATH = "/api/v1/sdk-test-errors"


@get(ERRORS_PATH + "/{code:str}", operation_id="sdkTestError", opt={"scope": "carts:read"}, include_in_schema=False)
async def raise_code(code: FromPath[str]) -> None:
    """Any code of the contract, rendered by the platform's own error handling (as every service renders it)."""
    headers = {"Retry-After": "0"} if ERROR_STATUS[code] in (429, 503) else None
    raise KassaError(code, f"a {code} for the SDK's tests", field="someField", details={"code": code},
                     headers=headers)


class SdkApps:
    """Cart, checkout and webhook apps (and a route that raises any error code) on one backend's runtime."""

    def __init__(self, backend: Backend, webhooks: Webhooks) -> None:
        runtime = backend.runtime
        self.backend = backend
        self.webhooks = webhooks
        # Every service as `kassa serve` runs them (the webhook module is attached by webhooks_on).
        apps = [(SERVICES[n].path_prefixes, SERVICES[n].create_app(runtime, owns_runtime=False))
                for n in ("cart", "checkout", "webhooks", "team")]
        errors = build_service_app("sdk-test-errors", [raise_code], runtime, owns_runtime=False)
        self.app = PathRouter([*apps, ((ERRORS_PATH,), errors)], default=apps[0][1])


_apps: dict[str, SdkApps] = {}


def sdk_apps(backend: Backend) -> SdkApps:
    found = _apps.get(backend.name)
    if found is None:
        found = _apps[backend.name] = SdkApps(backend, webhooks_on(backend))
    return found


class LoopTransport(httpx.BaseTransport):
    """A blocking transport to an ASGI app: the request runs on `loop` while the caller's thread waits."""

    def __init__(self, app: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._asgi = httpx.ASGITransport(app=app)
        self._loop = loop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def run() -> httpx.Response:
            inner = httpx.Request(request.method, request.url, headers=request.headers, content=request.read())
            response = await self._asgi.handle_async_request(inner)
            return httpx.Response(response.status_code, headers=response.headers, content=await response.aread())

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result()


class Shop:
    """A merchant (an application with a secret key) and SDK clients for it."""

    def __init__(self, merchant: Merchant, apps: SdkApps) -> None:
        self.merchant = merchant
        self.apps = apps
        self.key = merchant.secret_key

    @property
    def backend(self) -> Backend:
        return self.apps.backend

    def async_client(self, app: Any = None, *, key: str | None = None, **kw: Any) -> AsyncKassa:
        return AsyncKassa(key or self.key, base_url=BASE_URL, transport=httpx.ASGITransport(app=app or self.apps.app), **kw)

    def sync_client(self, app: Any = None, **kw: Any) -> Kassa:
        return Kassa(self.key, base_url=BASE_URL, transport=LoopTransport(app or self.apps.app,
                                                                         asyncio.get_running_loop()), **kw)

    async def variant(self, kassa: AsyncKassa, price: int = 1500) -> str:
        product = await kassa.products.create(name="Shirt", variants=[
            VariantInput(sku=f"SKU-{uuid.uuid4().hex[:10]}", prices={"EUR": price})])
        return product.variants[0].id


async def delivered(shop: Shop, receiver: Receiver, count: int) -> None:
    """Run the relay and delivery jobs until `count` verified requests reached `receiver` and Kassa has
    recorded every delivery's outcome (a delivery run already going on in this process may be the one
    that sends them: the jobs coalesce)."""
    await shop.apps.webhooks.run()
    await receiver.wait_for(count)
    for _ in range(500):  # the sender records the outcome just after the receiver answered
        if all(d.status in ("succeeded", "failed") for d in await shop.merchant.deliveries()):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("deliveries still in flight after 5 s")


async def in_thread(fn: Callable[[], T]) -> T:
    """Run blocking SDK code off the event loop (the loop serves its requests meanwhile)."""
    return await asyncio.to_thread(fn)


@pytest.fixture
async def shop(backend: Backend) -> Shop:
    apps = sdk_apps(backend)
    return Shop(await make_merchant(apps.webhooks), apps)


@pytest.fixture
async def sqlite_shop(sqlite_backend: Backend) -> Shop:
    apps = sdk_apps(sqlite_backend)
    return Shop(await make_merchant(apps.webhooks), apps)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A merchant's webhook receiver on 127.0.0.1 (it verifies with the svix library)."""
    r = await Receiver().start()
    yield r
    await r.stop()


@pytest.fixture
async def kassa(shop: Shop) -> AsyncIterator[AsyncKassa]:
    async with shop.async_client() as client:
        yield client

