"""PostgreSQL: a till's reserve and confirm each write in ONE statement (store/reservation_rows.py),
so a campaign's row is locked for a statement and its commit, not for a transaction's round trips;
and a take that falls short inside that statement leaves nothing taken."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from kassa_platform.outbox import event_params
from kassa_promotions.model import AppliedDiscount
from kassa_promotions.store.reservation_rows import ReservationRows, _confirm_statement

from tests.conftest import Tenant
from tests.support.campaigns import campaign, code

BASKET = {"currency": "EUR", "lineItems": [{"id": "l1", "sku": "A", "quantity": 2, "unitPrice": 5_000}]}
_WRITE = re.compile(r"\b(INSERT INTO|UPDATE \w+ SET|DELETE FROM)\b")


async def _stats(tenant: Tenant, campaign_id: str) -> tuple[int, int, int, int]:
    s = (await tenant.get(f"/api/v1/campaigns/{campaign_id}/stats")).json()
    return s["uses"], s["reservedUses"], s["discountGranted"], s["discountReserved"]


def _writes(statements: list[str]) -> list[str]:
    return [s for s in statements if _WRITE.search(s)]


async def _two_campaigns(tenant: Tenant) -> tuple[dict, dict]:
    ten = await campaign(tenant, name="Ten", reward={"type": "percent_off", "percent": 10}, budget=100_000)
    five = await campaign(tenant, name="Five", reward={"type": "fixed_off", "amounts": {"EUR": 500}})
    await code(tenant, ten["id"], code="ONE-TEN", usageLimit=1)
    await code(tenant, ten["id"], code="TWO-TEN", usageLimit=1)
    await code(tenant, five["id"], code="FIVE")
    return ten, five


async def test_reserve_and_confirm_write_in_one_statement_each(pg_tenant: Tenant) -> None:
    ten, five = await _two_campaigns(pg_tenant)
    warm = await pg_tenant.post("/api/v1/redemptions", {"codes": ["ONE-TEN", "FIVE"], "basket": BASKET})
    assert warm.status_code == 201, warm.text  # the pricing caches are warm from here on

    counter = pg_tenant.backend.counter
    with counter as reserving:
        held = await pg_tenant.post("/api/v1/redemptions", {"codes": ["TWO-TEN", "FIVE"], "basket": BASKET})
    assert held.status_code == 201, held.text
    with counter as confirming:
        done = await pg_tenant.post(f"/api/v1/redemptions/{held.json()['id']}/confirm", {"transactionId": "T-1"})
    assert done.status_code == 200, done.text

    for statements in (reserving.statements, confirming.statements):
        writes = _writes(statements)
        assert len(writes) == 1 and writes[0].lstrip().startswith("WITH"), "\n".join(statements)
        assert len(statements) <= 3, "\n".join(statements)  # the write and its reads (codes; the hold)
    assert (await _stats(pg_tenant, ten["id"]))[:3] == (1, 1, 1_000)  # one confirmed, the warm-up still held
    assert (await _stats(pg_tenant, five["id"]))[:2] == (1, 1)


async def test_with_an_idempotency_key_the_mark_rides_in_the_same_statement(pg_tenant: Tenant) -> None:
    """A till that sends an Idempotency-Key (as docs/redemptions.md shows) keeps the one-statement
    path: the key's mark is a CTE of the same statement; a retry gets the first answer."""
    ten, five = await _two_campaigns(pg_tenant)
    await pg_tenant.post("/api/v1/redemptions", {"codes": ["ONE-TEN", "FIVE"], "basket": BASKET})  # warm
    body = {"codes": ["TWO-TEN", "FIVE"], "basket": BASKET}
    keyed = {"headers": {"Idempotency-Key": "till-1-sale-2-reserve"}}
    with pg_tenant.backend.counter as reserving:
        held = await pg_tenant.post("/api/v1/redemptions", body, **keyed)
    assert held.status_code == 201, held.text
    # The key's claim (the middleware's), then the one statement: it marks the key and stores the
    # answer, so nothing is written after it.
    writes = _writes(reserving.statements)
    assert len(writes) == 2 and writes[0].lstrip().startswith("INSERT INTO idempotency_keys"), "\n".join(writes)
    assert "kassa_executed" in writes[1] and "take_campaign0" in writes[1], writes[1]
    again = await pg_tenant.post("/api/v1/redemptions", body, **keyed)
    assert (again.status_code, again.json()["id"]) == (201, held.json()["id"])
    with pg_tenant.backend.counter as confirming:
        done = await pg_tenant.post(f"/api/v1/redemptions/{held.json()['id']}/confirm", {"transactionId": "T-key"},
                                    headers={"Idempotency-Key": "till-1-sale-2-confirm"})
    assert done.status_code == 200, done.text
    writes = _writes(confirming.statements)
    assert len(writes) == 2 and "kassa_executed" in writes[1] and "move_c0" in writes[1], "\n".join(writes)
    assert (await _stats(pg_tenant, ten["id"]))[:2] == (1, 1)  # one confirmed, the warm-up held
    assert (await _stats(pg_tenant, five["id"]))[:2] == (1, 1)


