"""Unique codes under concurrent generation on PostgreSQL: never a duplicate."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from kassa_contract.promotions import CreateCampaign, CreateCodes
from kassa_platform.db import transaction
from kassa_platform.ids import new_id
from kassa_promotions.store.campaigns import CampaignStore
from kassa_promotions.store.codes import CodeStore
from kassa_promotions.store.tables import codes

from tests.conftest import Backend


async def test_concurrent_generation_never_duplicates(pg_backend: Backend) -> None:
    db, now, app_id = pg_backend.runtime.db, pg_backend.clock.now(), new_id("app")
    async with transaction(db) as conn:
        camp = await CampaignStore().create(conn, app_id, CreateCampaign(
            name="gen", reward={"type": "fixed_off", "amounts": {"EUR": 1}}), now)

    async def generate() -> int:
        # A small pattern space (31^4) makes collisions between the runs likely: they must retry.
        made, _ = await CodeStore().create(db, app_id, camp.id, CreateCodes(count=1500, pattern="####"), now)
        return made

    results = await asyncio.gather(*[generate() for _ in range(4)])
    assert results == [1500] * 4
    async with db() as conn:
        total, distinct = (await conn.execute(sa.select(sa.func.count(), sa.func.count(sa.distinct(codes.c.code_key)))
                                              .where(codes.c.app_id == app_id))).one()
    assert total == distinct == 6_000
