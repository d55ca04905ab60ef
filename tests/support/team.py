"""Team accounts for tests: a workspace with its owner and an application, people with roles, and
signed-in calls (the session cookie and CSRF token sent by hand, so that no cookie stays in a client
shared by other tests)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from kassa_platform.db import transaction
from kassa_platform.tables import application_roles, memberships
from kassa_team import team_rows
from kassa_team.service import team_of

PASSWORD = "correct horse battery staple"


@dataclass
class Person:
    user_id: str
    email: str
    password: str
    cookie: str = ""
    csrf: str = ""

    def headers(self, app_id: str | None = None, *, csrf: bool = True, **extra: str) -> dict[str, str]:
        headers = {"Cookie": f"kassa_session={self.cookie}", **extra}
        if app_id:
            headers["Kassa-Application"] = app_id
        if csrf:
            headers["X-CSRF-Token"] = self.csrf
        return headers


@dataclass
class Team:
    workspace_id: str
    app_id: str
    owner: Person


def unique_email(label: str = "user") -> str:
    return f"{label}-{uuid.uuid4().hex[:10]}@example.com"


def session_cookie(response: httpx.Response) -> str:
    header = response.headers.get("set-cookie", "")
    assert header.startswith("kassa_session="), header
    return header.split(";", 1)[0].split("=", 1)[1]


async def sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD,
                  headers: dict[str, str] | None = None) -> httpx.Response:
    response = await client.post("/api/v1/auth/sign-in", json={"email": email, "password": password},
                                 headers=headers or {})
    client.cookies.clear()  # the client is shared: the cookie goes by hand, in Person.headers
    return response


async def signed_in(client: httpx.AsyncClient, person: Person) -> Person:
    response = await sign_in(client, person.email, person.password)
    assert response.status_code == 200, response.text
    person.cookie = session_cookie(response)
    person.csrf = response.json()["csrfToken"]
    return person


async def make_team(backend: Any, *, sign: bool = True) -> Team:
    """A workspace with its owner (signed in) and one test application."""
    accounts = team_of(backend.runtime).accounts
    async with transaction(backend.runtime.db) as conn:
        # The first workspace of a database takes every application made before workspaces existed
        # (create_owner): other tests' applications, when this test happens to make the first one.
        if await team_rows.first_workspace(conn) is None:
            await team_rows.insert_workspace(conn, "Earlier applications", backend.clock.now())
    email = unique_email("owner")
    user_id, workspace_id, _ = await accounts.create_owner(email, PASSWORD, "Owner", "Workspace")
    from kassa_team import workspaces

    async with transaction(backend.runtime.db) as conn:
        ws = await team_rows.workspace(conn, workspace_id)
        assert ws is not None
        who = workspaces.Actor(ws, user_id, None, frozenset({"applications:manage"}), "Owner")
        app = await workspaces.create_application(conn, who, "Store", "test", backend.clock.now())
    owner = Person(user_id, email, PASSWORD)
    if sign:
        await signed_in(backend.client, owner)
    return Team(workspace_id, app.id, owner)


async def add_person(backend: Any, team: Team, workspace_role: str, application_role: str | None = None, *,
                     sign: bool = True) -> Person:
    """A member of the team's workspace with these roles (set directly, as an accepted invitation would)."""
    accounts = team_of(backend.runtime).accounts
    email = unique_email(workspace_role)
    now = backend.clock.now()
    async with transaction(backend.runtime.db) as conn:
        user_id = await accounts.create_user(conn, email, PASSWORD, None, now)
        await conn.execute(memberships.insert().values(workspace_id=team.workspace_id, user_id=user_id,
                                                       role=workspace_role, created_at=now))
        if application_role:
            await conn.execute(application_roles.insert().values(app_id=team.app_id, user_id=user_id,
                                                                 role=application_role))
    person = Person(user_id, email, PASSWORD)
    if sign:
        await signed_in(backend.client, person)
    return person


async def team_env(tenant: Any) -> dict[str, str]:
    """The tenant's application in a workspace of its own, and a key that manages its members (the
    JS SDK's team test reads these)."""
    from kassa_platform.auth import create_key

    backend = tenant.backend
    _, workspace_id, _ = await team_of(backend.runtime).accounts.create_owner(unique_email("owner"), PASSWORD)
    async with transaction(backend.runtime.db) as conn:
        await team_rows.set_application_workspace(conn, tenant.app_id, workspace_id)
        key = await create_key(conn, tenant.app_id, kind="secret", scopes=["members:read", "members:write"],
                               now=backend.clock.now())
    return {"KASSA_WORKSPACE_ID": workspace_id, "KASSA_MEMBERS_KEY": key}
