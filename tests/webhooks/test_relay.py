"""The relay: outbox rows become events (stored once) and deliveries (one per matching endpoint)."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from kassa_platform.db import transaction
from kassa_platform.tables import outbox_events
from kassa_webhooks.relay import Relay
from kassa_webhooks.tables import webhook_events

from tests.webhooks.conftest import Merchant, Webhooks, make_merchant
from tests.webhooks.receiver import Receiver


async def _outbox(m: Merchant, event_id: str):  # type: ignore[no-untyped-def]
    async with m.backend.runtime.db() as conn:
        return (await conn.execute(sa.select(outbox_events).where(outbox_events.c.id == event_id))).one()


async def _events(m: Merchant) -> list:  # type: ignore[type-arg]
    async with m.backend.runtime.db() as conn:
        return list((await conn.execute(sa.select(webhook_events).where(webhook_events.c.app_id == m.app_id)
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
    ids = [await merchant.emit(aggregate="cart_ordered", sequence=n) for n in (1, 2, 3)]
    relay = webhooks.module.relay
    await relay.relay_once()  # one pass takes the head of each aggregate only
    assert [d.event_id for d in await merchant.deliveries()] == ids[:1]
    await relay.relay_all()
    assert [d.sequence for d in await merchant.deliveries()] == [1, 2, 3]


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
