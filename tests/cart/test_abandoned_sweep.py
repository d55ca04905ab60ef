"""The sweep as the cron job runs it (every application) on databases of their own: registered and
run by the job runner, one query when nothing is due, several sweepers at once on PostgreSQL never
emitting twice (also while shoppers change their carts), and the partial index serving its queries."""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict

import pytest
import sqlalchemy as sa
from kassa_cart import abandonment
from kassa_cart.abandonment_rows import _DUE_APPS, _MARK
from kassa_cart.tables import cart_abandonments, carts
from kassa_platform.tables import outbox_events

from tests.cart.conftest import filled_cart
from tests.conftest import Backend, Tenant, make_tenant

DAY = 1440
_APP_IDS = "__[POSTCOMPILE_b_app_ids]"  # the claim's expanding IN, rendered by SQLAlchemy at execution


@pytest.fixture(params=["sqlite", "pg"])
def isolated(request: pytest.FixtureRequest) -> Backend:
    return request.getfixturevalue(f"isolated_{request.param}")


async def _counts(backend: Backend) -> tuple[Counter[str], Counter[str]]:
    """(abandonment rows per cart, cart.abandoned events per cart) over the whole database."""
    async with backend.runtime.db() as conn:
        rows = (await conn.execute(sa.select(cart_abandonments.c.cart_id))).scalars().all()
        events = (await conn.execute(sa.select(outbox_events.c.aggregate_id)
                                     .where(outbox_events.c.type == "cart.abandoned"))).scalars().all()
    return Counter(rows), Counter(events)


async def test_the_cron_job_sweeps_every_application_and_costs_one_query_when_idle(isolated: Backend) -> None:
    runner = isolated.runtime.runner
    assert runner is not None and "abandon_carts" in runner.registry.crons
    quick, default = await make_tenant(isolated), await make_tenant(isolated)
    await quick.put("/api/v1/embed-config", {"cartAbandonmentThresholdMinutes": 60})
    q1, q2, d1 = await filled_cart(quick), await filled_cart(quick), await filled_cart(default)
    await quick.cart()  # no items: never abandoned
    isolated.clock.advance(minutes=61)
    assert await runner.run_cron("abandon_carts") == 2
    isolated.clock.advance(minutes=DAY)
    assert await runner.run_cron("abandon_carts") == 1
    rows, events = await _counts(isolated)
    assert rows == events == Counter({q1["id"]: 1, q2["id"]: 1, d1["id"]: 1})
    # Nothing due: the empty sweep is a single (indexed) query.
    with isolated.counter as counted:
        assert await runner.run_cron("abandon_carts") == 0
    assert len(counted.statements) == 1, counted.statements
    # Carts idle but not due yet cost no more: still one query.
    await filled_cart(default)
    isolated.clock.advance(minutes=DAY - 10)
    with isolated.counter as counted:
        assert await runner.run_cron("abandon_carts") == 0
    assert len(counted.statements) == 1, counted.statements


async def test_concurrent_sweepers_never_emit_twice(isolated_pg: Backend) -> None:
    backend = isolated_pg
    tenants = [await make_tenant(backend) for _ in range(3)]
    made = []
    for tenant in tenants:
        variant = await tenant.variant({"EUR": 1200})
        made += [(await tenant.cart(lineItems=[{"variantId": variant}]))["id"] for _ in range(40)]
    backend.clock.advance(minutes=DAY + 1)
    before_rows, before_events = await _counts(backend)
    settings = backend.runtime.settings
    # Six sweepers at once, each in its own transactions on its own pooled connections, small batches.
    done = await asyncio.gather(*(abandonment.sweep(backend.runtime.db, backend.clock, settings.signing_key, batch=7)
                                  for _ in range(6)))
    rows, events = await _counts(backend)
    rows, events = rows - before_rows, events - before_events
    assert rows == events  # one event per abandonment row, per cart
    assert set(rows.values()) == {1} and set(made) <= set(rows)  # every cart once (others' due carts too)
    assert sum(done) == sum(rows.values())


