"""The completion saga under concurrency and faults: one order and one capture, whatever happens."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from kassa_checkout import jobs
from kassa_checkout.service import CheckoutModule, module_of
from kassa_checkout.tables import checkout_sessions, orders, payments, test_payment_intents
from kassa_contract.checkout import CompleteCheckoutSession
from kassa_platform.auth import Principal
from kassa_platform.jobs import JobContext

from tests.conftest import ADDRESS_DE
from tests.support.cards import OK_CARD
from tests.support.envelopes import assert_envelope
from tests.support.liveness import another_process
from tests.support.shop import Shop


class Crash(BaseException):
    """The process dies here: nothing after this point runs, nothing is cleaned up."""


def _principal(shop: Shop) -> Principal:
    return Principal(app_id=shop.t.app_id, environment="test", key_id="key_test", kind="secret",
                     scopes=frozenset({"*"}))


def _module(shop: Shop) -> CheckoutModule:
    return module_of(shop.backend.runtime)


def _ctx(shop: Shop) -> JobContext:
    return shop.backend.runtime.job_context()


async def _count(shop: Shop, table: Any, **where: Any) -> int:
    async with shop.backend.runtime.db() as conn:
        query = sa.select(sa.func.count()).select_from(table)
        for name, value in where.items():
            query = query.where(table.c[name] == value)
        return (await conn.execute(query)).scalar_one()


async def _charges(shop: Shop, session_id: str) -> int:
    async with shop.backend.runtime.db() as conn:
        return (await conn.execute(sa.select(test_payment_intents.c.charges)
                                   .where(test_payment_intents.c.key == session_id))).scalar_one_or_none() or 0


async def _crashing_complete(shop: Shop, session_id: str, monkeypatch: pytest.MonkeyPatch, target: Any,
                             name: str) -> None:
    """Run a complete that dies at `target.name` (after the real call when it is the connector)."""
    real = getattr(target, name)

    async def die(*args: Any, **kwargs: Any) -> Any:
        if name in ("capture", "authorize"):
            await real(*args, **kwargs)  # the provider did its part; the answer never reaches us
        raise Crash

    monkeypatch.setattr(target, name, die)
    body = CompleteCheckoutSession(payment_method=_payment(), shipping_address=_address())
    with pytest.raises(Crash):
        await _module(shop).saga.complete(_principal(shop), session_id, body, None)
    monkeypatch.setattr(target, name, real)


def _payment():  # type: ignore[no-untyped-def]
    import msgspec
    from kassa_contract.checkout import PaymentMethodInput

    return msgspec.convert(OK_CARD, PaymentMethodInput)


def _address():  # type: ignore[no-untyped-def]
    import msgspec
    from kassa_contract.cart import CartAddress

    return msgspec.convert(ADDRESS_DE, CartAddress)


async def test_twenty_concurrent_completes_make_one_order_and_one_capture(pg_shop: Shop) -> None:
    shop = pg_shop
    session = await shop.session()
    answers = await asyncio.gather(*(shop.complete(session["id"]) for _ in range(20)))
    codes = sorted(a.status_code for a in answers)
    assert set(codes) <= {200, 409} and 200 in codes, [a.text for a in answers if a.status_code not in (200, 409)]
    for refused in (a for a in answers if a.status_code == 409):
        assert_envelope(refused, 409, "checkout_in_progress")
    assert {a.json()["orderId"] for a in answers if a.status_code == 200} != {None}
    assert await _count(shop, orders, session_id=session["id"]) == 1
    assert await _count(shop, payments, session_id=session["id"], status="captured") == 1
    assert await _charges(shop, session["id"]) == 1
    assert len(await shop.events("order.created")) == 1
    assert (await shop.get_cart(session["cartId"]))["status"] == "converted"


async def test_a_crash_after_capture_is_finished_by_the_reconcile_job_once(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    session = await shop.session(metadata={"ref": "A1"})
    saga = _module(shop).saga
    await _crashing_complete(shop, session["id"], monkeypatch, saga.connectors.test, "capture")
    assert await _charges(shop, session["id"]) == 1
    assert await _count(shop, orders, session_id=session["id"]) == 0
    # while the claim runs, a retry waits; the session cannot be cancelled under it
    assert_envelope(await shop.complete(session["id"]), 409, "checkout_in_progress")
    assert_envelope(await shop.t.delete(f"/api/v1/checkout/sessions/{session['id']}"), 409, "checkout_in_progress")
    assert await jobs.reconcile_checkouts(_ctx(shop)) == 0  # the claim has not lapsed yet
    shop.backend.clock.advance(seconds=61)
    # the claim lapsed: a buyer's retry recovers it as the reconcile job would (the provider says it
    # was paid: the order is made), and answers with the finished session
    recovered = await shop.complete(session["id"])
    assert recovered.status_code == 200 and recovered.json()["status"] == "complete", recovered.text
    assert await jobs.reconcile_checkouts(_ctx(shop)) == 0
    assert await _count(shop, orders, session_id=session["id"]) == 1
    assert await _charges(shop, session["id"]) == 1
    done = (await shop.t.get(f"/api/v1/checkout/sessions/{session['id']}")).json()
    assert (done["status"], done["paymentStatus"]) == ("complete", "paid")
    order = (await shop.t.get(f"/api/v1/orders/{done['orderId']}")).json()
    assert order["metadata"]["ref"] == "A1" and order["total"] == 3000
    assert (await shop.get_cart(session["cartId"]))["status"] == "converted"
    assert len(await shop.events("order.created")) == 1
    again = await shop.complete(session["id"])
    assert again.status_code == 200 and again.json()["orderId"] == order["id"]


async def test_a_crash_after_authorization_is_captured_and_finished(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    session = await shop.session()
    saga = _module(shop).saga
    await _crashing_complete(shop, session["id"], monkeypatch, saga.connectors.test, "authorize")
    assert await _charges(shop, session["id"]) == 0
    shop.backend.clock.advance(seconds=61)
    await jobs.reconcile_checkouts(_ctx(shop))
    assert await _charges(shop, session["id"]) == 1
    assert await _count(shop, orders, session_id=session["id"]) == 1


async def test_a_crash_before_paying_unwinds_the_cart_lock(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    t = shop.t
    camp = (await t.post("/api/v1/campaigns", {"name": "Once", "usageLimit": 1,
                                               "reward": {"type": "fixed_off", "amounts": {"EUR": 500}}})).json()
    await t.post(f"/api/v1/campaigns/{camp['id']}/codes", {"code": "ONCE"})
    session = await shop.session(discountCode="ONCE")
    saga = _module(shop).saga

    class Dead:
        name = "test"

        async def authorize(self, **_: Any) -> None:
            raise Crash

    monkeypatch.setattr(saga.connectors, "test", Dead())
    body = CompleteCheckoutSession(payment_method=_payment(), shipping_address=_address())
    with pytest.raises(Crash):
        await saga.complete(_principal(shop), session["id"], body, None)
    monkeypatch.undo()
    assert (await shop.get_cart(session["cartId"]))["status"] == "checkout"
    assert (await t.get(f"/api/v1/campaigns/{camp['id']}/stats")).json()["reservedUses"] == 1
    shop.backend.clock.advance(seconds=61)
    await jobs.reconcile_checkouts(_ctx(shop))
    assert (await shop.get_cart(session["cartId"]))["status"] == "open"
    assert (await t.get(f"/api/v1/campaigns/{camp['id']}/stats")).json()["reservedUses"] == 0
    seen = (await t.get(f"/api/v1/checkout/sessions/{session['id']}")).json()
    assert seen["status"] == "open" and seen["lastPaymentError"]["code"] == "payment_abandoned"
    assert (await shop.complete(session["id"])).status_code == 200


async def test_the_cart_service_down_during_conversion_is_retried_until_it_lands(shop: Shop) -> None:
    module = _module(shop)
    client = module.cart.client
    real = client._http()
    down = {"on": True}

    async def handler(request: httpx.Request) -> httpx.Response:
        if down["on"] and request.url.path.endswith("/convert"):
            raise httpx.ConnectError("cart service unreachable")
        response = await real.send(request)
        return httpx.Response(response.status_code, headers=response.headers, content=response.content)

    flaky = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url=real.base_url)
    client._client, backoff = flaky, client.backoff
    client.backoff = 0
    try:
        session = await shop.session()
        done = await shop.complete(session["id"])
        assert done.status_code == 200 and done.json()["status"] == "complete"  # the order stands
        assert (await shop.get_cart(session["cartId"]))["status"] == "checkout"
        await jobs.reconcile_checkouts(_ctx(shop))  # still down: stays owed
        async with shop.backend.runtime.db() as conn:
            pending = (await conn.execute(sa.select(checkout_sessions.c.cart_pending)
                                          .where(checkout_sessions.c.id == session["id"]))).scalar_one()
        assert pending == "convert"
        down["on"] = False
        await jobs.reconcile_checkouts(_ctx(shop))
        assert (await shop.get_cart(session["cartId"]))["status"] == "converted"
        await jobs.reconcile_checkouts(_ctx(shop))  # nothing left, nothing repeated
        assert len([e for e in await shop.events("cart.updated")
                    if e["data"]["cart"]["status"] == "converted"]) == 1
    finally:
        client._client, client.backoff = real, backoff
        await flaky.aclose()


async def test_the_cart_service_down_before_locking_answers_503_and_charges_nothing(shop: Shop) -> None:
    module = _module(shop)
    client = module.cart.client
    real = client._http()

    async def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("cart service unreachable")

    flaky = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url=real.base_url)
    session = await shop.session()
    client._client, backoff = flaky, client.backoff
    client.backoff = 0
    try:
        refused = await shop.complete(session["id"])
        assert_envelope(refused, 503, "service_unavailable")
    finally:
        client._client, client.backoff = real, backoff
        await flaky.aclose()
    assert await _charges(shop, session["id"]) == 0
    assert (await shop.complete(session["id"])).status_code == 200


async def test_one_customers_carts_checking_out_at_once_respect_the_per_customer_limit(pg_shop: Shop) -> None:
    shop = pg_shop
    t = shop.t
    camp = (await t.post("/api/v1/campaigns", {"name": "One each", "rules": {"perCustomerLimit": 1},
                                               "reward": {"type": "fixed_off", "amounts": {"EUR": 500}}})).json()
    await t.post(f"/api/v1/campaigns/{camp['id']}/codes", {"code": "ONEEACH"})
    sessions = [await shop.session((await shop.cart(customerEmail="ana@example.com", discountCodes=["ONEEACH"]))["id"])
                for _ in range(4)]
    answers = await asyncio.gather(*(shop.complete(s["id"]) for s in sessions))
    done = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code != 200]
    assert len(done) == 1, [a.text for a in answers]
    for answer in refused:
        assert_envelope(answer, 422, "discount_invalid")
    rows = (await t.get("/api/v1/redemptions", params={"campaignId": camp["id"], "status": "confirmed"})).json()["data"]
    assert len(rows) == 1


async def test_a_refund_cut_off_after_the_provider_is_settled_once_by_the_reconcile_job(
        shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    session = await shop.session()
    order_id = (await shop.complete(session["id"])).json()["orderId"]
    module = _module(shop)
    connector = module.connectors.test
    real = connector.refund

    async def die(**kwargs: Any) -> Any:
        await real(**kwargs)  # the provider refunded; the answer never reaches us
        raise Crash

    monkeypatch.setattr(connector, "refund", die)
    from kassa_contract.checkout import CreateRefund

    with pytest.raises(Crash):
        await module.orders.refund(_principal(shop), order_id, CreateRefund(amount=1000))
    monkeypatch.setattr(connector, "refund", real)
    [pending] = (await shop.t.get(f"/api/v1/orders/{order_id}/refunds")).json()["data"]
    assert pending["status"] == "pending"
    # the pending amount is held: nobody can refund past the total meanwhile
    too_much = await shop.t.post(f"/api/v1/orders/{order_id}/refunds", {"amount": 2500})
    assert_envelope(too_much, 422, "refund_exceeds_amount")
    assert await jobs.reconcile_checkouts(_ctx(shop)) == 0  # a fresh pending refund is the request's own
    shop.backend.clock.advance(minutes=2)
    await jobs.reconcile_checkouts(_ctx(shop))
    await jobs.reconcile_checkouts(_ctx(shop))
    [settled] = (await shop.t.get(f"/api/v1/orders/{order_id}/refunds")).json()["data"]
    assert settled["status"] == "succeeded"
    order = (await shop.t.get(f"/api/v1/orders/{order_id}")).json()
    assert (order["status"], order["amountRefunded"]) == ("partially_refunded", 1000)
    assert len(await shop.events("order.refunded")) == 1
    async with shop.backend.runtime.db() as conn:
        refunded = (await conn.execute(sa.select(test_payment_intents.c.refunded)
                                       .where(test_payment_intents.c.key == session["id"]))).scalar_one()
    assert refunded == 1000  # the provider moved the money once


async def test_concurrent_refunds_never_exceed_the_order_total(pg_shop: Shop) -> None:
    shop = pg_shop
    session = await shop.session()
    order_id = (await shop.complete(session["id"])).json()["orderId"]
    answers = await asyncio.gather(*(shop.t.post(f"/api/v1/orders/{order_id}/refunds", {"amount": 1000})
                                     for _ in range(10)))
    assert sorted(a.status_code for a in answers) == [201] * 3 + [422] * 7
    order = (await shop.t.get(f"/api/v1/orders/{order_id}")).json()
    assert (order["amountRefunded"], order["status"]) == (3000, "refunded")
    async with shop.backend.runtime.db() as conn:
        refunded = (await conn.execute(sa.select(test_payment_intents.c.refunded)
                                       .where(test_payment_intents.c.key == session["id"]))).scalar_one()
    assert refunded == 3000


# ---------------------------------------------------------------- a completer whose process died (liveness)


@pytest.mark.parametrize("dies_at", ["capture", "authorize", "before_paying"])
async def test_a_retry_recovers_the_completion_of_a_dead_process_at_once(
        pg_shop: Shop, monkeypatch: pytest.MonkeyPatch, dies_at: str) -> None:
    """No waiting for the claim's deadline: once the process holding it is dead, the retry asks the
    provider what the cut-off attempt did and finishes (paid: the order) or unwinds and pays itself."""
    shop = pg_shop
    session = await shop.session()
    saga = _module(shop).saga
    async with another_process(shop.backend.runtime) as other:
        if dies_at == "before_paying":  # the cart locked and the attempt recorded, nothing charged
            async def die(*_: Any, **__: Any) -> Any:
                raise Crash

            monkeypatch.setattr(saga.connectors.test, "authorize", die)
            with pytest.raises(Crash):
                await saga.complete(_principal(shop), session["id"],
                                    CompleteCheckoutSession(payment_method=_payment(), shipping_address=_address()), None)
            monkeypatch.undo()
        else:
            await _crashing_complete(shop, session["id"], monkeypatch, saga.connectors.test, dies_at)
        other.back_to_this_process()
        # Alive: its claim stands.
        assert_envelope(await shop.complete(session["id"]), 409, "checkout_in_progress")
        await other.kill()
        retried = await shop.complete(session["id"])  # no clock moved
        assert retried.status_code == 200 and retried.json()["status"] == "complete", retried.text
    assert await _count(shop, orders, session_id=session["id"]) == 1
    assert await _charges(shop, session["id"]) == 1
    assert (await shop.get_cart(session["cartId"]))["status"] == "converted"
    assert len(await shop.events("order.created")) == 1


async def test_the_liveness_watch_recovers_a_dead_processs_completion_without_a_retry(
        pg_shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    shop = pg_shop
    session = await shop.session()
    saga = _module(shop).saga
    async with another_process(shop.backend.runtime) as other:
        await _crashing_complete(shop, session["id"], monkeypatch, saga.connectors.test, "capture")
        other.back_to_this_process()
        reap = shop.backend.runtime.liveness.reapers["checkout"]
        await reap()
        assert await _count(shop, orders, session_id=session["id"]) == 0  # alive: not its business
        await other.kill()
        await reap()
    assert await _count(shop, orders, session_id=session["id"]) == 1
    assert await _charges(shop, session["id"]) == 1


async def test_a_recovery_that_cannot_finish_hands_the_claim_back_at_once(
        pg_shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    """The provider is away while the liveness watch recovers a dead process's completion: the claim
    is left lapsed, not held by the watching process for a minute; the buyer's retry then finishes it."""
    from kassa_contract.errors import KassaError

    shop = pg_shop
    session = await shop.session()
    saga = _module(shop).saga
    async with another_process(shop.backend.runtime) as other:
        await _crashing_complete(shop, session["id"], monkeypatch, saga.connectors.test, "capture")
        other.back_to_this_process()
        await other.kill()

    async def away(*_: Any, **__: Any) -> Any:
        raise KassaError("payment_provider_unavailable", "away", status=503)

    monkeypatch.setattr(saga.connectors.test, "status", away)
    await shop.backend.runtime.liveness.reapers["checkout"]()
    monkeypatch.undo()
    async with shop.backend.runtime.db() as conn:
        held = (await conn.execute(sa.select(checkout_sessions.c.claim_token, checkout_sessions.c.claim_until)
                                   .where(checkout_sessions.c.id == session["id"]))).first()
    assert held.claim_token is not None and held.claim_until <= shop.backend.clock.now()
    retried = await shop.complete(session["id"])
    assert retried.status_code == 200 and retried.json()["status"] == "complete", retried.text
    assert await _count(shop, orders, session_id=session["id"]) == 1
    assert await _charges(shop, session["id"]) == 1