async def test_a_take_short_inside_the_statement_leaves_nothing_taken(pg_tenant: Tenant) -> None:
    """The codes are priced, then another till takes the last use of one of them: the statement's
    later take falls short, and the earlier takes (both campaigns, the other code) roll back with it."""
    ten, five = await _two_campaigns(pg_tenant)
    db = pg_tenant.backend.runtime.db
    now = pg_tenant.backend.clock.now()
    async with db() as conn:
        ids = dict((await conn.exec_driver_sql(
            "SELECT code_key, id FROM promo_codes WHERE app_id = $1", (pg_tenant.app_id,))).all())
    discounts = [AppliedDiscount(campaign_id=ten["id"], code="ONE-TEN", name="Ten", reward_type="percent_off",
                                 amount=1_000, lines={"l1": 1_000}),
                 AppliedDiscount(campaign_id=five["id"], code="FIVE", name="Five", reward_type="fixed_off",
                                 amount=500, lines={"l1": 500})]
    rows = ReservationRows(db)
    view, plan = rows.plan(app_id=pg_tenant.app_id, discounts=discounts, code_ids=ids, codes=["ONE-TEN", "FIVE"],
                           currency="EUR", cart_id=None, customer_id=None, email=None, subtotal=10_000, now=now,
                           hold=timedelta(minutes=15))
    other = await pg_tenant.post("/api/v1/redemptions", {"codes": ["ONE-TEN"], "basket": BASKET})
    assert other.status_code == 201, other.text
    before = {c: await _stats(pg_tenant, c) for c in (ten["id"], five["id"])}

    event = event_params(app_id=pg_tenant.app_id, type="redemption.reserved", source="cart", aggregate_id=view.id,
                         sequence=1, data={"redemptionId": view.id}, now=now)
    assert await rows.reserve(plan, event) is False
    assert {c: await _stats(pg_tenant, c) for c in (ten["id"], five["id"])} == before
    async with db() as conn:
        for table, column in (("promo_reservations", "id"), ("outbox_events", "aggregate_id")):
            found = await conn.exec_driver_sql(f"SELECT count(*) FROM {table} WHERE {column} = $1", (view.id,))
            assert found.scalar() == 0, table
    codes = (await pg_tenant.get(f"/api/v1/campaigns/{five['id']}/codes")).json()["data"]
    assert [(c["code"], c["uses"], c["reservedUses"]) for c in codes] == [("FIVE", 0, 0)]