async def test_sweepers_racing_shoppers_keep_one_event_per_abandonment(isolated_pg: Backend) -> None:
    """Shoppers change carts while sweepers run: each abandonment is emitted exactly once, sequences
    stay unique per cart, and a cart's `abandonedAt` matches its last event."""
    backend = isolated_pg
    tenant: Tenant = await make_tenant(backend)
    variant = await tenant.variant({"EUR": 700})
    ids = [(await tenant.cart(lineItems=[{"variantId": variant}]))["id"] for _ in range(60)]
    backend.clock.advance(minutes=DAY + 1)
    rng = random.Random(5)
    touched = rng.sample(ids, 30)

    async def shopper(cart_id: str) -> None:
        await asyncio.sleep(rng.random() / 50)  # spread the changes over the sweeps (real concurrency, not a clock)
        response = await tenant.patch(f"/api/v1/carts/{cart_id}", {"metadata": {"seen": True}})
        assert response.status_code == 200, response.text

    key = backend.runtime.settings.signing_key
    results = await asyncio.gather(
        *(abandonment.sweep(backend.runtime.db, backend.clock, key, batch=5, app_ids={tenant.app_id})
          for _ in range(4)),
        *(shopper(cart_id) for cart_id in touched))
    assert sum(r for r in results if r is not None) <= len(ids)
    async with backend.runtime.db() as conn:
        events = (await conn.execute(
            sa.select(outbox_events.c.aggregate_id, outbox_events.c.type, outbox_events.c.sequence)
            .where(outbox_events.c.app_id == tenant.app_id)
            .order_by(outbox_events.c.aggregate_id, outbox_events.c.sequence))).all()
        state = dict((await conn.execute(sa.select(carts.c.id, carts.c.abandoned_at)
                                         .where(carts.c.app_id == tenant.app_id))).all())
        rows = Counter((await conn.execute(sa.select(cart_abandonments.c.cart_id)
                                           .where(cart_abandonments.c.app_id == tenant.app_id))).scalars().all())
    per_cart: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for e in events:
        per_cart[e.aggregate_id].append((e.type, e.sequence))
    for cart_id in ids:
        history = per_cart[cart_id]
        sequences = [s for _, s in history]
        assert len(sequences) == len(set(sequences)), history  # never the same sequence twice
        abandoned = [s for t, s in history if t == "cart.abandoned"]
        assert rows[cart_id] == len(abandoned) <= 1, history
        assert (state[cart_id] is not None) == (history[-1][0] == "cart.abandoned"), history
    # Every untouched cart was abandoned (they were all due), exactly once.
    assert all(rows[c] == 1 for c in set(ids) - set(touched))


async def test_postgres_serves_the_sweep_from_the_partial_index(isolated_pg: Backend) -> None:
    """Also under a generic plan (asyncpg prepares statements): the predicate is literal SQL, not
    parameters, so the planner can always prove the partial index applies."""
    async with isolated_pg.runtime.engine.connect() as conn:
        await conn.exec_driver_sql("SET enable_seqscan = off")
        try:
            due_apps = str(_DUE_APPS[True].compile(dialect=conn.dialect))
            plan = "\n".join(r[0] for r in (await conn.exec_driver_sql("EXPLAIN " + due_apps)).all())
            assert "ix_carts_abandonable" in plan, plan
            mark = str(_MARK[True].compile(dialect=conn.dialect)).replace(_APP_IDS, "$5, $6")  # two applications
            await conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
            await conn.exec_driver_sql(f"PREPARE sweep_mark AS {mark}")
            plan = "\n".join(r[0] for r in (await conn.exec_driver_sql(
                "EXPLAIN EXECUTE sweep_mark(1, now(), now(), 10, 'app_x', 'app_y')")).all())
            assert "ix_carts_abandonable" in plan and "Seq Scan" not in plan, plan
        finally:
            await conn.rollback()


async def test_sqlite_serves_the_sweep_from_the_partial_index(isolated_sqlite: Backend) -> None:
    async with isolated_sqlite.runtime.engine.connect() as conn:
        for statement in (_DUE_APPS[False], _MARK[False]):
            sql = str(statement.compile(dialect=conn.dialect)).replace(_APP_IDS, "?, ?")
            plan = [r[3] for r in (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}",
                                                              tuple([None] * sql.count("?")))).all()]
            on_carts = [step for step in plan if " carts" in step or " c " in f"{step} "]
            assert on_carts and all("USING INDEX ix_carts_abandonable" in step or "INTEGER PRIMARY KEY" in step
                                    or "USING INDEX sqlite_autoindex_carts_1" in step for step in on_carts), plan
        await conn.rollback()
