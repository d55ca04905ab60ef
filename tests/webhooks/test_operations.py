"""Operations: events, deliveries per endpoint and per event (with filters), attempts, resend,
recover since a time, and per-endpoint stats."""

from __future__ import annotations

from kassa_contract.versions import LATEST_VERSION

from tests.support.envelopes import assert_envelope
from tests.webhooks.conftest import Merchant, Webhooks, make_merchant
from tests.webhooks.receiver import Received, Receiver

EP = "/api/v1/webhook-endpoints"


async def test_events_are_listed_newest_first_and_filtered(webhooks: Webhooks, merchant: Merchant,
                                                           receiver: Receiver) -> None:
    await merchant.endpoint(receiver)
    cart = await merchant.cart()
    order = await merchant.emit("order.created", data={"orderId": "ord_1", "sequence": 1})
    await webhooks.relay()
    events = (await merchant.get("/api/v1/events")).json()
    # The endpoint's creation is in the audit log, and its `audit.entry.created` event in the list.
    assert [e["type"] for e in events["data"]] == ["order.created", "cart.created", "audit.entry.created"]
    assert events["data"][0] == {"id": order, "type": "order.created", "version": "1", "apiVersion": LATEST_VERSION,
                                 "createdAt": events["data"][0]["createdAt"],
                                 "data": {"orderId": "ord_1", "sequence": 1}}
    assert events["data"][1]["data"]["cartId"] == cart["id"]
    only_carts = (await merchant.get("/api/v1/events", params={"type": "cart.created"})).json()["data"]
    assert [e["type"] for e in only_carts] == ["cart.created"]
    first = (await merchant.get("/api/v1/events", params={"limit": 2})).json()
    second = (await merchant.get("/api/v1/events", params={"limit": 2, "cursor": first["nextCursor"]})).json()
    assert [e["id"] for e in first["data"] + second["data"]] == [e["id"] for e in events["data"]]
    assert second["nextCursor"] is None
    assert (await merchant.get(f"/api/v1/events/{order}")).json()["id"] == order
    assert_envelope(await merchant.get("/api/v1/events/evt_nope"), 404, "event_not_found")
    other = await make_merchant(webhooks)
    assert_envelope(await other.get(f"/api/v1/events/{order}"), 404, "event_not_found")
    assert (await other.get("/api/v1/events")).json()["data"] == []


async def test_deliveries_per_endpoint_and_event_with_attempts(webhooks: Webhooks, merchant: Merchant,
                                                               receiver: Receiver) -> None:
    broken = await Receiver(respond=lambda _: (500, {}, b"down")).start()
    try:
        good = await merchant.endpoint(receiver)
        bad = await merchant.endpoint(broken)
        cart_event = await merchant.emit("cart.updated")
        order_event = await merchant.emit("order.created")
        await webhooks.run()
        listed = (await merchant.get(f"{EP}/{bad['id']}/deliveries")).json()["data"]
        assert {d["eventId"] for d in listed} == {cart_event, order_event}
        assert all(d["status"] == "pending" and d["lastStatusCode"] == 500 and d["attemptCount"] == 1 for d in listed)
        assert [d["eventType"] for d in (await merchant.get(f"{EP}/{bad['id']}/deliveries",
                                                            params={"eventType": "order.created"})).json()["data"]] \
            == ["order.created"]
        succeeded = (await merchant.get(f"{EP}/{good['id']}/deliveries", params={"status": "succeeded"})).json()
        assert len(succeeded["data"]) == 2
        assert (await merchant.get(f"{EP}/{good['id']}/deliveries", params={"status": "failed"})).json()["data"] == []
        later = merchant.backend.clock.now().isoformat()
        assert (await merchant.get(f"{EP}/{good['id']}/deliveries", params={"since": later})).json()["data"] == []
        assert len((await merchant.get(f"{EP}/{good['id']}/deliveries",
                                       params={"until": later})).json()["data"]) == 2
        per_event = (await merchant.get(f"/api/v1/events/{order_event}/deliveries")).json()["data"]
        assert {d["endpointId"] for d in per_event} == {good["id"], bad["id"]}
        failed_one = next(d for d in per_event if d["endpointId"] == bad["id"])
        assert (await merchant.get(f"/api/v1/webhook-deliveries/{failed_one['id']}")).json() == failed_one
        [attempt] = (await merchant.get(f"/api/v1/webhook-deliveries/{failed_one['id']}/attempts")).json()["data"]
        assert attempt["statusCode"] == 500 and attempt["responseExcerpt"] == "down" and attempt["attempt"] == 1
        assert attempt["succeeded"] is False and attempt["error"] == "HTTP 500"
        assert_envelope(await merchant.get(f"{EP}/{bad['id']}/deliveries", params={"status": "lost"}), 400,
                        "validation_error", "status")
        assert_envelope(await merchant.get("/api/v1/webhook-deliveries/whd_nope"), 404, "webhook_delivery_not_found")
    finally:
        await broken.stop()


async def test_resend_one_delivery(webhooks: Webhooks, merchant: Merchant, receiver: Receiver) -> None:
    await merchant.endpoint(receiver)
    event_id = await merchant.emit()
    await webhooks.run()
    [delivery] = await merchant.deliveries()
    resent = await merchant.post(f"/api/v1/webhook-deliveries/{delivery.id}/resend")
    assert resent.status_code == 202 and resent.json()["status"] == "pending"
    await webhooks.deliver()
    assert [r.event_id for r in receiver.ok()] == [event_id, event_id]  # same webhook-id: receivers dedupe
    [after] = await merchant.deliveries()
    assert after.status == "succeeded" and after.attempt_count == 2


