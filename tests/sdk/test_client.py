"""The SDK's client core against the real apps: errors, retries with one Idempotency-Key, timeouts,
pagination and the async client in parallel."""

from __future__ import annotations

import asyncio
import runpy
import typing
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import kassa_sdk
import msgspec
import pytest
from kassa_contract.errors import ERROR_STATUS
from kassa_contract.versions import FIRST_VERSION, LATEST_VERSION, VERSIONS
from kassa_sdk import _retry
from kassa_sdk._base import Call, returns_nothing
from kassa_sdk.types import CartAddress, LineItemInput, VariantInput

from tests.sdk.conftest import BASE_URL, DECLINED_CARD, ERRORS_PATH, OK_CARD, Shop, in_thread

ADDRESS = CartAddress(address_line1="Unter den Linden 1", city="Berlin", country_code="DE")


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries happen at once (the delays themselves are checked by the pure tests below)."""
    monkeypatch.setattr(_retry, "INITIAL_DELAY", 0.0)


class Faults:
    """Wraps the app: records each request's Idempotency-Key and breaks the first request of a path
    in one of three ways, so that the SDK has to retry it."""

    def __init__(self, app: Any, path: str, mode: str) -> None:
        self.app, self.path, self.mode = app, path, mode
        self.keys: list[str | None] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        self.keys.append(headers.get(b"idempotency-key", b"").decode() or None)
        if len(self.keys) > 1:
            await self.app(scope, receive, send)
        elif self.mode == "lose":  # the request runs, its answer is lost on the way back
            async def drop(message: Any) -> None:
                pass

            await self.app(scope, receive, drop)
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        else:  # refused before it ran: Kassa's own 503, or another request holding the key
            code, status = (("service_unavailable", 503) if self.mode == "refuse"
                            else ("idempotency_key_in_progress", 409))
            body = msgspec.json.encode({"error": {"code": code, "message": "try again"}, "requestId": "req_x"})
            await send({"type": "http.response.start", "status": status,
                        "headers": [(b"content-type", b"application/json"), (b"retry-after", b"0")]})
            await send({"type": "http.response.body", "body": body})


async def paid_session(kassa: kassa_sdk.AsyncKassa, shop: Shop) -> str:
    variant = await shop.variant(kassa)
    cart = await kassa.carts.create(currency="EUR", line_items=[LineItemInput(variant_id=variant, quantity=2)],
                                    shipping_address=ADDRESS)
    return (await kassa.checkout.sessions.create(cart_id=cart.id)).id


# ---------------------------------------------------------------- errors


async def test_every_error_code_of_the_contract_raises_its_class_from_a_real_error_response(shop: Shop) -> None:
    async with shop.async_client(max_retries=0) as kassa:
        for n, (code, status) in enumerate(ERROR_STATUS.items()):
            if n and n % 50 == 0:  # more codes than a key's reads per second: the clock moves, no one waits
                shop.backend.clock.advance(seconds=2)
            with pytest.raises(kassa_sdk.KassaApiError) as caught:
                await kassa._run(Call("GET", f"{ERRORS_PATH}/{code}", returns_nothing))
            error = caught.value
            assert type(error) is kassa_sdk.ERROR_CLASSES[code], code
            assert isinstance(error, kassa_sdk._errors.status_class(status)), code  # its status class too
            assert (error.status, error.code, error.field, error.details) == (status, code, "someField", {"code": code})
            assert error.message == f"a {code} for the SDK's tests"
            assert error.request_id and error.request_id.startswith("req_")
            assert error.request_id == error.headers["x-request-id"]


def test_every_code_has_a_class_named_after_it() -> None:
    generator = runpy.run_path(str(Path(kassa_sdk.__file__).parents[2] / "scripts" / "generate_errors.py"))
    for path, text in generator["outputs"]().items():  # _error_codes.py and _api_version.py
        assert text == path.read_text(), f"{path.name}: run sdk/python/scripts/generate_errors.py"
    assert set(kassa_sdk.ERROR_CLASSES) == set(ERROR_STATUS)
    for code, cls in kassa_sdk.ERROR_CLASSES.items():
        assert getattr(kassa_sdk, cls.__name__) is cls
        assert cls.__name__.removesuffix("Error").lower() == code.replace("_", "").removesuffix("error")
    assert kassa_sdk.CartNotOpenError.__mro__[1] is kassa_sdk.ConflictError
    assert kassa_sdk.NotFoundError is kassa_sdk.ERROR_CLASSES["not_found"]


async def test_domain_errors_from_the_services_raise_their_classes(shop: Shop) -> None:
    async with shop.async_client(max_retries=0) as kassa:
        variant = await shop.variant(kassa)
        cart = await kassa.carts.create(currency="EUR", line_items=[LineItemInput(variant_id=variant)],
                                        shipping_address=ADDRESS)
        with pytest.raises(kassa_sdk.CartNotFoundError):
            await kassa.carts.retrieve("cart_missing")
        with pytest.raises(kassa_sdk.ValidationError) as invalid:
            await kassa.carts.add_line_item(cart.id, variant_id=variant, quantity=0)
        assert invalid.value.status == 422 and invalid.value.field == "quantity"
        with pytest.raises(kassa_sdk.DiscountInvalidError) as discount:
            await kassa.carts.apply_discount_code(cart.id, code="NO-SUCH-CODE")
        assert discount.value.details
        with pytest.raises(kassa_sdk.ProductNotFoundError):
            await kassa.products.retrieve("prod_missing")

        session = await kassa.checkout.sessions.create(cart_id=cart.id)
        with pytest.raises(kassa_sdk.PaymentDeclinedError) as declined:
            await kassa.checkout.sessions.complete(session.id, payment_method=DECLINED_CARD, shipping_address=ADDRESS)
        assert declined.value.status == 402 and (declined.value.details or {})["reason"] == "card_declined"
        paid = await kassa.checkout.sessions.complete(session.id, payment_method=OK_CARD, shipping_address=ADDRESS)
        assert paid.order_id
        with pytest.raises(kassa_sdk.CartNotOpenError):
            await kassa.carts.add_line_item(cart.id, variant_id=variant)
        with pytest.raises(kassa_sdk.AlreadyCompletedError):
            await kassa.checkout.sessions.cancel(session.id)
        with pytest.raises(kassa_sdk.RefundExceedsAmountError):
            await kassa.orders.refunds.create(paid.order_id, amount=10**9)
        with pytest.raises(kassa_sdk.OrderNotFoundError):
            await kassa.orders.retrieve("ord_missing")
        with pytest.raises(kassa_sdk.CheckoutSessionNotFoundError):
            await kassa.checkout.sessions.retrieve("cs_missing")
        with pytest.raises(kassa_sdk.WebhookEndpointNotFoundError):
            await kassa.webhook_endpoints.retrieve("we_missing")

        key = str(uuid.uuid4())
        await kassa.carts.create(currency="EUR", options={"idempotency_key": key})
        with pytest.raises(kassa_sdk.IdempotencyKeyReusedError):  # never retried: another request owns the key
            await kassa.carts.create(currency="USD", options={"idempotency_key": key, "max_retries": 3})

    async with shop.async_client(max_retries=0) as kassa:
        kassa_bad = kassa_sdk.AsyncKassa("sk_test_not_a_key", base_url=BASE_URL, max_retries=0,
                                         transport=httpx.ASGITransport(app=shop.apps.app))
        with pytest.raises(kassa_sdk.UnauthorizedError):
            await kassa_bad.carts.retrieve(cart.id)
        await kassa_bad.aclose()
    read_only = await shop.merchant.scoped_key(["carts:read"])
    async with kassa_sdk.AsyncKassa(read_only, base_url=BASE_URL, max_retries=0,
                                    transport=httpx.ASGITransport(app=shop.apps.app)) as limited:
        assert (await limited.carts.retrieve(cart.id)).id == cart.id
        with pytest.raises(kassa_sdk.ForbiddenError):
            await limited.carts.create(currency="EUR")


# ---------------------------------------------------------------- API versions


class VersionRecorder:
    """Wraps the app: records the `Kassa-Version` each request names and each response answers with."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.sent: list[str | None] = []
        self.answered: list[str | None] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.sent.append(dict(scope["headers"]).get(b"kassa-version", b"").decode() or None)

        async def recording(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers") or [])
                self.answered.append(headers.get(b"kassa-version", b"").decode() or None)
            await send(message)

        await self.app(scope, receive, recording)


def test_the_sdk_knows_the_contracts_versions_and_sends_the_newest() -> None:
    assert kassa_sdk.API_VERSION == LATEST_VERSION and kassa_sdk.API_VERSIONS == VERSIONS
    assert typing.get_args(kassa_sdk.ApiVersion) == VERSIONS
    client = kassa_sdk.Kassa("sk_test_x", base_url=BASE_URL)
    assert client.api_version == LATEST_VERSION
    assert client._headers["Kassa-Version"] == LATEST_VERSION
    older = client.with_options(api_version=FIRST_VERSION)
    assert older.api_version == FIRST_VERSION and older.with_options(timeout=3).api_version == FIRST_VERSION
    with pytest.raises(ValueError, match="2026-11-30"):
        kassa_sdk.Kassa("sk_test_x", base_url=BASE_URL, api_version="2020-01-01")  # type: ignore[arg-type]
    client.close()


async def test_every_request_names_the_sdks_api_version_and_errors_tell_the_answering_one(shop: Shop) -> None:
    recorder = VersionRecorder(shop.apps.app)
    async with shop.async_client(app=recorder, max_retries=0) as kassa:
        session_id = await paid_session(kassa, shop)
        await kassa.checkout.sessions.complete(session_id, payment_method=OK_CARD, shipping_address=ADDRESS)
        payments = await kassa.checkout.sessions.list_payments(session_id)  # the newest shape: `provider`
        assert [p.provider for p in payments] == ["test"]
        with pytest.raises(kassa_sdk.CartNotFoundError) as missing:
            await kassa.carts.retrieve("cart_missing")
        assert missing.value.api_version == LATEST_VERSION
    with shop.sync_client(app=recorder, max_retries=0, api_version=FIRST_VERSION) as old:
        with pytest.raises(kassa_sdk.CartNotFoundError) as missing:
            await in_thread(lambda: old.carts.retrieve("cart_missing"))
        assert missing.value.api_version == FIRST_VERSION
    assert recorder.sent == [LATEST_VERSION] * (len(recorder.sent) - 1) + [FIRST_VERSION]
    assert recorder.answered == recorder.sent  # answered in the version asked for, whatever the pin


# ---------------------------------------------------------------- retries and idempotency


@pytest.mark.parametrize("mode", ["lose", "refuse", "in_progress"])
async def test_a_retried_complete_pays_once_with_one_idempotency_key(shop: Shop, mode: str) -> None:
    async with shop.async_client() as setup:
        session_id = await paid_session(setup, shop)
    faults = Faults(shop.apps.app, f"/api/v1/checkout-sessions/{session_id}/complete", mode)
    async with shop.async_client(app=faults) as kassa:
        done = await kassa.checkout.sessions.complete(session_id, payment_method=OK_CARD, shipping_address=ADDRESS)
        assert done.status == "complete" and done.order_id
        assert len(faults.keys) == 2 and faults.keys[0] and faults.keys[0] == faults.keys[1]
        payments = await kassa.checkout.sessions.list_payments(session_id)
        assert [p.status for p in payments] == ["captured"]  # charged once
        orders = [o async for o in kassa.orders.list() if o.session_id == session_id]
        assert [o.id for o in orders] == [done.order_id]


async def test_the_blocking_client_retries_with_the_same_key_too(shop: Shop) -> None:
    faults = Faults(shop.apps.app, "/api/v1/carts", "lose")
    with shop.sync_client(app=faults) as kassa:
        cart = await in_thread(lambda: kassa.carts.create(currency="EUR", metadata={"n": 1}))
        assert len(faults.keys) == 2 and faults.keys[0] == faults.keys[1]
        assert (await in_thread(lambda: kassa.carts.retrieve(cart.id))).metadata == {"n": 1}


async def test_retries_stop_at_max_retries(shop: Shop) -> None:
    seen: list[str] = []

    async def counting(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            seen.append(scope["path"])
        await shop.apps.app(scope, receive, send)

    async with shop.async_client(app=counting, max_retries=2) as kassa:
        with pytest.raises(kassa_sdk.RateLimitedError):
            await kassa._run(Call("GET", f"{ERRORS_PATH}/rate_limited", returns_nothing))
        assert len(seen) == 3
        seen.clear()
        with pytest.raises(kassa_sdk.ServiceUnavailableError):
            await kassa._run(Call("GET", f"{ERRORS_PATH}/service_unavailable", returns_nothing,
                                  options={"max_retries": 0}))
        assert len(seen) == 1
        seen.clear()
        with pytest.raises(kassa_sdk.CartNotOpenError):  # a 409 other than in-progress: not retried
            await kassa._run(Call("GET", f"{ERRORS_PATH}/cart_not_open", returns_nothing))
        assert len(seen) == 1


def _error(status: int, code: str | None = None, **headers: str) -> kassa_sdk.KassaApiError:
    return kassa_sdk._errors.status_class(status)("x", status=status, code=code, headers=httpx.Headers(headers))


def test_retry_policy() -> None:
    delay = _retry.retry_delay
    assert delay(_error(429, "rate_limited", **{"Retry-After": "3"}), 0, 2) == 3.0
    assert delay(_error(503, **{"retry-after-ms": "250"}), 0, 2) == 0.25
    assert delay(_error(429, **{"Retry-After": "120"}), 0, 2) is None  # longer than 60 s: raise now
    assert delay(_error(409, "idempotency_key_reused"), 0, 2) is None
    assert delay(_error(409, "checkout_in_progress"), 0, 2) is None
    assert delay(_error(422, "validation_error"), 0, 2) is None
    assert delay(_error(500, "internal_error"), 2, 2) is None  # retries spent
    assert delay(kassa_sdk.APITimeoutError(), 0, 1) is not None
    for done in range(6):
        wait = _retry.backoff(done)
        assert _retry.INITIAL_DELAY <= wait <= min(_retry.INITIAL_DELAY * 2**done, _retry.MAX_DELAY)
    date = "Wed, 21 Oct 2026 07:28:00 GMT"
    assert _retry.parse_retry_after({"retry-after": date}, now=msgspec.json.decode(
        b'"2026-10-21T07:27:55Z"', type=__import__("datetime").datetime).timestamp()) == 5.0
    assert _retry.parse_retry_after({"retry-after": "soon"}) is None


# ---------------------------------------------------------------- timeouts


@pytest.fixture
async def silent_server() -> AsyncIterator[tuple[str, list[int]]]:
    """A server that accepts requests and never answers."""
    accepted: list[int] = []
    never = asyncio.Event()

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        try:
            await never.wait()
        finally:
            writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", accepted
    never.set()  # let the held connections close
    server.close()
    await server.wait_closed()


async def test_a_request_that_gets_no_answer_times_out_after_its_retries(silent_server: tuple[str, list[int]]) -> None:
    base, accepted = silent_server
    async with kassa_sdk.AsyncKassa("sk_test_x", base_url=base, timeout=0.2, max_retries=1) as kassa:
        with pytest.raises(kassa_sdk.APITimeoutError):
            await kassa.carts.retrieve("cart_1")
    assert len(accepted) == 2
    with kassa_sdk.Kassa("sk_test_x", base_url=base, max_retries=0) as blocking:
        with pytest.raises(kassa_sdk.APITimeoutError):
            await in_thread(lambda: blocking.carts.retrieve("cart_1", options={"timeout": 0.2}))


async def test_nothing_listening_is_a_connection_error() -> None:
    async with kassa_sdk.AsyncKassa("sk_test_x", base_url="http://127.0.0.1:9", max_retries=1) as kassa:
        with pytest.raises(kassa_sdk.APIConnectionError) as caught:
            await kassa.carts.retrieve("cart_1")
    assert not isinstance(caught.value, kassa_sdk.APITimeoutError)


# ---------------------------------------------------------------- pagination and parallel calls


async def test_pagination_over_several_pages(shop: Shop) -> None:
    async with shop.async_client() as kassa:
        made = [await kassa.products.create(name=f"P{i}", variants=[VariantInput(sku=f"S{i}-{uuid.uuid4().hex[:6]}",
                                                                                 prices={"EUR": 100})])
                for i in range(5)]
        first = await kassa.products.list(limit=2)
        assert len(first.data) == 2 and first.has_more
        pages = [len(p.data) async for p in first.iter_pages()]
        assert pages == [2, 2, 1]
        every = [p.id async for p in kassa.products.list(limit=2)]
        assert sorted(every) == sorted(p.id for p in made) and len(every) == 5
    with shop.sync_client() as blocking:
        page = await in_thread(lambda: blocking.products.list(limit=2))
        assert isinstance(page, kassa_sdk.SyncPage) and len(page) == 2
        assert await in_thread(lambda: [p.id for p in page.auto_paging_iter()]) == every


async def test_the_async_client_runs_calls_in_parallel(shop: Shop) -> None:
    async with shop.async_client() as kassa:
        variant = await shop.variant(kassa, price=700)
        carts = await asyncio.gather(*(
            kassa.carts.create(currency="EUR", line_items=[LineItemInput(variant_id=variant, quantity=q)])
            for q in range(1, 21)))
        assert len({c.id for c in carts}) == 20
        assert [c.subtotal for c in carts] == [700 * q for q in range(1, 21)]
        again = await asyncio.gather(*(kassa.carts.retrieve(c.id) for c in carts))
        assert [c.id for c in again] == [c.id for c in carts]


def test_every_operation_has_a_docstring_and_takes_options() -> None:
    from kassa_sdk._base import Resource, _Operation

    kassa = kassa_sdk.Kassa("sk_test_x", base_url="http://kassa.test")
    resources = [value for value in vars(kassa).values() if isinstance(value, Resource)]
    resources += [nested for r in resources for nested in vars(r).values() if isinstance(nested, Resource)]
    operations = [(type(r).__name__, name, op) for r in resources for name, op in vars(type(r)).items()
                  if isinstance(op, _Operation)]
    assert len(operations) > 70
    for owner, name, op in operations:
        assert op.__doc__ and op.__doc__.strip(), f"{owner}.{name} has no docstring"
        assert "options" in op.__wrapped__.__code__.co_varnames, f"{owner}.{name} takes no options"
    for cls in (kassa_sdk.Kassa, kassa_sdk.AsyncKassa, kassa_sdk.SyncPage, kassa_sdk.AsyncPage):
        for name, member in vars(cls).items():
            if callable(member) and not name.startswith("_"):
                assert member.__doc__, f"{cls.__name__}.{name} has no docstring"
    kassa.close()
