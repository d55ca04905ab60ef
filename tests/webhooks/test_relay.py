"""The relay: outbox rows become events (stored once) and deliveries (one per matching endpoint)."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from kassa_platform.db import transaction
from kassa_platform.tables import outbox_events
from kassa_webhooks.relay import Relay
from kassa_webhooks.tables import webhook_events
from sqlalchemy import event

from tests.webhooks.conftest import Merchant, Webhooks, make_merchant
from tests.webhooks.receiver import Receiver


async def _outbox(m: Merchant, event_id: str):  # type: ignore[no-untyped-def]
    async with m.backend.runtime.db() as conn:
        return (await conn.execute(sa.select(outbox_events).where(outbox_events.c.id == event_id))).one()


async def _events(m: Merchant) -> list:  # type: ignore[type-arg]
    """The merchant's events but the audit log's (each endpoint the test creates has its entry's event)."""
    async with m.backend.runtime.db() as conn:
        return list((await conn.execute(sa.select(webhook_events).where(
            webhook_events.c.app_id == m.app_id, webhook_events.c.type != "audit.entry.created")
            .order_by(webhook_events.c.id))).all())


async def test_fan_out_to_matching_endpoints_only(webhooks: Webhooks, merchant: Merchant, receiver: Receiver) -> None:
    everything = await merchant.endpoint(receiver)
    carts = await merchant.endpoint(receiver, enabledEvents=["cart.*"])
    orders = await merchant.endpoint(receiver, enabledEvents=["order.created"])
    off = await merchant.endpoint(receiver, disabled=True)
    other = await make_merchant(webhooks)
    await other.endpoint(receiver)
    cart = await merchant.cart()  # the cart service writes `cart.created` to the outbox
    order_event = await merchant.emit("order.created")
    await webhooks.relay()
    deliveries = await merchant.deliveries()
    pairs = {(d.endpoint_id, d.event_type) for d in deliveries}
    assert pairs == {(everything["id"], "cart.created"), (everything["id"], "order.created"),
                     (carts["id"], "cart.created"), (orders["id"], "order.created")}
    assert off["id"] not in {d.endpoint_id for d in deliveries} and not await other.deliveries()
    assert all(d.status == "pending" and d.attempt_count == 0 for d in deliveries)
    stored = await _events(merchant)
    assert [e.type for e in stored] == ["cart.created", "order.created"]
    assert stored[0].aggregate_id == cart["id"] and stored[1].id == order_event
    row = await _outbox(merchant, order_event)
    assert row.published_at is not None and stored[1].payload == row.payload  # the exact bytes
    await webhooks.relay()  # nothing pending: nothing new
    assert len(await merchant.deliveries()) == 4 and len(await _events(merchant)) == 2


async def test_one_aggregate_is_relayed_in_sequence_order(webhooks: Webhooks, merchant: Merchant,
                                                          receiver: Receiver) -> None:
    await merchant.endpoint(receiver)
    await webhooks.relay()
    ids = [await merchant.emit(aggregate="cart_ordered", sequence=n) for n in (3, 1, 2)]  # written out of order
    relayed, _ = await webhooks.module.relay.relay_once()
    assert relayed == 3  # the aggregate's whole run in one pass
    assert [(d.sequence, d.event_id) for d in sorted(await merchant.deliveries(), key=lambda d: d.sequence)] == \
        [(1, ids[1]), (2, ids[2]), (3, ids[0])]


async def test_one_pass_relays_many_events_in_one_transaction(webhooks: Webhooks, merchant: Merchant,
                                                              receiver: Receiver) -> None:
    """A burst of commits (several carts, each with a run of changes) costs one pass: one transaction."""
    await merchant.endpoint(receiver)
    await webhooks.relay()
    written = [await merchant.emit(aggregate=f"cart_burst{n % 4}", sequence=n // 4) for n in range(40)]
    begun: list[object] = []
    engine = webhooks.backend.runtime.db.engine.sync_engine
    began = lambda conn: begun.append(conn)  # noqa: E731
    event.listen(engine, "begin", began)
    try:
        events, deliveries, ran_out = await Relay(webhooks.backend.runtime.db, webhooks.backend.clock,
                                                  batch=500).relay_all()
    finally:
        event.remove(engine, "begin", began)
    assert (events, deliveries, ran_out) == (40, 40, False)
    assert len(begun) == 1  # no empty pass after the full one either
    assert {e.id for e in await _events(merchant)} >= set(written)
    for n in range(4):
        sequences = [d.sequence for d in await merchant.deliveries(aggregate_id=f"cart_burst{n}")]
        assert sorted(sequences) == list(range(10))


async def test_a_run_cut_by_the_batch_goes_on_in_the_next_pass(webhooks: Webhooks, merchant: Merchant,
                                                               receiver: Receiver) -> None:
    await merchant.endpoint(receiver)
    await webhooks.relay()
    ids = [await merchant.emit(aggregate="cart_cut", sequence=n) for n in (1, 2, 3)]
    relay = Relay(webhooks.backend.runtime.db, webhooks.backend.clock, batch=2)
    assert await relay.relay_once() == (2, 2)
    assert {d.event_id for d in await merchant.deliveries()} == set(ids[:2])
    assert (await relay.relay_all())[0] == 1
    assert sorted(d.sequence for d in await merchant.deliveries()) == [1, 2, 3]


async def test_a_batch_of_rows_all_waiting_for_a_later_written_head_does_not_stall(
        webhooks: Webhooks, merchant: Merchant, receiver: Receiver) -> None:
    """Two writers of one aggregate raced: the head (sequence 1) was written after its followers."""
    await merchant.endpoint(receiver)
    await webhooks.relay()
    followers = [await merchant.emit(aggregate="cart_raced", sequence=n) for n in (2, 3)]
    webhooks.backend.clock.advance(seconds=1)
    head = await merchant.emit(aggregate="cart_raced", sequence=1)
    relay = Relay(webhooks.backend.runtime.db, webhooks.backend.clock, batch=2)
    assert await relay.relay_once() == (1, 1)  # both rows of the batch wait for the head: it goes alone
    assert {e.id for e in await _events(merchant) if e.aggregate_id == "cart_raced"} == {head}
    assert (await relay.relay_all())[0] == 2
    assert {e.id for e in await _events(merchant) if e.aggregate_id == "cart_raced"} == {head, *followers}


async def test_a_run_whose_head_another_relay_holds_waits_for_it(pg_webhooks: Webhooks) -> None:
    from tests.webhooks.conftest import make_merchant as make

    merchant = await make(pg_webhooks)
    await pg_webhooks.relay()
    head, *rest = [await merchant.emit(aggregate="cart_held", sequence=n) for n in (1, 2, 3)]
    other = await merchant.emit()
    db = pg_webhooks.backend.runtime.db
    relay = Relay(db, pg_webhooks.backend.clock, batch=10)
    async with transaction(db) as conn:  # another relay holds the head of the run
        await conn.execute(sa.select(outbox_events.c.id).where(outbox_events.c.id == head).with_for_update())
        assert await asyncio.wait_for(relay.relay_all(), 5) == (1, 0, False)  # the other aggregate only
        assert (await _outbox(merchant, other)).published_at is not None
        assert [(await _outbox(merchant, i)).published_at for i in rest] == [None, None]
    assert (await relay.relay_once())[0] == 3  # released: the run goes in one pass, in order
    assert [e.sequence for e in await _events(merchant) if e.aggregate_id == "cart_held"] == [1, 2, 3]


async def test_parallel_relays_share_the_work(pg_webhooks: Webhooks, receiver: Receiver) -> None:
    from tests.webhooks.conftest import make_merchant as make

    merchant = await make(pg_webhooks)
    await merchant.endpoint(receiver)
    await merchant.endpoint(receiver)
    await pg_webhooks.relay()  # whatever other tests left pending
    written = {await merchant.emit() for _ in range(300)}
    relays = [Relay(pg_webhooks.backend.runtime.db, pg_webhooks.backend.clock, batch=25) for _ in range(4)]
    counts = await asyncio.gather(*(r.relay_all() for r in relays))
    assert sum(events for events, _, _ in counts) == 300  # no event was relayed twice
    assert all(events > 0 for events, _, _ in counts)  # and they all took part
    assert {e.id for e in await _events(merchant)} == written
    deliveries = await merchant.deliveries()
    assert len(deliveries) == 600 and len({(d.endpoint_id, d.event_id) for d in deliveries}) == 600


async def test_a_claimed_batch_is_skipped_not_waited_for(pg_webhooks: Webhooks) -> None:
    from tests.webhooks.conftest import make_merchant as make

    merchant = await make(pg_webhooks)
    await pg_webhooks.relay()
    first, second = await merchant.emit(), await merchant.emit()
    db = pg_webhooks.backend.runtime.db
    async with transaction(db) as conn:  # another relay holds the first row
        await conn.execute(sa.select(outbox_events.c.id).where(outbox_events.c.id == first).with_for_update())
        relayed, _ = await asyncio.wait_for(Relay(db, pg_webhooks.backend.clock, batch=10).relay_once(), 5)
        assert relayed == 1
    assert (await _outbox(merchant, second)).published_at is not None
    assert (await _outbox(merchant, first)).published_at is None
    await pg_webhooks.relay()
    assert (await _outbox(merchant, first)).published_at is not None
