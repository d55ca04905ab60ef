"""`Kassa` and `AsyncKassa`: the same resources; one sends and sleeps blocking, the other awaits.

The retry loop is the one place either differs from the other (`_send`): the request is built
again for every attempt from bytes encoded once, with the same Idempotency-Key every time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Generic, TypeVar

import httpx
from kassa_contract.common import Page

from ._api_version import ApiVersion
from ._base import DEFAULT_MAX_RETRIES, Async, BaseClient, Call, M, Prepared, Sync
from ._errors import APIConnectionError, APITimeoutError, KassaError
from ._pagination import AsyncPage, AsyncPager, SyncPage
from ._retry import retry_delay
from .resources.abandoned_carts import AbandonedCarts
from .resources.api_keys import ApiKeys
from .resources.application import ApplicationResource
from .resources.audit_log import AuditLog
from .resources.carts import Carts
from .resources.catalog import Products
from .resources.checkout import Checkout, PaymentMethods
from .resources.customers import Customers, ShopperAuthResource
from .resources.embed_config import EmbedConfigResource
from .resources.orders import Orders
from .resources.payment_settings import PaymentSettingsResource
from .resources.promotions import (
    CampaignGroups,
    Campaigns,
    Codes,
    PromotionSettingsResource,
    Redemptions,
    Vouchers,
)
from .resources.settings import ShippingMethods, TaxRates, TaxSettingsResource
from .resources.team import Invitations, Members, PermissionsResource
from .resources.webhooks import Events, WebhookDeliveries, WebhookEndpoints

T = TypeVar("T")


class _Resources(Generic[M]):
    """Every resource of the API, bound to one client."""

    def _attach(self, client: BaseClient) -> None:
        self.products: Products[M] = Products(client)
        self.carts: Carts[M] = Carts(client)
        self.shipping_methods: ShippingMethods[M] = ShippingMethods(client)
        self.tax_rates: TaxRates[M] = TaxRates(client)
        self.tax_settings: TaxSettingsResource[M] = TaxSettingsResource(client)
        self.checkout: Checkout[M] = Checkout(client)
        self.payment_methods: PaymentMethods[M] = PaymentMethods(client)
        self.payment_settings: PaymentSettingsResource[M] = PaymentSettingsResource(client)
        self.orders: Orders[M] = Orders(client)
        self.campaigns: Campaigns[M] = Campaigns(client)
        self.campaign_groups: CampaignGroups[M] = CampaignGroups(client)
        self.promotion_settings: PromotionSettingsResource[M] = PromotionSettingsResource(client)
        self.codes: Codes[M] = Codes(client)
        self.vouchers: Vouchers[M] = Vouchers(client)
        self.redemptions: Redemptions[M] = Redemptions(client)
        self.embed_config: EmbedConfigResource[M] = EmbedConfigResource(client)
        self.abandoned_carts: AbandonedCarts[M] = AbandonedCarts(client)
        self.webhook_endpoints: WebhookEndpoints[M] = WebhookEndpoints(client)
        self.webhook_deliveries: WebhookDeliveries[M] = WebhookDeliveries(client)
        self.events: Events[M] = Events(client)
        self.api_keys: ApiKeys[M] = ApiKeys(client)
        self.application: ApplicationResource[M] = ApplicationResource(client)
        self.customers: Customers[M] = Customers(client)
        self.shopper_auth: ShopperAuthResource[M] = ShopperAuthResource(client)
        self.members: Members[M] = Members(client)
        self.invitations: Invitations[M] = Invitations(client)
        self.permissions: PermissionsResource[M] = PermissionsResource(client)
        self.audit_log: AuditLog[M] = AuditLog(client)


def _transport_error(exc: httpx.TransportError, request: httpx.Request | None) -> APIConnectionError:
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"Request timed out: {exc or type(exc).__name__}", request=request)
    return APIConnectionError(f"Connection error: {exc or type(exc).__name__}", request=request)


class Kassa(BaseClient, _Resources[Sync]):
    """The Kassa API client for blocking code (Django, Flask, scripts, workers).

    `Kassa(api_key, base_url=...)` (or `KASSA_API_KEY` / `KASSA_BASE_URL` from the environment).
    Requests time out after `timeout` (60 s, 5 s to connect) and are retried up to `max_retries`
    times (2) on connection errors, 429 and 5xx answers. Pass `http_client` to bring your own
    `httpx.Client` (proxies, certificates, a transport). Use it as a context manager, or `close()` it.
    Every request names the API version this SDK was generated for (`kassa_sdk.API_VERSION`, the
    `Kassa-Version` header), whatever the application is pinned to; `api_version=` names another of
    `kassa_sdk.API_VERSIONS` (the SDK's types stay the newest version's).
    """

    def __init__(self, api_key: str | None = None, *, base_url: str | None = None,
                 timeout: float | httpx.Timeout | None = None, max_retries: int = DEFAULT_MAX_RETRIES,
                 default_headers: Mapping[str, str] | None = None, http_client: httpx.Client | None = None,
                 transport: httpx.BaseTransport | None = None, api_version: ApiVersion | None = None) -> None:
        super().__init__(api_key, base_url=base_url, timeout=timeout, max_retries=max_retries,
                         default_headers=default_headers, api_version=api_version)
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(transport=transport, timeout=self.timeout)
        self._attach(self)

    def close(self) -> None:
        """Close the connections (only those of an `httpx.Client` this client made itself)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Kassa:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, call: Call[T]) -> T:
        prepared = self._prepare(call)
        retries = 0
        while True:
            request = _build(self._http, prepared)
            try:
                response = self._http.send(request)
            except httpx.TransportError as exc:
                error: KassaError = _transport_error(exc, request)
            else:
                try:
                    return self._read(call, response)
                except KassaError as exc:
                    error = exc
            delay = retry_delay(error, retries, prepared.max_retries)
            if delay is None:
                raise error
            retries += 1
            time.sleep(delay)

    def _run(self, call: Call[T]) -> T:
        return self._send(call)

    def _paginate(self, call: Call[Page[T]]) -> SyncPage[T]:
        return SyncPage(self._send(call), call, self._paginate)


