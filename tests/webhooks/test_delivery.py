"""Delivery: signed POSTs of the exact bytes, the retry schedule, Retry-After, 410, auto-disable,
the SSRF guard, rotation overlap, the per-endpoint concurrency cap and ordered delivery."""

from __future__ import annotations

import asyncio
import ipaddress
from datetime import timedelta

import pytest
import sqlalchemy as sa
from kassa_platform import ssrf
from kassa_platform.tables import outbox_events
from kassa_webhooks.config import RETRY_SCHEDULE
from kassa_webhooks.delivery import parse_retry_after
from kassa_webhooks.tables import webhook_attempts, webhook_endpoints

from tests.webhooks.conftest import Merchant, Webhooks, make_merchant
from tests.webhooks.receiver import Received, Receiver


def failing(status: int = 500, headers: dict[str, str] | None = None, times: int | None = None):  # type: ignore[no-untyped-def]
    """A responder that fails (`times` times, or always), then succeeds."""
    count = [0]

    def respond(_: Received) -> tuple[int, dict[str, str], bytes]:
        count[0] += 1
        if times is None or count[0] <= times:
            return status, headers or {}, b"nope"
        return 200, {}, b"ok"

    return respond


async def _attempts(m: Merchant, delivery_id: str) -> list:  # type: ignore[type-arg]
    async with m.backend.runtime.db() as conn:
        return list((await conn.execute(sa.select(webhook_attempts).where(webhook_attempts.c.delivery_id == delivery_id)
                                        .order_by(webhook_attempts.c.attempt))).all())


async def _endpoint_row(m: Merchant, endpoint_id: str):  # type: ignore[no-untyped-def]
    async with m.backend.runtime.db() as conn:
        return (await conn.execute(sa.select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id))).one()


async def test_signed_delivery_of_the_exact_outbox_bytes(webhooks: Webhooks, merchant: Merchant,
                                                         receiver: Receiver) -> None:
    endpoint = await merchant.endpoint(receiver)
    cart = await merchant.cart()
    await webhooks.run()
    assert len(receiver.received) == 1
    got = receiver.received[0]
    assert got.verified  # svix.webhooks.Webhook(secret).verify, as a merchant does
    async with merchant.backend.runtime.db() as conn:
        outbox = (await conn.execute(sa.select(outbox_events).where(outbox_events.c.id == got.event_id))).one()
    assert got.body == outbox.payload and got.event["type"] == "cart.created"
    assert got.event["data"]["cartId"] == cart["id"] and got.event["data"]["sequence"] == 1
    assert got.headers["webhook-id"] == outbox.id and got.headers["user-agent"].startswith("Kassa-Webhooks/")
    assert got.headers["content-type"] == "application/json"
    assert got.headers["webhook-signature"].startswith("v1,")
    [delivery] = await merchant.deliveries()
    assert delivery.status == "succeeded" and delivery.attempt_count == 1 and delivery.last_status_code == 200
    assert delivery.endpoint_id == endpoint["id"] and delivery.next_attempt_at is None
    [attempt] = await _attempts(merchant, delivery.id)
    assert attempt.succeeded and attempt.status_code == 200 and attempt.response_excerpt == "ok"
    assert attempt.latency_ms >= 0 and attempt.error is None


async def test_retries_follow_the_schedule_with_jitter_then_fail(webhooks: Webhooks, merchant: Merchant,
                                                                 receiver: Receiver) -> None:
    receiver.respond = failing(500)
    await merchant.endpoint(receiver)
    event_id = await merchant.emit()
    await webhooks.run()
    clock = merchant.backend.clock
    for attempt, delay in enumerate(RETRY_SCHEDULE, start=1):
        [d] = await merchant.deliveries()
        assert d.status == "pending" and d.attempt_count == attempt and d.last_status_code == 500
        wait = d.next_attempt_at - clock.now()
        assert delay * 0.89 <= wait <= delay * 1.11, (attempt, wait)
        await webhooks.deliver()  # not due yet: nothing is sent
        assert len(receiver.received) == attempt
        clock.advance(seconds=wait.total_seconds() + 0.01)
        await webhooks.deliver()
    [d] = await merchant.deliveries()
    assert d.status == "failed" and d.attempt_count == 8 and d.next_attempt_at is None
    assert len(receiver.received) == 8 and {r.event_id for r in receiver.received} == {event_id}
    attempts = await _attempts(merchant, d.id)
    assert [a.attempt for a in attempts] == list(range(1, 9)) and not any(a.succeeded for a in attempts)
    assert attempts[0].error == "HTTP 500" and attempts[0].response_excerpt == "nope"
    # Every retry came with a hint to come back when it is due (PostgreSQL stays the truth).
    assert any(name == "webhooks_deliver" and defer for name, _, defer in webhooks.queue.hints)


