"""Ending sessions reaches every process: the trigger on `users` notifies `user:<id>` on the key
watch's channel (PostgreSQL), `users.changed_at` moves for SQLite's watchers, and the watch drops
that user's cached sessions."""

from __future__ import annotations

import asyncio

import asyncpg
import sqlalchemy as sa
from kassa_platform.key_watch import KeyWatch
from kassa_platform.tables import users

from tests.conftest import Backend
from tests.support.team import add_person, make_team


async def test_sign_out_everywhere_notifies_every_process(pg_backend: Backend) -> None:
    team = await make_team(pg_backend)
    listener = await asyncpg.connect(pg_backend.runtime.settings.database_url.replace("+asyncpg", ""))
    heard: asyncio.Queue[str] = asyncio.Queue()
    try:
        await listener.add_listener("kassa_api_keys", lambda *args: heard.put_nowait(args[3]))
        out = await pg_backend.client.post("/api/v1/auth/sign-out-everywhere", headers=team.owner.headers())
        assert out.status_code == 200
        assert await asyncio.wait_for(heard.get(), 5) == f"user:{team.owner.user_id}"
    finally:
        await listener.close()


async def test_a_role_change_moves_the_users_changed_at(backend: Backend) -> None:
    team = await make_team(backend)
    member = await add_person(backend, team, "member", "viewer")

    async def changed_at() -> object:
        async with backend.runtime.db() as conn:
            return (await conn.execute(sa.select(users.c.changed_at).where(users.c.id == member.user_id))).scalar_one()

    before = await changed_at()
    backend.clock.advance(seconds=1)
    updated = await backend.client.patch(f"/api/v1/workspaces/{team.workspace_id}/members/{member.user_id}",
                                         json={"role": "admin"}, headers=team.owner.headers())
    assert updated.status_code == 200
    assert await changed_at() != before


async def test_the_watch_drops_only_that_users_sessions(backend: Backend) -> None:
    team = await make_team(backend)
    other = await add_person(backend, team, "member", "viewer")
    sessions = backend.runtime.sessions
    for person in (team.owner, other):
        record = await sessions.session(person.cookie)
        assert record is not None and await sessions.principal(record, team.app_id) is not None
        assert sessions.cached(person.cookie) is not None
    watch = KeyWatch(backend.runtime.keys, backend.runtime.db, backend.runtime.settings.database_url, sessions)
    watch._changed(f"user:{team.owner.user_id}")  # what the listener does with a notification
    assert sessions.cached(team.owner.cookie) is None and sessions.cached(other.cookie) is not None
