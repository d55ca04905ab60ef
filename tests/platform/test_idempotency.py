"""Idempotency-Key on POST: replay, reuse with another body, concurrent duplicates, 24 h retention."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import msgspec
import pytest
import sqlalchemy as sa
from kassa_checkout.service import module_of
from kassa_contract.checkout import CompleteCheckoutSession
from kassa_contract.errors import ERROR_STATUS, NOT_EXECUTED, KassaError
from kassa_platform.app import build_service_app
from kassa_platform.auth import Principal
from kassa_platform.idempotency import fingerprint
from kassa_platform.tables import idempotency_keys, outbox_events
from litestar import post
from litestar.params import JSONBody

from tests.conftest import ADDRESS_DE, Backend, Tenant, make_tenant
from tests.support.cards import DECLINE_CARD, OK_CARD
from tests.support.envelopes import assert_envelope
from tests.support.shop import Shop


async def _cart_events(tenant: Tenant) -> int:
    async with tenant.backend.runtime.db() as conn:
        return (await conn.execute(sa.select(sa.func.count()).select_from(outbox_events)
                                      .where(outbox_events.c.app_id == tenant.app_id))).scalar_one()


async def test_same_key_and_body_replays_the_first_response(tenant: Tenant) -> None:
    headers = {"Idempotency-Key": "create-1"}
    first = await tenant.post("/api/v1/carts", {"currency": "EUR"}, headers=headers)
    second = await tenant.post("/api/v1/carts", {"currency": "EUR"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers.get("idempotent-replayed") == "true"
    assert await _cart_events(tenant) == 1  # executed once


async def test_same_key_other_body_is_409(tenant: Tenant) -> None:
    headers = {"Idempotency-Key": "create-2"}
    assert (await tenant.post("/api/v1/carts", {"currency": "EUR"}, headers=headers)).status_code == 201
    assert_envelope(await tenant.post("/api/v1/carts", {"currency": "USD"}, headers=headers), 409,
                    "idempotency_key_reused")
    # Another endpoint with the same key is another request too.
    assert_envelope(await tenant.post("/api/v1/products", {"name": "x", "variants": [{"sku": "s", "prices": {}}]},
                                      headers=headers), 409, "idempotency_key_reused")


async def test_keys_are_per_application(backend: Backend) -> None:
    alice, bob = await make_tenant(backend), await make_tenant(backend)
    headers = {"Idempotency-Key": "shared-key"}
    a = await alice.post("/api/v1/carts", {"currency": "EUR"}, headers=headers)
    b = await bob.post("/api/v1/carts", {"currency": "EUR"}, headers=headers)
    assert a.json()["id"] != b.json()["id"]


async def test_errors_are_replayed_too(tenant: Tenant) -> None:
    headers = {"Idempotency-Key": "bad-1"}
    first = await tenant.post("/api/v1/carts", {"currency": "XXX"}, headers=headers)
    assert first.status_code == 422
    again = await tenant.post("/api/v1/carts", {"currency": "XXX"}, headers=headers)
    assert again.status_code == 422 and again.headers.get("idempotent-replayed") == "true"


async def test_concurrent_duplicates_execute_once(pg_tenant: Tenant) -> None:
    headers = {"Idempotency-Key": "race-1"}
    responses = await asyncio.gather(*[pg_tenant.post("/api/v1/carts", {"currency": "EUR"}, headers=headers)
                                       for _ in range(10)])
    ok = [r for r in responses if r.status_code == 201]
    assert ok, [r.text for r in responses]
    assert {r.json()["id"] for r in ok} == {ok[0].json()["id"]}
    assert all(r.status_code in (201, 409) for r in responses)
    assert await _cart_events(pg_tenant) == 1


async def test_keys_expire_after_24_hours(backend: Backend) -> None:
    tenant = await make_tenant(backend)
    headers = {"Idempotency-Key": "old-1"}
    first = await tenant.post("/api/v1/carts", {"currency": "EUR"}, headers=headers)
    backend.clock.advance(hours=23)
    assert (await tenant.post("/api/v1/carts", {"currency": "EUR"}, headers=headers)).json()["id"] == first.json()["id"]
    backend.clock.advance(hours=2)
    assert backend.runtime.runner is not None
    removed = await backend.runtime.runner.run_cron("purge_idempotency_keys")
    assert removed >= 1
    async with backend.runtime.db() as conn:
        left = (await conn.execute(sa.select(sa.func.count()).select_from(idempotency_keys)
                                      .where(idempotency_keys.c.app_id == tenant.app_id))).scalar_one()
    assert left == 0
    fresh = await tenant.post("/api/v1/carts", {"currency": "EUR"}, headers=headers)
    assert fresh.status_code == 201 and fresh.json()["id"] != first.json()["id"]


async def test_key_must_be_sane(tenant: Tenant) -> None:
    assert_envelope(await tenant.post("/api/v1/carts", {"currency": "EUR"}, headers={"Idempotency-Key": "k" * 300}),
                    400, "validation_error", "Idempotency-Key")


# ---------------------------------------------------------------- only an executed request spends its key


_runs: dict[str, int] = {}


class _ProbeBody(msgspec.Struct):
    run: str
    code: str | None = None


@post("/probe", status_code=201, sync_to_thread=False)
def _probe(data: JSONBody[_ProbeBody]) -> dict[str, Any]:
    """Counts its runs per `run` and answers with the error `code` it is given, if any."""
    _runs[data.run] = _runs.get(data.run, 0) + 1
    if data.code:
        raise KassaError(data.code, "as asked")
    return {"runs": _runs[data.run]}


@pytest.fixture
async def probe(tenant: Tenant) -> AsyncIterator[Callable[..., Awaitable[httpx.Response]]]:
    """The platform's middleware around a route that fails as told, called with `tenant`'s key."""
    app = build_service_app("idempotency-probe", [_probe], tenant.backend.runtime, owns_runtime=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://probe.test") as client:
        async def call(run: str, code: str | None = None, key: str = "probe-key") -> httpx.Response:
            return await client.post("/probe", json={"run": run, "code": code},
                                     headers=tenant.headers(**{"Idempotency-Key": key}))
        yield call


@pytest.mark.parametrize("code", sorted(NOT_EXECUTED))
async def test_a_refusal_before_running_releases_the_key(probe: Callable[..., Awaitable[httpx.Response]],
                                                         code: str) -> None:
    run = uuid.uuid4().hex
    refused = await probe(run, code)
    assert_envelope(refused, ERROR_STATUS[code], code)
    again = await probe(run)  # the same key, now the request runs
    assert again.status_code == 201 and "idempotent-replayed" not in again.headers
    assert _runs[run] == 2


@pytest.mark.parametrize("code", ["payment_declined", "cart_not_open", "discount_invalid", "internal_error"])
async def test_an_answer_of_the_executed_request_is_kept_and_any_5xx_is_not(
        probe: Callable[..., Awaitable[httpx.Response]], code: str) -> None:
    run = uuid.uuid4().hex
    first = await probe(run, code)
    assert_envelope(first, ERROR_STATUS[code], code)
    again = await probe(run, code)
    assert _runs[run] == (2 if ERROR_STATUS[code] >= 500 else 1)
    assert (again.headers.get("idempotent-replayed") == "true") == (ERROR_STATUS[code] < 500)
    assert again.json()["error"]["code"] == code


async def test_a_body_that_fails_validation_does_not_spend_the_key(tenant: Tenant) -> None:
    headers = {"Idempotency-Key": "fix-and-retry"}
    assert_envelope(await tenant.post("/api/v1/carts", {"currency": "euro"}, headers=headers), 422, "validation_error")
    fixed = await tenant.post("/api/v1/carts", {"currency": "EUR"}, headers=headers)
    assert fixed.status_code == 201 and "idempotent-replayed" not in fixed.headers


async def test_a_key_refused_by_scope_is_not_spent(tenant: Tenant) -> None:
    reader = await tenant.scoped_key(["carts:read"])
    headers = {"Idempotency-Key": "scoped"}
    assert_envelope(await tenant.post("/api/v1/carts", {"currency": "EUR"}, key=reader, headers=headers), 403,
                    "forbidden")
    made = await tenant.post("/api/v1/carts", {"currency": "EUR"}, headers=headers)
    assert made.status_code == 201 and "idempotent-replayed" not in made.headers


async def test_a_completion_refused_as_in_progress_runs_when_retried_with_its_key(
        tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 11, defect 1: four concurrent completes with keys k0-k3 and the declined card; the
    ones refused with 409 `checkout_in_progress` run when retried with their key and body."""
    shop = Shop(tenant, await tenant.variant({"EUR": 1500}))
    session = await shop.session()
    connector = module_of(tenant.backend.runtime).saga.connectors.test
    real_authorize = connector.authorize
    paying, go_on = asyncio.Event(), asyncio.Event()

    async def slow_authorize(**kwargs: Any) -> Any:
        paying.set()
        await go_on.wait()  # k0 holds the session while k1-k3 arrive
        return await real_authorize(**kwargs)

    monkeypatch.setattr(connector, "authorize", slow_authorize)
    path = f"/api/v1/checkout-sessions/{session['id']}/complete"
    body = {"shippingAddress": ADDRESS_DE, "paymentMethod": DECLINE_CARD}
    first = asyncio.create_task(tenant.post(path, body, headers={"Idempotency-Key": "k0"}))
    await paying.wait()
    refused = await asyncio.gather(*(tenant.post(path, body, headers={"Idempotency-Key": f"k{i}"}) for i in (1, 2, 3)))
    for answer in refused:
        assert_envelope(answer, 409, "checkout_in_progress")
    go_on.set()
    assert_envelope(await first, 402, "payment_declined")
    assert (await tenant.get(f"/api/v1/checkout/sessions/{session['id']}")).json()["status"] == "open"

    retried = await tenant.post(path, body, headers={"Idempotency-Key": "k1"})
    assert "idempotent-replayed" not in retried.headers
    assert_envelope(retried, 402, "payment_declined")  # it ran: the card was declined again
    replayed = await tenant.post(path, body, headers={"Idempotency-Key": "k1"})
    assert replayed.headers.get("idempotent-replayed") == "true"
    assert replayed.status_code == 402 and replayed.json() == retried.json()
    assert replayed.headers["original-request"] == retried.headers["x-request-id"] != replayed.headers["x-request-id"]