async def test_a_retry_succeeds(webhooks: Webhooks, merchant: Merchant, receiver: Receiver) -> None:
    receiver.respond = failing(503, times=1)
    await merchant.endpoint(receiver)
    await merchant.emit()
    await webhooks.run()
    merchant.backend.clock.advance(seconds=6)
    await webhooks.deliver()
    [d] = await merchant.deliveries()
    assert d.status == "succeeded" and d.attempt_count == 2 and d.succeeded_at is not None
    assert [r.event_id for r in receiver.received][0] == receiver.received[1].event_id  # same webhook-id


async def test_retry_after_is_honoured_on_429_and_503(webhooks: Webhooks, merchant: Merchant,
                                                      receiver: Receiver) -> None:
    receiver.respond = failing(429, {"retry-after": "120"})
    await merchant.endpoint(receiver)
    await merchant.emit()
    await webhooks.run()
    [d] = await merchant.deliveries()
    wait = d.next_attempt_at - merchant.backend.clock.now()
    assert timedelta(seconds=119) <= wait <= timedelta(seconds=121)
    now = merchant.backend.clock.now()
    assert parse_retry_after("Wed, 21 Oct 2099 07:28:00 GMT", now) > timedelta(days=1000)
    assert parse_retry_after("soon", now) is None and parse_retry_after("7", now) == timedelta(seconds=7)


async def test_410_disables_the_endpoint_and_tells_the_others(webhooks: Webhooks, merchant: Merchant,
                                                              receiver: Receiver) -> None:
    gone = await Receiver(respond=failing(410)).start()
    try:
        doomed = await merchant.endpoint(gone)
        watcher = await merchant.endpoint(receiver, enabledEvents=["webhook_endpoint.*"])
        await merchant.emit()
        await merchant.emit()
        await webhooks.run()
        row = await _endpoint_row(merchant, doomed["id"])
        assert row.disabled and "410" in row.disabled_reason
        assert {d.status for d in await merchant.deliveries(endpoint_id=doomed["id"])} == {"failed"}
        await webhooks.run()  # the disabled event went through the outbox like any other
        [notice] = receiver.ok()
        assert notice.event["type"] == "webhook_endpoint.disabled"
        assert notice.event["data"]["endpointId"] == doomed["id"] and "410" in notice.event["data"]["reason"]
        assert watcher["id"] != doomed["id"] and len(gone.received) <= 2
    finally:
        await gone.stop()


async def test_five_days_of_failures_disable_the_endpoint(webhooks: Webhooks, merchant: Merchant,
                                                          receiver: Receiver) -> None:
    broken = await Receiver(respond=failing(500)).start()
    try:
        doomed = await merchant.endpoint(broken)
        await merchant.endpoint(receiver, enabledEvents=["webhook_endpoint.disabled"])
        await merchant.emit()
        await webhooks.run()
        first_failure = (await _endpoint_row(merchant, doomed["id"])).failing_since
        assert first_failure is not None
        merchant.backend.clock.advance(days=4, hours=23)
        await merchant.emit()
        await webhooks.run()
        assert not (await _endpoint_row(merchant, doomed["id"])).disabled  # not five days yet
        merchant.backend.clock.advance(hours=1, seconds=1)
        await merchant.emit()
        await webhooks.run()
        row = await _endpoint_row(merchant, doomed["id"])
        assert row.disabled and row.failing_since == first_failure and "failing" in row.disabled_reason
        await webhooks.run()
        [notice] = receiver.ok()
        assert notice.event["type"] == "webhook_endpoint.disabled"
        assert notice.event["data"]["endpointId"] == doomed["id"]
        # Re-enabling starts afresh.
        enabled = (await merchant.patch(f"/api/v1/webhook-endpoints/{doomed['id']}", {"disabled": False})).json()
        assert enabled["disabled"] is False
        assert (await _endpoint_row(merchant, doomed["id"])).failing_since is None
    finally:
        await broken.stop()


