"""The permission matrix, generated from the role table (kassa_platform.roles) and the services'
OpenAPI documents: for every role, every operation of every service answers allowed or 403 as the
table says, called with a session of a user holding the role and with a key holding its scopes.

"Allowed" means the call got past the permission check (whatever it answered then: 404 for the
made-up ids, 422 for the empty bodies); "forbidden" means 403 with the permission check's code.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from kassa_platform.auth import create_key
from kassa_platform.db import transaction
from kassa_platform.roles import API_SCOPES, APPLICATION_ROLES, WORKSPACE_ROLES, grants

from kassa.gateway import PathRouter
from kassa.services import SERVICES
from tests.conftest import Backend, _backend
from tests.support.team import Person, Team, add_person, make_team

# Every role a user can hold on an application: the workspace's owner and admin, and a member with
# each application role or none.
ROLES: list[tuple[str, str | None]] = [(w, None) for w in WORKSPACE_ROLES if w != "member"] + \
    [("member", a) for a in APPLICATION_ROLES] + [("member", None)]
KEY_TEAM_SCOPES = frozenset({"members:read", "members:write"})  # the team permissions a key can hold
NO_LIMITS = {"reads": "0", "writes": "0", "completes": "0", "auth_failures": "0"}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # as in the OpenAPI document
    operation_id: str
    opt: dict[str, Any]

    def allows(self, powers: frozenset[str], *, key: bool) -> bool:
        """What the role table says for a caller with these scopes and permissions."""
        if self.opt.get("team"):
            needed = self.opt.get("permission")
            if key:  # the team's routes for a signed-in user only (sign-out, the session), or by permission
                return needed is not None and needed in powers and needed in KEY_TEAM_SCOPES
            return needed is None or needed in powers
        needed = self.opt.get("scope")
        return needed is None or needed in powers


def operations(apps: dict[str, Any]) -> list[Operation]:
    found = []
    for name, app in apps.items():
        for path, item in (app.openapi_schema.paths or {}).items():
            for method in ("get", "post", "put", "patch", "delete"):
                operation = getattr(item, method, None)
                if operation is None:
                    continue
                filled = re.sub(r"\{(\w+)\}", "x", path)
                _, handler, *_ = app.asgi_router.handle_routing(path=filled, method=method.upper())
                if handler.opt.get("public") or handler.opt.get("internal"):
                    continue
                found.append(Operation(method.upper(), path, operation.operation_id, dict(handler.opt)))
    return found


@dataclass
class Matrix:
    backend: Backend
    client: httpx.AsyncClient
    operations: list[Operation]


async def _matrix(name: str, url: str) -> AsyncIterator[Matrix]:
    async for backend in _backend(name, url, rate_limits=NO_LIMITS):
        apps = {n: d.create_app(backend.runtime, owns_runtime=False) for n, d in SERVICES.items()}
        router = PathRouter([(SERVICES[n].path_prefixes, app) for n, app in apps.items()], default=apps["cart"])
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=router), base_url="http://kassa.test") as client:
            backend.client = client
            yield Matrix(backend, client, operations(apps))


@pytest.fixture(scope="module")
async def sqlite_matrix(sqlite_url: str) -> AsyncIterator[Matrix]:
    async for m in _matrix("sqlite", sqlite_url):
        yield m


@pytest.fixture(scope="module")
async def pg_matrix(pg_url: str) -> AsyncIterator[Matrix]:
    async for m in _matrix("postgres", pg_url):
        yield m


@pytest.fixture(params=["sqlite", "pg"])
def matrix(request: pytest.FixtureRequest) -> Matrix:
    return request.getfixturevalue(f"{request.param}_matrix")  # type: ignore[no-any-return]


def _path(op: Operation, team: Team) -> str:
    values = {"workspace_id": team.workspace_id, "app_id": team.app_id}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), f"{m.group(1)}_nope"), op.path)


def _body(op: Operation, team: Team) -> Any:
    """Bodies the team's routes accept (their permission check runs in the handler, after decoding);
    the others check permissions before the body, so an empty one does."""
    if op.method in ("GET", "DELETE"):
        return None
    return {"createWorkspaceApplication": {"workspaceId": team.workspace_id, "name": "Matrix"},
            "renameWorkspaceApplication": {"name": "Store"},
            "createInvitation": {"email": "matrix-invitee@example.com"},
            "acceptInvitation": {"token": "kinv_nope"},
            "updateMember": {}}.get(op.operation_id, {})


async def _check(matrix: Matrix, team: Team, headers: dict[str, str], powers: frozenset[str], *,
                 key: bool) -> tuple[list[str], int]:
    """The operations that answered against the table, and how many the table forbids."""
    wrong, forbidden = [], 0
    for op in matrix.operations:
        if op.operation_id in ("signOut", "signOutEverywhere"):
            continue  # they end the session the matrix is using; tests/team/test_sessions.py has them
        response = await matrix.client.request(op.method, _path(op, team), json=_body(op, team), headers=headers)
        denied = response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
        forbidden += not op.allows(powers, key=key)
        if denied == op.allows(powers, key=key):
            wrong.append(f"{op.method} {op.path} ({op.operation_id}): {response.status_code} {response.text[:160]}")
    return wrong, forbidden


@pytest.mark.parametrize(("workspace_role", "application_role"), ROLES)
async def test_sessions_and_keys_answer_as_the_role_table_says(matrix: Matrix, workspace_role: str,
                                                                application_role: str | None) -> None:
    assert len(matrix.operations) > 80 and {"team", "permission"} & {k for op in matrix.operations for k in op.opt}
    team = await make_team(matrix.backend)
    person: Person = team.owner if workspace_role == "owner" else await add_person(
        matrix.backend, team, workspace_role, application_role)
    powers = grants(workspace_role, application_role)

    by_session, forbidden = await _check(matrix, team, person.headers(team.app_id), powers, key=False)
    assert not by_session, f"{workspace_role}/{application_role} with a session:\n" + "\n".join(by_session)
    # The table forbids an operation to every role but the owner and the admin (who differ on owners only).
    assert (forbidden == 0) == (workspace_role in ("owner", "admin")), forbidden

    key_scopes = sorted(powers & (API_SCOPES | KEY_TEAM_SCOPES))
    async with transaction(matrix.backend.runtime.db) as conn:
        raw = await create_key(conn, team.app_id, kind="secret", scopes=key_scopes or None, now=matrix.backend.clock.now())
    key_powers = frozenset(key_scopes) if key_scopes else frozenset(API_SCOPES)  # no scopes: a `*` key
    by_key, forbidden = await _check(matrix, team, {"Authorization": f"Bearer {raw}"}, key_powers, key=True)
    assert forbidden > 0  # a key never manages applications nor owners
    assert not by_key, f"{workspace_role}/{application_role} as a key:\n" + "\n".join(by_key)
