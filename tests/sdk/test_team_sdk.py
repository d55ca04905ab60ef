"""The Python SDK's team operations: what an integration with a provisioning key calls (members and
invitations of its workspace, what the key may do), typed answers and typed errors."""

from __future__ import annotations

import kassa_sdk
import pytest
from kassa_platform.auth import create_key
from kassa_platform.db import transaction
from kassa_team import team_rows
from kassa_team.service import team_of

from tests.sdk.conftest import Shop
from tests.support.team import PASSWORD, unique_email


async def test_members_and_invitations_with_a_provisioning_key(shop: Shop) -> None:
    backend = shop.backend
    owner_email = unique_email("owner")
    owner_id, workspace_id, _ = await team_of(backend.runtime).accounts.create_owner(owner_email, PASSWORD)
    app_id = shop.merchant.app_id
    async with transaction(backend.runtime.db) as conn:
        await team_rows.set_application_workspace(conn, app_id, workspace_id)
        key = await create_key(conn, app_id, kind="secret", scopes=["members:read", "members:write"],
                               now=backend.clock.now())

    async with shop.async_client(key=key) as kassa:
        permissions = await kassa.permissions.retrieve()
        assert permissions.permissions == ["members:read", "members:write"] and permissions.scopes == []
        invitation = await kassa.invitations.create(workspace_id, email="Support@Example.com",
                                                    applications=[(app_id, "viewer")])
        assert (invitation.email, invitation.status, invitation.role) == ("support@example.com", "pending", "member")
        assert invitation.applications[0].role == "viewer"
        resent = await kassa.invitations.resend(workspace_id, invitation.id)
        assert resent.expires_at >= invitation.expires_at
        assert [i.id for i in await kassa.invitations.list(workspace_id)] == [invitation.id]
        assert (await kassa.invitations.revoke(workspace_id, invitation.id)).status == "revoked"
        with pytest.raises(kassa_sdk.ForbiddenError):
            await kassa.invitations.create(workspace_id, email="boss@example.com", role="admin")

        [member] = await kassa.members.list(workspace_id)
        assert (member.user.id, member.role) == (owner_id, "owner")
        with pytest.raises(kassa_sdk.ForbiddenError):  # a key manages members only, not owners
            await kassa.members.update(workspace_id, owner_id, role="member")
        with pytest.raises(kassa_sdk.MemberNotFoundError):
            await kassa.members.remove(workspace_id, "usr_nobody")
        with pytest.raises(kassa_sdk.WorkspaceNotFoundError):
            await kassa.members.list("wsp_elsewhere")

    async with shop.async_client() as full:  # the shop's `*` key: no team scopes
        with pytest.raises(kassa_sdk.ForbiddenError):
            await full.members.list(workspace_id)