async def test_a_success_ends_the_failing_streak(webhooks: Webhooks, merchant: Merchant, receiver: Receiver) -> None:
    receiver.respond = failing(500, times=1)
    endpoint = await merchant.endpoint(receiver)
    await merchant.emit()
    await webhooks.run()
    assert (await _endpoint_row(merchant, endpoint["id"])).failing_since is not None
    merchant.backend.clock.advance(seconds=6)
    await webhooks.deliver()
    row = await _endpoint_row(merchant, endpoint["id"])
    assert row.failing_since is None and row.last_failure_at is not None and not row.disabled


def test_only_public_addresses_pass_the_guard() -> None:
    for private in ("127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
                    "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "224.0.0.1"):
        assert not ssrf.is_public(ipaddress.ip_address(private)), private
    for public in ("93.184.216.34", "2606:4700::1111", "8.8.8.8"):
        assert ssrf.is_public(ipaddress.ip_address(public)), public


async def test_the_guard_checks_the_address_resolved_at_delivery_time(webhooks: Webhooks, merchant: Merchant,
                                                                      receiver: Receiver,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    webhooks.module.config.allow_private_apps.discard(merchant.app_id)
    created = await merchant.post("/api/v1/webhook-endpoints", {"url": f"http://rebind.example:{receiver.port}/hooks",
                                                                "enabledEvents": ["*"]})
    assert created.status_code == 201  # a public-looking name is accepted when it is saved

    async def rebound(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        # ... and resolves to loopback when it is called (DNS rebinding), beside a public address.
        return [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(ssrf, "resolve", rebound)
    await merchant.emit()
    await webhooks.run()
    [d] = await merchant.deliveries()
    assert d.status == "pending" and d.last_error.startswith("destination_blocked") and d.last_status_code is None
    assert receiver.received == []


async def test_a_literal_private_address_is_refused_unless_allowed(webhooks: Webhooks, merchant: Merchant,
                                                                   receiver: Receiver) -> None:
    await merchant.endpoint(receiver)  # created while the operator allowed private addresses for this app
    webhooks.module.config.allow_private_apps.discard(merchant.app_id)
    await merchant.emit()
    await webhooks.run()
    [d] = await merchant.deliveries()
    assert d.last_error.startswith("destination_blocked") and receiver.received == []
    webhooks.module.config.allow_private_apps.add(merchant.app_id)
    merchant.backend.clock.advance(seconds=6)
    await webhooks.deliver()
    assert len(receiver.ok()) == 1


async def test_rotation_signs_with_both_secrets_during_the_overlap(webhooks: Webhooks, merchant: Merchant,
                                                                   receiver: Receiver) -> None:
    endpoint = await merchant.endpoint(receiver)
    old = endpoint["secret"]
    rotated = await merchant.post(f"/api/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", {"overlapHours": 2})
    new = rotated.json()["secret"]
    await merchant.emit()
    await webhooks.run()
    got = receiver.received[-1]
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    assert Receiver(secrets=[old]).verify(got.body, got.headers)
    assert Receiver(secrets=[new]).verify(got.body, got.headers)
    merchant.backend.clock.advance(hours=2, seconds=1)
    await merchant.emit()
    await webhooks.run()
    after = receiver.received[-1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    assert Receiver(secrets=[new]).verify(after.body, after.headers)
    assert not Receiver(secrets=[old]).verify(after.body, after.headers)


async def test_a_timeout_is_a_failure_and_the_excerpt_is_capped(webhooks: Webhooks, merchant: Merchant,
                                                                receiver: Receiver) -> None:
    async def slow(_: Received) -> tuple[int, dict[str, str], bytes]:
        await asyncio.sleep(5)
        return 200, {}, b"late"

    slow_receiver = await Receiver(respond=slow).start()
    receiver.respond = lambda _: (400, {}, b"x" * 5000)
    config = webhooks.module.config
    saved = config.request_timeout
    config.request_timeout = 0.3
    try:
        await merchant.endpoint(slow_receiver)
        await merchant.endpoint(receiver)
        await merchant.emit()
        await webhooks.run()
    finally:
        config.request_timeout = saved
        await slow_receiver.stop()
    by_endpoint = {d.endpoint_id: d for d in await merchant.deliveries()}
    errors = sorted(d.last_error for d in by_endpoint.values())
    assert errors[0] == "HTTP 400" and errors[1].startswith("timeout")
    attempts = [a for d in by_endpoint.values() for a in await _attempts(merchant, d.id)]
    excerpt = next(a.response_excerpt for a in attempts if a.status_code == 400)
    assert excerpt == "x" * 1024


async def test_concurrency_is_capped_per_endpoint(webhooks: Webhooks, merchant: Merchant, receiver: Receiver) -> None:
    receiver.gate = asyncio.Event()
    endpoint = await merchant.endpoint(receiver, maxConcurrency=2)
    for _ in range(6):
        await merchant.emit()
    await webhooks.relay()
    running = asyncio.create_task(webhooks.deliver())
    await receiver.wait_for(2)
    assert len(await merchant.deliveries(status="sending")) == 2
    # Another worker finds the endpoint at its cap: it takes nothing of it.
    assert [c for c in await webhooks.module.deliverer.claim(50) if c.endpoint_id == endpoint["id"]] == []
    assert len(receiver.received) == 2
    receiver.gate.set()
    await running
    assert len(receiver.ok()) == 6 and {d.status for d in await merchant.deliveries()} == {"succeeded"}


async def test_ordered_delivery_waits_for_the_earlier_event(webhooks: Webhooks, merchant: Merchant,
                                                            receiver: Receiver) -> None:
    unordered = await Receiver().start()
    try:
        await merchant.endpoint(receiver, orderedDelivery=True)
        await merchant.endpoint(unordered)
        ids = [await merchant.emit(aggregate="cart_seq", sequence=n) for n in (1, 2, 3)]
        other = await merchant.emit(aggregate="cart_other")
        first_try = failing(500, times=1)
        receiver.respond = lambda got: first_try(got) if got.event_id == ids[0] else (200, {}, b"ok")
        await webhooks.run()
        # The ordered endpoint got seq 1 (failed) and the other cart's event; seq 2 and 3 wait behind seq 1.
        assert [r.event_id for r in receiver.received] in ([ids[0], other], [other, ids[0]])
        assert {r.event_id for r in unordered.ok()} == {*ids, other}  # no order asked: all went at once
        merchant.backend.clock.advance(seconds=6)
        for _ in range(3):
            await webhooks.deliver()
        delivered = [r.event_id for r in receiver.ok() if r.event_id != other]
        assert delivered == [ids[0], *ids]  # seq 1, its retry, then 2, then 3
    finally:
        await unordered.stop()


async def test_the_test_delivery(webhooks: Webhooks, merchant: Merchant, receiver: Receiver) -> None:
    endpoint = await merchant.endpoint(receiver, enabledEvents=["order.created"])
    response = await merchant.post(f"/api/v1/webhook-endpoints/{endpoint['id']}/test")
    assert response.status_code == 202, response.text
    delivery = response.json()
    assert delivery["eventType"] == "webhook_endpoint.test" and delivery["status"] == "pending"
    await webhooks.deliver()
    [got] = receiver.ok()
    assert got.event_id == delivery["eventId"] and got.event["type"] == "webhook_endpoint.test"
    assert got.event["data"]["endpointId"] == endpoint["id"]
    await merchant.patch(f"/api/v1/webhook-endpoints/{endpoint['id']}", {"disabled": True})
    refused = await merchant.post(f"/api/v1/webhook-endpoints/{endpoint['id']}/test")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "webhook_endpoint_disabled"


async def test_other_merchants_are_unaffected(webhooks: Webhooks, receiver: Receiver) -> None:
    a, b = await make_merchant(webhooks), await make_merchant(webhooks)
    await a.endpoint(receiver)
    await b.endpoint(receiver)
    ea, eb = await a.emit(), await b.emit()
    await webhooks.run()
    assert {r.event_id for r in receiver.ok()} >= {ea, eb}
    assert {d.event_id for d in await a.deliveries()} == {ea}


async def test_a_run_that_took_everything_due_claims_once(webhooks: Webhooks, merchant: Merchant,
                                                          receiver: Receiver) -> None:
    """A claim that left nothing due behind is not followed by claims that can only come back empty:
    a run of a few deliveries costs one claim and the writing of its results."""
    await merchant.endpoint(receiver, maxConcurrency=10)
    await webhooks.run()  # whatever other tests left due
    for _ in range(5):
        await merchant.emit()
    await webhooks.relay()
    with webhooks.backend.counter as counted:
        assert await webhooks.deliver() >= 5
    assert len(receiver.ok()) >= 5
    claims = [s for s in counted.statements if "endpoints_due" in s]
    assert len(claims) == 1, claims