async def test_recover_failed_deliveries_since_a_time(webhooks: Webhooks, merchant: Merchant,
                                                      receiver: Receiver) -> None:
    outage = [True]

    def respond(_: Received) -> tuple[int, dict[str, str], bytes]:
        return (500, {}, b"down") if outage[0] else (200, {}, b"ok")

    receiver.respond = respond
    endpoint = await merchant.endpoint(receiver)
    clock = merchant.backend.clock
    early = await merchant.emit()
    clock.advance(hours=1)
    since = clock.now()
    late = [await merchant.emit() for _ in range(3)]
    await webhooks.run()
    for _ in range(8):  # the whole retry schedule runs out during the outage
        clock.advance(hours=11)
        await webhooks.deliver()
    assert {d.status for d in await merchant.deliveries()} == {"failed"}
    outage[0] = False
    receiver.received.clear()
    recovered = await merchant.post(f"{EP}/{endpoint['id']}/recover", {"since": since.isoformat()})
    assert recovered.status_code == 202 and recovered.json() == {"recovered": 3}
    await webhooks.deliver()
    assert receiver.event_ids == set(late) and early not in receiver.event_ids
    statuses = {d.event_id: d.status for d in await merchant.deliveries()}
    assert statuses == {early: "failed", **{e: "succeeded" for e in late}}
    bad_window = await merchant.post(f"{EP}/{endpoint['id']}/recover", {"since": since.isoformat(),
                                                                         "until": since.isoformat()})
    assert_envelope(bad_window, 422, "validation_error", "until")


async def test_resend_and_recover_refuse_a_disabled_endpoint(webhooks: Webhooks, merchant: Merchant,
                                                             receiver: Receiver) -> None:
    endpoint = await merchant.endpoint(receiver)
    await merchant.emit()
    await webhooks.run()
    [delivery] = await merchant.deliveries()
    await merchant.patch(f"{EP}/{endpoint['id']}", {"disabled": True})
    assert_envelope(await merchant.post(f"/api/v1/webhook-deliveries/{delivery.id}/resend"), 409,
                    "webhook_endpoint_disabled")
    assert_envelope(await merchant.post(f"{EP}/{endpoint['id']}/recover", {"since": "2020-01-01T00:00:00Z"}), 409,
                    "webhook_endpoint_disabled")


async def test_disabling_fails_the_waiting_deliveries(webhooks: Webhooks, merchant: Merchant,
                                                      receiver: Receiver) -> None:
    endpoint = await merchant.endpoint(receiver)
    await merchant.emit()
    await webhooks.relay()
    await merchant.patch(f"{EP}/{endpoint['id']}", {"disabled": True})
    [d] = await merchant.deliveries()
    assert d.status == "failed" and "disabled" in d.last_error
    await webhooks.deliver()
    assert receiver.received == []


async def test_stats(webhooks: Webhooks, merchant: Merchant, receiver: Receiver) -> None:
    calls = [0]

    def every_other(_: Received) -> tuple[int, dict[str, str], bytes]:
        calls[0] += 1
        return (200, {}, b"ok") if calls[0] % 2 else (502, {}, b"bad gateway")

    receiver.respond = every_other
    endpoint = await merchant.endpoint(receiver, maxConcurrency=1)
    empty = (await merchant.get(f"{EP}/{endpoint['id']}/stats")).json()
    assert empty["attempts"] == 0 and empty["successRate"] is None and empty["backlog"] == 0
    for _ in range(4):
        await merchant.emit()
    await webhooks.run()
    stats = (await merchant.get(f"{EP}/{endpoint['id']}/stats", params={"windowHours": 1})).json()
    assert stats["attempts"] == 4 and stats["succeeded"] == 2 and stats["failed"] == 2
    assert stats["successRate"] == 0.5 and stats["backlog"] == 2 and stats["oldestPendingAt"] is not None
    assert stats["lastFailureReason"] == "HTTP 502" and stats["lastFailureAt"] and stats["lastSuccessAt"]
    assert stats["windowHours"] == 1
    merchant.backend.clock.advance(hours=2)
    quiet = (await merchant.get(f"{EP}/{endpoint['id']}/stats", params={"windowHours": 1})).json()
    assert quiet["attempts"] == 0 and quiet["backlog"] == 2


async def test_history_past_the_retention_goes_unless_something_is_still_owed(webhooks: Webhooks, merchant: Merchant,
                                                                              receiver: Receiver) -> None:
    from datetime import UTC, datetime, timedelta

    from kassa_webhooks.retention import purge_history

    broken = await Receiver(respond=lambda _: (500, {}, b"down")).start()
    try:
        await merchant.endpoint(receiver)
        delivered = await merchant.emit("order.created")
        await webhooks.run()
        await merchant.endpoint(broken)
        retrying = await merchant.emit("order.created")
        await webhooks.run()
        # Event ids carry the real time they were made at (the shared test clock may be far ahead).
        db, now, keep = merchant.backend.runtime.db, datetime.now(UTC), timedelta(days=30)
        assert await purge_history(db, now=now, keep=keep, app_id=merchant.app_id) == 0  # too young
        later = now + timedelta(days=31)
        # The delivered event goes, and so do the two endpoints' `audit.entry.created` events (no endpoint
        # asked for them: `*` leaves audit events out).
        assert await purge_history(db, now=later, keep=keep, app_id=merchant.app_id, batch=1) == 3
        assert_envelope(await merchant.get(f"/api/v1/events/{delivered}"), 404, "event_not_found")
        assert (await merchant.get(f"/api/v1/events/{retrying}")).status_code == 200  # a delivery still pending
        assert {d.event_id for d in await merchant.deliveries()} == {retrying}
    finally:
        await broken.stop()
