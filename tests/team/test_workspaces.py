"""Members, owners and applications (docs/team.md): the last owner stays, only owners touch owners,
a key manages only members of its own application, applications created and renamed by session."""

from __future__ import annotations

from kassa_platform.auth import create_key
from kassa_platform.db import transaction

from tests.conftest import Backend
from tests.support.team import add_person, make_team


async def test_the_last_owner_cannot_leave_or_be_demoted(backend: Backend) -> None:
    team = await make_team(backend)
    owner = team.owner
    members = f"/api/v1/workspaces/{team.workspace_id}/members"
    demote = await backend.client.patch(f"{members}/{owner.user_id}", json={"role": "admin"}, headers=owner.headers())
    assert demote.status_code == 409 and demote.json()["error"]["code"] == "last_owner"
    leave = await backend.client.delete(f"{members}/{owner.user_id}", headers=owner.headers())
    assert leave.status_code == 409 and leave.json()["error"]["code"] == "last_owner"
    # With a second owner, the first may step down.
    admin = await add_person(backend, team, "admin")
    promote = await backend.client.patch(f"{members}/{admin.user_id}", json={"role": "owner"},
                                         headers=admin.headers())
    assert promote.status_code == 403  # an admin cannot make owners
    promoted = await backend.client.patch(f"{members}/{admin.user_id}", json={"role": "owner"},
                                          headers=owner.headers())
    assert promoted.status_code == 200 and promoted.json()["role"] == "owner"
    stepped = await backend.client.patch(f"{members}/{owner.user_id}", json={"role": "member"},
                                         headers=owner.headers())
    assert stepped.status_code == 200, stepped.text
    # The change reached the session at once: the former owner can no longer manage members.
    listed = await backend.client.get(members, headers=owner.headers())
    assert listed.status_code == 200
    assert {m["user"]["id"]: m["role"] for m in listed.json()["data"]} == {owner.user_id: "member",
                                                                          admin.user_id: "owner"}
    refused = await backend.client.patch(f"{members}/{admin.user_id}", json={"role": "admin"}, headers=owner.headers())
    assert refused.status_code == 403


async def test_admins_manage_members_but_not_owners_and_anyone_may_leave(backend: Backend) -> None:
    team = await make_team(backend)
    admin = await add_person(backend, team, "admin")
    viewer = await add_person(backend, team, "member", "viewer")
    members = f"/api/v1/workspaces/{team.workspace_id}/members"
    assert (await backend.client.delete(f"{members}/{team.owner.user_id}", headers=admin.headers())).status_code == 403
    changed = await backend.client.patch(f"{members}/{viewer.user_id}", headers=admin.headers(),
                                         json={"applications": [{"applicationId": team.app_id, "role": "finance"}]})
    assert changed.status_code == 200 and changed.json()["applications"] == [
        {"applicationId": team.app_id, "role": "finance"}]
    refunds = await backend.client.get("/api/v1/auth/permissions", headers=viewer.headers(team.app_id))
    assert "orders:write" in refunds.json()["scopes"]
    # A member cannot manage, but can leave.
    assert (await backend.client.delete(f"{members}/{admin.user_id}", headers=viewer.headers())).status_code == 403
    left = await backend.client.delete(f"{members}/{viewer.user_id}", headers=viewer.headers())
    assert left.status_code == 204
    gone = await backend.client.get("/api/v1/products", headers=viewer.headers(team.app_id))
    assert gone.status_code == 403
    # An unknown or foreign workspace is not told apart.
    other = await make_team(backend, sign=False)
    foreign = await backend.client.get(f"/api/v1/workspaces/{other.workspace_id}/members", headers=admin.headers())
    assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "workspace_not_found"