async def test_a_confirm_of_a_hold_gone_meanwhile_moves_nothing(pg_tenant: Tenant) -> None:
    """The confirm's statement claims the hold first; a hold cancelled between its read and the
    statement fails the claim, and no counter moves, no event is written."""
    ten, five = await _two_campaigns(pg_tenant)
    held = (await pg_tenant.post("/api/v1/redemptions", {"codes": ["ONE-TEN", "FIVE"], "basket": BASKET})).json()
    assert (await pg_tenant.post(f"/api/v1/redemptions/{held['id']}/cancel")).status_code == 200
    before = {c: await _stats(pg_tenant, c) for c in (ten["id"], five["id"])}
    params: dict[str, Any] = {"_id": held["id"], "_app": pg_tenant.app_id, "_now": pg_tenant.backend.clock.now(),
                              "_tx": "T-gone", "c0_id": ten["id"], "c0_n": 1, "c0_amt": 1_000,
                              **event_params(app_id=pg_tenant.app_id, type="redemption.confirmed", source="cart",
                                             aggregate_id=held["id"], sequence=2, data={}, now=pg_tenant.backend.clock.now())}
    direct = pg_tenant.backend.runtime.db.direct
    assert direct is not None
    with pytest.raises(asyncpg.NotNullViolationError):
        await direct.fetchrow(_confirm_statement(1, 0, 2), params)
    assert {c: await _stats(pg_tenant, c) for c in (ten["id"], five["id"])} == before
    found = (await pg_tenant.get(f"/api/v1/redemptions/{held['id']}")).json()
    assert (found["status"], found["transactionId"]) == ("cancelled", None)



def _counters_after_events(statements: list[str]) -> bool:
    """Whether every statement on the campaigns or codes comes after the last event written."""
    events = [i for i, s in enumerate(statements) if "INSERT INTO outbox_events" in s]
    counters = [i for i, s in enumerate(statements) if re.search(r"\bFROM promo_(campaigns|codes)\b.*FOR UPDATE"
                                                                   r"|\bUPDATE promo_(campaigns|codes) SET", s, re.S)]
    return bool(events and counters) and min(counters) > max(events)


async def test_cancel_rollback_and_expiry_move_the_counters_last(pg_tenant: Tenant) -> None:
    """A cancel, a rollback and the expiry job lock a campaign's row only once their events are
    written: every till's reserve and confirm on that campaign waits for that lock, up to the commit."""
    ten, _ = await _two_campaigns(pg_tenant)
    await code(pg_tenant, ten["id"], code="THREE-TEN", usageLimit=1)
    held = [(await pg_tenant.post("/api/v1/redemptions", {"codes": [c, "FIVE"], "basket": BASKET,
                                                         "holdMinutes": 1})).json()
            for c in ("ONE-TEN", "TWO-TEN", "THREE-TEN")]
    counter = pg_tenant.backend.counter
    with counter as cancelling:
        assert (await pg_tenant.post(f"/api/v1/redemptions/{held[0]['id']}/cancel")).status_code == 200
    assert _counters_after_events(cancelling.statements), "\n".join(cancelling.statements)

    paid = await pg_tenant.post(f"/api/v1/redemptions/{held[2]['id']}/confirm", {"transactionId": "T-back"})
    assert paid.status_code == 200, paid.text
    with counter as rolling_back:
        back = await pg_tenant.post(f"/api/v1/redemptions/{held[2]['id']}/rollback", {"reason": "return"})
    assert back.status_code in (200, 201), back.text
    assert _counters_after_events(rolling_back.statements), "\n".join(rolling_back.statements)

    pg_tenant.backend.clock.advance(minutes=2)
    runner = pg_tenant.backend.runtime.runner
    assert runner is not None
    with counter as expiring:
        assert await runner.run_cron("expire_redemption_holds") >= 1
    assert _counters_after_events(expiring.statements), "\n".join(expiring.statements)
    found = (await pg_tenant.get(f"/api/v1/redemptions/{held[1]['id']}")).json()
    assert found["status"] == "expired"
