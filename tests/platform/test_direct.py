"""Hot-path statements on asyncpg directly mean what they mean through SQLAlchemy."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest
import sqlalchemy as sa
from kassa_platform.columns import JSON, UTCDateTime, new_metadata
from kassa_platform.db import transaction
from kassa_platform.direct import DirectPool, DirectStatement

from tests.conftest import Backend


def probe_table() -> sa.Table:
    return sa.Table(f"direct_probe_{uuid.uuid4().hex[:8]}", new_metadata(),
                    sa.Column("id", sa.String(40), primary_key=True), sa.Column("doc", JSON, nullable=True),
                    sa.Column("at", UTCDateTime(), nullable=False), sa.Column("n", sa.BigInteger(), nullable=False))


async def test_direct_and_sqlalchemy_store_and_read_the_same_values(pg_backend: Backend) -> None:
    db = pg_backend.runtime.db
    assert db.direct is not None
    table = probe_table()
    async with transaction(db) as conn:
        await conn.run_sync(table.metadata.create_all)
    try:
        at = datetime(2026, 11, 22, 12, 30, tzinfo=UTC)
        insert = table.insert().values(id=sa.bindparam("id"), doc=sa.bindparam("doc"), at=sa.bindparam("at"),
                                       n=sa.bindparam("n"))
        rows = [{"id": "a", "doc": None, "at": at, "n": 2**40}, {"id": "b", "doc": {"x": [1, "é"]}, "at": at, "n": 1}]
        async with transaction(db) as conn:  # through SQLAlchemy
            await conn.execute(insert, [{**r, "id": "sa-" + r["id"]} for r in rows])
        for r in rows:  # directly
            await db.direct.fetchrow(DirectStatement(insert.returning(table.c.id)), {**r, "id": "direct-" + r["id"]})

        async with db() as conn:
            stored = {r.id: (r.kind, r.doc, r.at, r.n) for r in await conn.execute(
                sa.select(table.c.id, sa.func.jsonb_typeof(table.c.doc).label("kind"), table.c.doc, table.c.at,
                          table.c.n))}
        assert stored["direct-a"] == stored["sa-a"] == ("null", None, at, 2**40)  # a JSON null, not SQL NULL
        assert stored["direct-b"] == stored["sa-b"] == ("object", {"x": [1, "é"]}, at, 1)

        read = DirectStatement(sa.select(table.c.id, table.c.doc, table.c.at).where(table.c.id == sa.bindparam("id")))
        row = await db.direct.fetchrow(read, {"id": "direct-b"})
        assert row is not None and (row.id, row.doc, row.at) == ("direct-b", {"x": [1, "é"]}, at)
        assert not hasattr(row, "missing")  # an unknown column is an AttributeError, as on a SQLAlchemy row
        assert await db.direct.fetchrow(read, {"id": "missing"}) is None
        assert [r.id for r in await db.direct.fetch(read, {"id": "sa-a"})] == ["sa-a"]
    finally:
        async with transaction(db) as conn:
            await conn.run_sync(table.metadata.drop_all)


async def test_listeners_see_every_direct_statement(pg_backend: Backend) -> None:
    db = pg_backend.runtime.db
    assert db.direct is not None
    seen: list[str] = []
    db.direct.listeners.append(seen.append)
    try:
        statement = DirectStatement(sa.select(sa.literal(1).label("one")))
        row = await db.direct.fetchrow(statement, {})
    finally:
        db.direct.listeners.remove(seen.append)
    assert row is not None and row.one == 1 and seen == [statement.sql]


SLEEP = DirectStatement(sa.text("SELECT 1 AS slept FROM pg_sleep(:s)").bindparams(sa.bindparam("s", type_=sa.Float)))
FAIL = DirectStatement(sa.text("SELECT 1 / 0 AS never"))


async def test_the_pool_bounds_its_connections_and_keeps_them_after_sql_errors(pg_url: str) -> None:
    pool = DirectPool(sa.make_url(pg_url), 3)
    try:
        rows = await asyncio.gather(*(pool.fetchrow(SLEEP, {"s": 0.01}) for _ in range(30)))
        assert all(r is not None and r.slept == 1 for r in rows)
        assert pool._opened == 3 and len(pool._idle) == 3  # 30 statements, 3 connections
        kept = set(map(id, pool._idle))
        with pytest.raises(asyncpg.DivisionByZeroError):
            await pool.fetchrow(FAIL, {})
        assert pool._opened == 3 and set(map(id, pool._idle)) == kept  # a SQL error costs no connection
    finally:
        await pool.close()


async def test_a_statement_cancelled_midway_costs_its_connection_not_the_pool(pg_url: str) -> None:
    pool = DirectPool(sa.make_url(pg_url), 2)
    try:
        slow = asyncio.create_task(pool.fetchrow(SLEEP, {"s": 5}))
        while pool._opened == 0 or pool._idle:
            await asyncio.sleep(0)  # until the statement holds its connection
        await asyncio.sleep(0.05)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        assert pool._opened == 0  # its connection, in an unknown state, was closed
        rows = await asyncio.gather(*(pool.fetchrow(SLEEP, {"s": 0}) for _ in range(5)))
        assert all(r is not None for r in rows) and pool._opened <= 2
    finally:
        await pool.close()


async def test_a_caller_waits_for_a_free_connection_at_most_the_wait_timeout(pg_url: str) -> None:
    pool = DirectPool(sa.make_url(pg_url), 1, wait_timeout=0.2)
    try:
        holder = asyncio.create_task(pool.fetchrow(SLEEP, {"s": 1}))
        while pool._opened == 0:
            await asyncio.sleep(0)
        with pytest.raises(TimeoutError):
            await pool.fetchrow(SLEEP, {"s": 0})
        assert (await holder) is not None
        assert (await pool.fetchrow(SLEEP, {"s": 0})) is not None and pool._opened == 1 and not pool._waiters
    finally:
        await pool.close()


async def test_a_direct_transaction_commits_together_or_not_at_all(pg_backend: Backend) -> None:
    db = pg_backend.runtime.db
    assert db.direct is not None
    table = probe_table()
    async with transaction(db) as conn:
        await conn.run_sync(table.metadata.create_all)
    try:
        at = datetime(2026, 12, 7, tzinfo=UTC)
        insert = DirectStatement(table.insert().values(id=sa.bindparam("id"), doc=sa.bindparam("doc"),
                                                       at=sa.bindparam("at"), n=sa.bindparam("n")), variant=False)
        count = DirectStatement(sa.select(sa.func.count()).select_from(table))
        seen: list[str] = []
        db.direct.listeners.append(seen.append)
        async with db.direct.transaction() as tx:
            await tx.fetch(insert, {"id": "a", "doc": None, "at": at, "n": 1})
            await tx.executemany(insert, [{"id": "b", "doc": [1], "at": at, "n": 2},
                                          {"id": "c", "doc": {"x": 1}, "at": at, "n": 3}])
        db.direct.listeners.remove(seen.append)
        assert len(seen) == 2 and (await db.direct.fetchrow(count, {})).count_1 == 3  # type: ignore[union-attr]
        with pytest.raises(asyncpg.UniqueViolationError):
            async with db.direct.transaction() as tx:
                await tx.fetch(insert, {"id": "d", "doc": None, "at": at, "n": 4})
                await tx.fetch(insert, {"id": "a", "doc": None, "at": at, "n": 5})  # taken: all of it rolls back
        with pytest.raises(RuntimeError):
            async with db.direct.transaction() as tx:
                await tx.fetch(insert, {"id": "e", "doc": None, "at": at, "n": 6})
                raise RuntimeError("the caller gives up")
        assert (await db.direct.fetchrow(count, {})).count_1 == 3  # type: ignore[union-attr]
        stats = db.direct.stats()
        assert stats["in_use"] == 0  # every connection went back
    finally:
        async with transaction(db) as conn:
            await conn.run_sync(table.metadata.drop_all)