class Crash(BaseException):
    """The process dies here: nothing after this point runs, nothing is cleaned up."""


async def test_a_completion_cut_off_by_a_crash_leaves_no_key_replaying_a_transient_answer(
        tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checkout process dies mid-completion (after the capture) while serving a request with
    an Idempotency-Key: the key is left claimed and the session held. A retry with that key once
    both claims are over recovers the completion (the capture becomes the order) and gets it."""
    shop = Shop(tenant, await tenant.variant({"EUR": 1500}))
    session = await shop.session()
    saga = module_of(tenant.backend.runtime).saga
    real_capture = saga.connectors.test.capture

    async def capture_then_die(*args: Any, **kwargs: Any) -> Any:
        await real_capture(*args, **kwargs)
        raise Crash

    path = f"/api/v1/checkout-sessions/{session['id']}/complete"
    body = {"shippingAddress": ADDRESS_DE, "paymentMethod": OK_CARD}
    # What a killed process leaves: its claim on the key (nobody released it) and its claim on the session.
    store = tenant.backend.runtime.idempotency
    claim = await store.claim(tenant.app_id, "buy-1", fingerprint("POST", path, b"", msgspec.json.encode(body)))
    assert claim.outcome == "execute"
    monkeypatch.setattr(saga.connectors.test, "capture", capture_then_die)
    with pytest.raises(Crash):
        await saga.complete(Principal(app_id=tenant.app_id, environment="test", key_id="key_x", kind="secret",
                                      scopes=frozenset({"*"})), session["id"],
                            msgspec.convert(body, CompleteCheckoutSession), None)
    monkeypatch.undo()

    tenant.backend.clock.advance(seconds=61)  # both claims have lapsed; the buyer retries
    done = await tenant.post(path, body, headers={"Idempotency-Key": "buy-1"})
    assert done.status_code == 200, done.text
    assert "idempotent-replayed" not in done.headers and done.json()["orderId"]


# ---------------------------------------------------------------- the same parameters are the same request


async def test_a_body_encoded_differently_is_the_same_request(tenant: Tenant) -> None:
    headers = {"Idempotency-Key": "spacing", "content-type": "application/json"}
    first = await tenant.request("POST", "/api/v1/carts", content=b'{"currency": "EUR", "metadata": {"a": "1", "b": "2"}}',
                                 headers=headers)
    assert first.status_code == 201
    for same in (b'{"currency":"EUR","metadata":{"a":"1","b":"2"}}',
                 b'{\n  "metadata": {"b": "2", "a": "1"},\n  "currency": "\\u0045UR"\n}'):
        again = await tenant.request("POST", "/api/v1/carts", content=same, headers=headers)
        assert again.status_code == 201 and again.headers.get("idempotent-replayed") == "true", again.text
        assert again.json()["id"] == first.json()["id"]
    other = await tenant.request("POST", "/api/v1/carts", content=b'{"currency":"EUR","metadata":{"a":"1","b":"3"}}',
                                 headers=headers)
    assert_envelope(other, 409, "idempotency_key_reused")
    assert await _cart_events(tenant) == 1


async def test_a_body_that_is_not_json_is_compared_by_its_bytes(tenant: Tenant) -> None:
    campaign = await tenant.post("/api/v1/campaigns", {"name": "CSV", "reward": {"type": "percent_off", "percent": 5}})
    path = f"/api/v1/campaigns/{campaign.json()['id']}/codes/import"
    headers = {"Idempotency-Key": "csv-1", "content-type": "text/csv"}
    first = await tenant.request("POST", path, content=b"code\nCSVONE\n", headers=headers)
    assert first.status_code in (200, 201), first.text
    same = await tenant.request("POST", path, content=b"code\nCSVONE\n", headers=headers)
    assert same.headers.get("idempotent-replayed") == "true"
    assert_envelope(await tenant.request("POST", path, content=b"code\r\nCSVONE\r\n", headers=headers), 409,
                    "idempotency_key_reused")


def test_the_fingerprint_covers_method_path_query_and_parameters() -> None:
    base = fingerprint("POST", "/api/v1/carts", b"", b'{"a": 1, "b": [1, 2]}')
    assert fingerprint("POST", "/api/v1/carts", b"", b'{"b":[1,2],"a":1}') == base
    assert fingerprint("POST", "/api/v1/carts", b"", b'{"b":[2,1],"a":1}') != base
    assert fingerprint("POST", "/api/v1/carts", b"x=1", b'{"a": 1, "b": [1, 2]}') != base
    assert fingerprint("POST", "/api/v1/products", b"", b'{"a": 1, "b": [1, 2]}') != base
    assert fingerprint("POST", "/api/v1/carts", b"", b"{nope") != fingerprint("POST", "/api/v1/carts", b"", b"{nope ")


async def test_a_completions_answer_is_stored_by_its_finishing_statement(
        tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """The saga knows its answer (the completed session) before the statement that makes the order:
    that statement stores it, so a client that lost the answer of a completion gets it replayed."""
    shop = Shop(tenant, await tenant.variant({"EUR": 1500}))
    session = await shop.session()
    path = f"/api/v1/checkout-sessions/{session['id']}/complete"
    body = {"shippingAddress": ADDRESS_DE, "paymentMethod": OK_CARD}

    async def never(*_: Any, **__: Any) -> None:
        raise AssertionError("the answer was stored with the order; nothing is left to store")

    monkeypatch.setattr(tenant.backend.runtime.idempotency, "complete", never)
    first = await tenant.post(path, body, headers={"Idempotency-Key": "buy-answer"})
    assert first.status_code == 200 and first.json()["status"] == "complete", first.text
    monkeypatch.undo()
    async with tenant.backend.runtime.db() as conn:
        state = (await conn.execute(sa.select(idempotency_keys.c.state).where(
            idempotency_keys.c.app_id == tenant.app_id, idempotency_keys.c.key == "buy-answer"))).scalar_one()
    assert state == "completed"
    replayed = await tenant.post(path, body, headers={"Idempotency-Key": "buy-answer"})
    assert replayed.status_code == 200 and replayed.headers["idempotent-replayed"] == "true"
    assert replayed.content == first.content


async def test_a_sessions_answer_is_stored_with_the_session(tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its client secret is in that answer only: a client that lost it gets it replayed."""
    shop = Shop(tenant, await tenant.variant({"EUR": 1500}))
    cart = await shop.cart()

    async def never(*_: Any, **__: Any) -> None:
        raise AssertionError("the answer was stored with the session; nothing is left to store")

    monkeypatch.setattr(tenant.backend.runtime.idempotency, "complete", never)
    first = await tenant.post("/api/v1/checkout/sessions", {"cartId": cart["id"]}, headers={"Idempotency-Key": "cs-1"})
    assert first.status_code == 201, first.text
    monkeypatch.undo()
    replayed = await tenant.post("/api/v1/checkout/sessions", {"cartId": cart["id"]},
                                 headers={"Idempotency-Key": "cs-1"})
    assert replayed.status_code == 201 and replayed.headers["idempotent-replayed"] == "true"
    assert replayed.content == first.content and replayed.json()["clientSecret"]