async def test_a_key_with_members_scopes_manages_members_of_its_application(backend: Backend) -> None:
    team = await make_team(backend)
    async with transaction(backend.runtime.db) as conn:
        everything = await create_key(conn, team.app_id, kind="secret", scopes=["*"], now=backend.clock.now())
        provisioning = await create_key(conn, team.app_id, kind="secret", scopes=["members:read", "members:write"],
                                        now=backend.clock.now())
    path = f"/api/v1/workspaces/{team.workspace_id}/invitations"
    body = {"email": "support@example.com", "applications": [{"applicationId": team.app_id, "role": "viewer"}]}
    star = await backend.client.post(path, json=body, headers={"Authorization": f"Bearer {everything}"})
    assert star.status_code == 403  # `*` does not reach the team
    grant = await backend.client.post("/api/v1/api-keys", json={"scopes": ["members:write"]},
                                      headers={"Authorization": f"Bearer {everything}"})
    assert grant.status_code == 403  # nor can it hand out what it does not hold
    made = await backend.client.post(path, json=body, headers={"Authorization": f"Bearer {provisioning}"})
    assert made.status_code == 201, made.text
    assert made.json()["invitedBy"] == f"key:{team.app_id}"
    admin = await backend.client.post(path, json={**body, "role": "admin"},
                                      headers={"Authorization": f"Bearer {provisioning}"})
    assert admin.status_code == 403
    other_app = await backend.client.post("/api/v1/applications", headers=team.owner.headers(),
                                          json={"workspaceId": team.workspace_id, "name": "Live store",
                                                "environment": "live"})
    assert other_app.status_code == 201, other_app.text
    foreign = await backend.client.post(path, headers={"Authorization": f"Bearer {provisioning}"},
                                        json={**body, "applications": [{"applicationId": other_app.json()["id"],
                                                                         "role": "viewer"}]})
    assert foreign.status_code == 403


async def test_applications_are_created_listed_and_renamed_by_session(backend: Backend) -> None:
    team = await make_team(backend)
    developer = await add_person(backend, team, "member", "developer")
    made = await backend.client.post("/api/v1/applications", headers=team.owner.headers(),
                                     json={"workspaceId": team.workspace_id, "name": "EU live", "environment": "live"})
    assert made.status_code == 201 and made.json()["environment"] == "live"
    new_id = made.json()["id"]
    listed = await backend.client.get(f"/api/v1/applications?workspaceId={team.workspace_id}",
                                      headers=team.owner.headers())
    assert [a["name"] for a in listed.json()["data"]] == ["Store", "EU live"]
    theirs = await backend.client.get(f"/api/v1/applications?workspaceId={team.workspace_id}",
                                      headers=developer.headers())
    assert [a["id"] for a in theirs.json()["data"]] == [team.app_id]  # members see their own
    renamed = await backend.client.patch(f"/api/v1/applications/{new_id}", json={"name": "EU"},
                                         headers=team.owner.headers())
    assert renamed.status_code == 200 and renamed.json()["name"] == "EU"
    refused = await backend.client.patch(f"/api/v1/applications/{team.app_id}", json={"name": "Mine"},
                                         headers=developer.headers())
    assert refused.status_code == 403
    # The new application's keys are managed by session, as with a key; the singular route stays the key's own.
    key = await backend.client.post("/api/v1/api-keys", json={"scopes": ["*"]}, headers=team.owner.headers(new_id))
    assert key.status_code == 201, key.text
    own = await backend.client.get("/api/v1/application", headers={"Authorization": f"Bearer {key.json()['secret']}"})
    assert own.status_code == 200 and own.json()["id"] == new_id
    # A developer may not hand out a full key (it would include refunds, which the role lacks).
    dev_key = await backend.client.post("/api/v1/api-keys", json={"scopes": ["*"]}, headers=developer.headers(team.app_id))
    assert dev_key.status_code == 403 and dev_key.json()["error"]["details"]["lackingScopes"] == ["*"]


async def test_two_owners_demoting_each_other_at_once_leave_one_owner(pg_backend: Backend) -> None:
    """PostgreSQL, concurrently: the owners' rows are locked in one order before any change, so one
    demotion wins and the other sees the last owner (409), never a deadlock nor a workspace without owner."""
    import asyncio

    for _ in range(5):
        team = await make_team(pg_backend)
        second = await add_person(pg_backend, team, "owner")
        members = f"/api/v1/workspaces/{team.workspace_id}/members"
        answers = await asyncio.gather(
            pg_backend.client.patch(f"{members}/{second.user_id}", json={"role": "admin"},
                                    headers=team.owner.headers()),
            pg_backend.client.patch(f"{members}/{team.owner.user_id}", json={"role": "admin"},
                                    headers=second.headers()))
        assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
        listed = (await pg_backend.client.get(members, headers=team.owner.headers())).json()["data"]
        assert [m["role"] for m in listed].count("owner") == 1