class AsyncKassa(BaseClient, _Resources[Async]):
    """The Kassa API client for asyncio code (FastAPI, Starlette, async workers): every operation is awaited.

    Same options as `Kassa`; `http_client` takes an `httpx.AsyncClient`, `transport` an async
    transport (e.g. `httpx.ASGITransport`). Use `async with`, or `await aclose()`: a client must
    not outlive its event loop, so make one per loop (per process, at startup), not per module.
    """

    def __init__(self, api_key: str | None = None, *, base_url: str | None = None,
                 timeout: float | httpx.Timeout | None = None, max_retries: int = DEFAULT_MAX_RETRIES,
                 default_headers: Mapping[str, str] | None = None, http_client: httpx.AsyncClient | None = None,
                 transport: httpx.AsyncBaseTransport | None = None, api_version: ApiVersion | None = None) -> None:
        super().__init__(api_key, base_url=base_url, timeout=timeout, max_retries=max_retries,
                         default_headers=default_headers, api_version=api_version)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(transport=transport, timeout=self.timeout)
        self._attach(self)

    async def aclose(self) -> None:
        """Close the connections (only those of an `httpx.AsyncClient` this client made itself)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncKassa:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _send(self, call: Call[T]) -> T:
        prepared = self._prepare(call)
        retries = 0
        while True:
            request = _build(self._http, prepared)
            try:
                response = await self._http.send(request)
            except httpx.TransportError as exc:
                error: KassaError = _transport_error(exc, request)
            else:
                try:
                    return self._read(call, response)
                except KassaError as exc:
                    error = exc
            delay = retry_delay(error, retries, prepared.max_retries)
            if delay is None:
                raise error
            retries += 1
            await asyncio.sleep(delay)

    async def _run(self, call: Call[T]) -> T:
        return await self._send(call)

    def _paginate(self, call: Call[Page[T]]) -> AsyncPager[T]:
        return AsyncPager(call, self._fetch_page)

    async def _fetch_page(self, call: Call[Page[T]]) -> AsyncPage[T]:
        return AsyncPage(await self._send(call), call, self._fetch_page)


def _build(http: httpx.Client | httpx.AsyncClient, p: Prepared) -> httpx.Request:
    return http.build_request(p.method, p.url, content=p.content, headers=p.headers, params=p.params,
                              timeout=p.timeout)

