"""A request whose answer was never stored: its change committed with the key's claim, so a retry never
runs it again (kassa_platform.executed). On both databases: PostgreSQL's cart writes are single
statements on the direct pool, SQLite's are transactions."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import msgspec
import pytest
import sqlalchemy as sa
from kassa_cart.tables import carts
from kassa_contract.errors import KassaError
from kassa_platform.app import build_service_app, runtime_of
from kassa_platform.db import transaction
from kassa_platform.direct import DirectStatement
from kassa_platform.idempotency import LOCK_SECONDS
from kassa_platform.ids import new_id
from kassa_platform.tables import idempotency_keys, outbox_events
from litestar import Request, post
from litestar.params import JSONBody

from tests.conftest import Tenant
from tests.support.envelopes import assert_envelope
from tests.support.liveness import another_process


class Crash(BaseException):
    """The process dies here: nothing after this point runs, nothing is cleaned up."""


async def _events(tenant: Tenant, aggregate_id: str, type_: str | None = None) -> int:
    query = sa.select(sa.func.count()).select_from(outbox_events).where(outbox_events.c.app_id == tenant.app_id,
                                                                       outbox_events.c.aggregate_id == aggregate_id)
    if type_ is not None:
        query = query.where(outbox_events.c.type == type_)
    async with tenant.backend.runtime.db() as conn:
        return (await conn.execute(query)).scalar_one()


async def _state(tenant: Tenant, key: str) -> str | None:
    async with tenant.backend.runtime.db() as conn:
        return (await conn.execute(sa.select(idempotency_keys.c.state).where(
            idempotency_keys.c.app_id == tenant.app_id, idempotency_keys.c.key == key))).scalar()


def _die_before_storing(tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    async def die(*_: Any, **__: Any) -> None:
        raise Crash

    monkeypatch.setattr(tenant.backend.runtime.idempotency, "complete", die)


# ---------------------------------------------------------------- the cart, through the real app


async def test_a_line_added_by_a_request_that_died_before_storing_its_answer_is_replayed(
        tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """The answer is known before the write, and the write stores it (kassa_platform.executed):
    a process that dies after the commit, before anything else, leaves the answer stored."""
    cart = (await tenant.post("/api/v1/carts", {"currency": "EUR"})).json()
    path, body = f"/api/v1/carts/{cart['id']}/line-items", {"variantId": await tenant.variant({"EUR": 900}),
                                                            "quantity": 1}
    key = f"add-{uuid.uuid4().hex}"
    _die_before_storing(tenant, monkeypatch)  # nothing after the handler may store anything
    first = await tenant.post(path, body, headers={"Idempotency-Key": key})
    assert first.status_code == 200, first.text
    monkeypatch.undo()
    assert await _state(tenant, key) == "completed"  # by the very statement that added the line

    # The client lost that answer and retries: it gets it, byte for byte; nothing runs again.
    for _ in range(2):
        retried = await tenant.post(path, body, headers={"Idempotency-Key": key})
        assert retried.status_code == 200 and retried.headers["idempotent-replayed"] == "true"
        assert retried.content == first.content and retried.headers["content-type"] == first.headers["content-type"]
        assert retried.headers["original-request"] == first.headers["x-request-id"]
    lines = (await tenant.get(f"/api/v1/carts/{cart['id']}")).json()["lineItems"]
    assert [line["quantity"] for line in lines] == [1]
    assert await _events(tenant, cart["id"], "cart.updated") == 1
    # A new key is a new request.
    again = await tenant.post(path, body, headers={"Idempotency-Key": key + "-2"})
    assert again.status_code == 200, again.text


async def test_a_cart_created_by_a_request_that_died_before_storing_its_answer_is_replayed_with_its_secret(
        tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    key = f"create-{uuid.uuid4().hex}"
    _die_before_storing(tenant, monkeypatch)
    first = await tenant.post("/api/v1/carts", {"currency": "EUR"}, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    monkeypatch.undo()
    assert await _state(tenant, key) == "completed"
    retried = await tenant.post("/api/v1/carts", {"currency": "EUR"}, headers={"Idempotency-Key": key})
    assert retried.status_code == 201 and retried.headers["idempotent-replayed"] == "true"
    assert retried.content == first.content and retried.json()["clientSecret"] == first.json()["clientSecret"]
    async with tenant.backend.runtime.db() as conn:  # the tenant is this test's own application
        made = (await conn.execute(sa.select(sa.func.count()).select_from(carts)
                                   .where(carts.c.app_id == tenant.app_id))).scalar_one()
    assert made == 1


async def test_a_write_that_failed_to_commit_stores_no_answer(tenant: Tenant) -> None:
    """The answer goes only with a change that committed: a refused change keeps nothing."""
    cart = (await tenant.post("/api/v1/carts", {"currency": "EUR"})).json()
    key = f"missing-{uuid.uuid4().hex}"
    refused = await tenant.post(f"/api/v1/carts/{cart['id']}/line-items", {"variantId": "var_missing", "quantity": 1},
                                headers={"Idempotency-Key": key})
    assert refused.status_code == 422, refused.text
    assert await _state(tenant, key) == "completed"  # the refusal is the answer (kept), stored after it
    replay = await tenant.post(f"/api/v1/carts/{cart['id']}/line-items", {"variantId": "var_missing", "quantity": 1},
                               headers={"Idempotency-Key": key})
    assert replay.status_code == 422 and replay.content == refused.content and "lineItems" not in replay.json()


# ---------------------------------------------------------------- the rules, on a route that writes an event


class _WriteBody(msgspec.Struct):
    run: str
    then: str | None = None  # an error code to answer with after the commit


_EVENT_COLUMNS = ("id", "app_id", "type", "source", "aggregate_id", "sequence", "payload", "created_at")
_INSERT = outbox_events.insert().values({c: sa.bindparam(c) for c in _EVENT_COLUMNS}).returning(outbox_events.c.id)
_DIRECT_WRITE = DirectStatement(_INSERT)
_before_write: dict[str, Callable[[], Awaitable[None]]] = {}


async def _write(request: Request[Any, Any, Any], data: JSONBody[_WriteBody]) -> dict[str, Any]:
    """Adds one event (aggregate `run`) the way the services write: one statement on the direct pool
    on PostgreSQL, a transaction on SQLite; then answers with the error `then`, if any."""
    if (hook := _before_write.pop(data.run, None)) is not None:
        await hook()
    runtime = runtime_of(request)
    now = runtime.clock.now()
    principal = request.scope["kassa.principal"]  # type: ignore[typeddict-item]
    event = {"id": new_id("evt"), "app_id": principal.app_id, "type": "probe.written", "source": "probe",
             "aggregate_id": data.run, "sequence": 1, "payload": b"{}", "created_at": now}
    if runtime.db.direct is not None:
        await runtime.db.direct.fetchrow(_DIRECT_WRITE, event)
    else:
        async with transaction(runtime.db) as conn:
            await conn.execute(_INSERT, event)
    if data.then:
        raise KassaError(data.then, "as asked")
    return {"run": data.run}


_writer = post("/write", status_code=201)(_write)
_guarded_writer = post("/guarded-write", status_code=201, opt={"self_guarded": True})(_write)


@pytest.fixture
async def write(tenant: Tenant) -> AsyncIterator[Callable[..., Awaitable[httpx.Response]]]:
    app = build_service_app("idempotency-writer", [_writer, _guarded_writer], tenant.backend.runtime,
                            owns_runtime=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://probe.test") as client:
        async def call(run: str, key: str, then: str | None = None, path: str = "/write") -> httpx.Response:
            return await client.post(path, json={"run": run, "then": then},
                                     headers=tenant.headers(**{"Idempotency-Key": key}))
        yield call


@pytest.mark.parametrize("code", ["internal_error", "service_unavailable", "checkout_in_progress"])
async def test_an_answer_not_kept_after_the_commit_keeps_the_key(
        write: Callable[..., Awaitable[httpx.Response]], tenant: Tenant, code: str) -> None:
    """A 5xx (or a "did not run" code) after the change committed: the key stays executed, and a
    retry is told so at once rather than running it again."""
    run = uuid.uuid4().hex
    assert (await write(run, run, then=code)).json()["error"]["code"] == code
    assert_envelope(await write(run, run, then=code), 409, "idempotency_key_executed")
    assert await _events(tenant, run) == 1


async def test_a_request_that_failed_before_committing_still_releases_its_key(
        write: Callable[..., Awaitable[httpx.Response]], tenant: Tenant) -> None:
    run = uuid.uuid4().hex

    async def fail() -> None:
        raise KassaError("service_unavailable", "not now")

    _before_write[run] = fail
    assert_envelope(await write(run, run), 503, "service_unavailable")
    assert await _state(tenant, run) is None
    assert (await write(run, run)).status_code == 201
    assert await _events(tenant, run) == 1


async def test_a_request_whose_claim_was_taken_over_does_not_commit(
        write: Callable[..., Awaitable[httpx.Response]], tenant: Tenant) -> None:
    """The first request stalls past its lock; a retry takes the key over and runs. When the first
    one gets to its commit, the claim is no longer its own: its change rolls back."""
    run = uuid.uuid4().hex
    stalled, go_on = asyncio.Event(), asyncio.Event()

    async def stall() -> None:
        stalled.set()
        await go_on.wait()

    _before_write[run] = stall
    first = asyncio.create_task(write(run, run))
    await stalled.wait()
    tenant.backend.clock.advance(seconds=LOCK_SECONDS + 1)
    second = await write(run, run)
    assert second.status_code == 201 and "idempotent-replayed" not in second.headers
    go_on.set()
    assert_envelope(await first, 409, "idempotency_key_in_progress")
    assert await _events(tenant, run) == 1
    replayed = await write(run, run)
    assert replayed.headers.get("idempotent-replayed") == "true" and replayed.json() == second.json()


async def test_a_self_guarded_route_runs_again_after_a_crash(
        write: Callable[..., Awaitable[httpx.Response]], tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """`opt={"self_guarded": True}` (the checkout completion): the handler's own guard answers a
    rerun, so its claim is not marked and a retry after its lock runs it again."""
    run = uuid.uuid4().hex
    _die_before_storing(tenant, monkeypatch)
    with pytest.raises(Crash):
        await write(run, run, path="/guarded-write")
    monkeypatch.undo()
    assert await _state(tenant, run) == "in_progress"
    tenant.backend.clock.advance(seconds=LOCK_SECONDS + 1)
    assert (await write(run, run, path="/guarded-write")).status_code == 201
    assert await _events(tenant, run) == 2


# ---------------------------------------------------------------- a dead process's claim (kassa_platform.liveness)


@pytest.mark.parametrize("backend", ["pg"], indirect=True)  # processes and their locks: PostgreSQL
async def test_the_claim_of_a_dead_process_is_taken_over_at_once(
        write: Callable[..., Awaitable[httpx.Response]], tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> None:
    """No waiting for its lock: once the process that held the claim is dead, a retry runs (a claim
    that had not committed) or is told at once that the change stands (one that had)."""
    runtime = tenant.backend.runtime
    before, executed_run, guarded_run = uuid.uuid4().hex, uuid.uuid4().hex, uuid.uuid4().hex
    async with another_process(runtime) as other:
        async def die() -> None:
            raise Crash

        _before_write[before] = die
        _die_before_storing_on(runtime, monkeypatch)  # and before anything else it would do
        with pytest.raises(Crash):
            await write(before, before)
        with pytest.raises(Crash):
            await write(executed_run, executed_run)
        with pytest.raises(Crash):
            await write(guarded_run, guarded_run, path="/guarded-write")
        monkeypatch.undo()
        other.back_to_this_process()
        # Alive: a retry waits for it (briefly, here) and is told to come back.
        monkeypatch.setattr("kassa_platform.idempotency.WAIT_FOR_FIRST_SECONDS", 0.2)
        assert_envelope(await write(before, before), 409, "idempotency_key_in_progress")
        monkeypatch.undo()
        await other.kill()
        # Dead: no clock moved, no lock ran out.
        assert (await write(before, before)).status_code == 201
        assert_envelope(await write(executed_run, executed_run), 409, "idempotency_key_executed")
        assert (await write(guarded_run, guarded_run, path="/guarded-write")).status_code == 201


def _die_before_storing_on(runtime: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    async def die(*_: Any, **__: Any) -> None:
        raise Crash

    for step in ("complete", "release", "end_lease"):
        monkeypatch.setattr(runtime.idempotency, step, die)
