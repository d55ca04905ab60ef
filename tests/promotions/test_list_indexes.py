"""Every list query of the promotions store is answered through an index on PostgreSQL, with
100,000 codes in the tables: each query the store builds is run through EXPLAIN (on real, analysed
data made with one INSERT … SELECT per table) and its plan must hold no sequential scan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from kassa_platform.migrate import migrate
from kassa_promotions.store.campaigns import CampaignStore
from kassa_promotions.store.codes import CodeStore
from kassa_promotions.store.component import promotions_component
from kassa_promotions.store.groups import GroupStore
from kassa_promotions.store.redemptions import RedemptionStore
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from tests.conftest import fresh_database, worker_id

APP = "app_listidx"
BIG = "camp_big000000000000000000000"
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)

SEED = [
    # 3,000 campaigns over three applications: types, windows, groups, some archived, some off.
    """INSERT INTO promo_campaign_groups (id, app_id, name, created_at, updated_at)
       SELECT 'cgrp_' || lpad(g::text, 26, '0'), 'app_' || (g % 3), 'Group ' || g, now(), now()
       FROM generate_series(1, 300) AS g""",
    """INSERT INTO promo_campaigns (id, app_id, name, trigger, definition, active, created_at, updated_at, type,
                                    starts_at, ends_at, group_id, archived_at)
       SELECT 'camp_' || lpad(c::text, 26, '0'), CASE WHEN c % 3 = 0 THEN 'app_listidx' ELSE 'app_' || (c % 3) END,
              'Campaign ' || c, CASE WHEN c % 5 = 0 THEN 'automatic' ELSE 'code' END,
              '{"reward": {"type": "percent_off", "percent": 5}, "priority": 0, "stacking": "stackable",
                "redemptionGraceHours": 0}'::jsonb,
              c % 7 <> 0, timestamptz '2026-01-01' + c * interval '1 hour',
              timestamptz '2026-01-01' + (c * 7 % 3000) * interval '1 hour',
              (ARRAY['promotion', 'discount_codes', 'gift_cards'])[1 + c % 3],
              CASE WHEN c % 11 = 0 THEN timestamptz '2027-01-01' END,
              CASE WHEN c % 13 = 0 THEN timestamptz '2026-06-01' END,
              CASE WHEN c % 4 = 0 THEN 'cgrp_' || lpad((1 + c % 300)::text, 26, '0') END,
              CASE WHEN c % 17 = 0 THEN timestamptz '2026-07-01' END
       FROM generate_series(1, 3000) AS c""",
    f"""INSERT INTO promo_campaigns (id, app_id, name, trigger, definition, active, created_at, updated_at, type)
        VALUES ('{BIG}', '{APP}', 'Big', 'code', '{{"reward": {{"type": "percent_off", "percent": 5}},
                "priority": 0, "stacking": "stackable", "redemptionGraceHours": 0}}'::jsonb, true,
                timestamptz '2026-01-01', timestamptz '2026-01-01', 'discount_codes')""",
    # 100,000 codes: 60,000 in one campaign (most usable, a few reserved, redeemed, expiring), the
    # rest spread over the others.
    """INSERT INTO promo_codes (id, app_id, campaign_id, code, code_key, status, usage_limit, uses, reserved_uses,
                                created_at, updated_at, expires_at)
       SELECT 'vch_' || lpad(n::text, 26, '0'),
              CASE WHEN n <= 60000 THEN 'app_listidx' ELSE 'app_' || (n % 3) END,
              CASE WHEN n <= 60000 THEN 'camp_big000000000000000000000'
                   ELSE 'camp_' || lpad((1 + n % 3000)::text, 26, '0') END,
              'C' || n, 'C' || n,
              CASE WHEN n % 50 = 0 THEN 'redeemed' WHEN n % 97 = 0 THEN 'reserved' WHEN n % 89 = 0 THEN 'deactivated'
                   WHEN n % 3 = 0 THEN 'assigned' ELSE 'active' END,
              1, CASE WHEN n % 50 = 0 THEN 1 ELSE 0 END, CASE WHEN n % 97 = 0 THEN 1 ELSE 0 END,
              timestamptz '2026-01-01', timestamptz '2026-01-01',
              CASE WHEN n % 101 = 0 THEN timestamptz '2026-11-01' END
       FROM generate_series(1, 100000) AS n""",
    # 30,000 redemptions: confirmed, released, rejected, and live holds of the reserved codes.
    """INSERT INTO promo_redemptions (id, app_id, campaign_id, code_id, code, cart_id, amount, currency, status,
                                      reason, expires_at, created_at, updated_at)
       SELECT 'red_' || lpad(n::text, 26, '0'), CASE WHEN n % 2 = 0 THEN 'app_listidx' ELSE 'app_1' END,
              CASE WHEN n % 10 = 0 THEN 'camp_big000000000000000000000'
                   ELSE 'camp_' || lpad((1 + n % 3000)::text, 26, '0') END,
              'vch_' || lpad((n * 97 % 100000)::text, 26, '0'), 'C' || n, 'cart_' || n, 500, 'EUR',
              (ARRAY['confirmed', 'released', 'rejected', 'reserved'])[1 + n % 4],
              CASE WHEN n % 4 = 2 THEN 'minimum_not_met' END,
              CASE WHEN n % 4 = 3 THEN timestamptz '2026-12-01 12:30' END,
              timestamptz '2026-01-01' + n * interval '10 minutes', now()
       FROM generate_series(1, 30000) AS n""",
]


@pytest.fixture(scope="module")
async def seeded(testrun_uid: str) -> AsyncIterator[Any]:
    async with fresh_database(f"kassa_test_{testrun_uid[:8]}_{worker_id()}_listidx") as url:
        await migrate(url, [promotions_component()])
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                for statement in SEED:
                    await conn.execute(sa.text(statement))
            async with engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(sa.text("ANALYZE"))
            yield engine
        finally:
            await engine.dispose()


class Explaining:
    """A connection that EXPLAINs each statement before running it (the store's exact queries)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn, self.plans = conn, []
        self.dialect = conn.dialect

    async def execute(self, statement: Any, *args: Any) -> Any:
        sql = statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
        plan = (await self.conn.execute(sa.text(f"EXPLAIN {sql}"))).scalars().all()
        self.plans.append((str(sql), "\n".join(plan)))
        return await self.conn.execute(statement, *args)


async def _plans(engine: Any, run: Any, table: str | None = None) -> list[tuple[str, str]]:
    """The plans of what `run` executed: none scans a table sequentially, and the first one reaches
    `table` through one of its own secondary indexes (`ix_`/`uq_` + table), not by walking its
    primary key with a filter."""
    async with engine.connect() as raw:
        conn = Explaining(raw)
        await run(conn)
        await raw.rollback()
    assert conn.plans
    for sql, plan in conn.plans:
        assert "Seq Scan" not in plan, f"{sql}\n{plan}"
    if table is not None:
        sql, plan = conn.plans[0]
        assert f"ix_{table}" in plan or f"uq_{table}" in plan, f"{sql}\n{plan}"
    return conn.plans


CAMPAIGN_LISTS: list[dict[str, Any]] = [
    {}, {"sort": "-createdAt"}, {"sort": "updatedAt"}, {"sort": "-updatedAt"}, {"archived": True},
    {"type_": "gift_cards"}, {"group_id": "cgrp_" + "1".zfill(26)}, {"active": False},
    {"status": "active"}, {"status": "expired"}, {"status": "scheduled"}, {"status": "inactive"},
    {"q": "Campaign 12"}, {"q": "C7"},
    {"created_from": NOW - timedelta(days=30), "created_to": NOW},
    {"updated_from": NOW - timedelta(days=30), "sort": "-updatedAt"},
]


@pytest.mark.parametrize("filters", CAMPAIGN_LISTS, ids=lambda f: ",".join(f) or "default")
async def test_campaign_lists_use_indexes(seeded: Any, filters: dict[str, Any]) -> None:
    async def run(conn: Any) -> None:
        page, cursor = await CampaignStore().list(conn, APP, limit=20, cursor=None, now=NOW, **filters)
        if cursor:  # the second page too: the keyset condition must keep the index
            await CampaignStore().list(conn, APP, limit=20, cursor=cursor, now=NOW, **filters)

    await _plans(seeded, run, "promo_campaigns")


# Filters keeping most of the big campaign's codes, and `expired` (1 % of its 60,000: PostgreSQL
# prices a walk of the primary key in id order, which finds a page after ~3,000 rows, below a
# bitmap of both code indexes plus a sort; in a small campaign it takes the indexes).
BROAD = {(), ("active",), ("created", "distributed", "assigned", "active"), ("expired",)}
SMALL = "camp_" + "3".zfill(26)


@pytest.mark.parametrize("campaign_id", [BIG, SMALL], ids=["big", "small"])
@pytest.mark.parametrize("statuses", [(), ("active",), ("created", "distributed", "assigned", "active"), ("reserved",),
                                      ("redeemed",), ("expired",), ("deactivated",)], ids=lambda s: ",".join(s) or "all")
async def test_code_lists_use_indexes(seeded: Any, campaign_id: str, statuses: tuple[str, ...]) -> None:
    """A filter that keeps much of a 60,000-code campaign may walk the primary key in id order (it
    finds a page at once); every other one goes through the campaign's code indexes."""
    async def run(conn: Any) -> None:
        campaign = await CampaignStore().row(conn, APP, campaign_id)
        conn.plans.clear()
        await CodeStore().list(conn, APP, campaign, limit=20, cursor=None, now=NOW, statuses=statuses)
        await CodeStore().get(conn, APP, "c97", NOW)

    broad = campaign_id == BIG and statuses in BROAD
    await _plans(seeded, run, None if broad else "promo_codes")


@pytest.mark.parametrize("filters", [{"campaign_id": SMALL}, {"campaign_id": BIG}, {"status": "rejected"}, {"status": "confirmed"},
                                     {"created_from": datetime(2026, 3, 1, tzinfo=UTC),
                                      "created_to": datetime(2026, 3, 2, tzinfo=UTC)}],
                         ids=lambda f: ",".join(f))
async def test_redemption_lists_use_indexes(seeded: Any, filters: dict[str, Any]) -> None:
    """Statuses and the big campaign keep an eighth of the rows or more: a primary-key walk finds a
    page at once; one campaign's redemptions among many go through the campaign index."""
    async def run(conn: Any) -> None:
        await RedemptionStore().list(conn, app_id=APP, limit=20, **filters)

    selective = filters.get("campaign_id") == SMALL or "created_from" in filters
    plans = await _plans(seeded, run, "promo_redemptions" if selective else None)
    if filters.get("campaign_id") == SMALL:
        assert "ix_promo_redemptions_campaign_id" in plans[0][1], plans[0][1]


async def test_group_list_and_delete_check_use_indexes(seeded: Any) -> None:
    async def run(conn: Any) -> None:
        await GroupStore().list(conn, "app_0", limit=20, cursor=None)
        await GroupStore().get(conn, "app_1", "cgrp_" + "1".zfill(26))

    await _plans(seeded, run, "promo_campaign_groups")

    async def deleting(conn: Any) -> None:  # only refusals: deleted with it (rolled back afterwards)
        await CampaignStore().delete(conn, APP, SMALL, NOW)

    sql_plans = await _plans(seeded, deleting)
    assert any("ix_promo_redemptions_campaign_id" in plan for _, plan in sql_plans)
