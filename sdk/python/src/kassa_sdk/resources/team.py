"""The team of the key's workspace: members and invitations (docs/team.md), and what the key may do.

A key reaches its workspace's team only with the scopes `members:read` / `members:write` granted by
name (`*` does not include them); it then invites and manages `member`s, with roles on its own
application only: an integration that provisions support staff, say.
"""

from __future__ import annotations

from collections.abc import Iterable

from kassa_contract.base import UNSET, UnsetT
from kassa_contract.team import (
    ApplicationGrantInput,
    ApplicationRole,
    CreateInvitation,
    Invitation,
    Member,
    Permissions,
    UpdateMember,
    WorkspaceRole,
)

from .._base import Call, M, RequestOptions, Resource, operation, returns, returns_list, returns_nothing
from ._util import seg

WORKSPACES = "/api/v1/workspaces"


def _grants(applications: Iterable[tuple[str, ApplicationRole]]) -> list[ApplicationGrantInput]:
    return [ApplicationGrantInput(application_id=app_id, role=role) for app_id, role in applications]


class Members(Resource[M]):
    """`client.members` (scopes `members:read`, `members:write`)."""

    @operation
    def list(self, workspace_id: str, *, options: RequestOptions | None = None) -> Call[list[Member]]:
        """The workspace's members, their roles and their application roles."""
        return Call("GET", f"{WORKSPACES}/{seg(workspace_id)}/members", returns_list(Member), options=options)

    @operation
    def update(self, workspace_id: str, user_id: str, *, role: WorkspaceRole | UnsetT = UNSET,
               applications: Iterable[tuple[str, ApplicationRole]] | UnsetT = UNSET,
               options: RequestOptions | None = None) -> Call[Member]:
        """Change a member's workspace role and/or replace their application roles
        (`[(application_id, role)]`); the member is told by mail."""
        body = UpdateMember(role=role, applications=UNSET if isinstance(applications, UnsetT) else _grants(applications))
        return Call("PATCH", f"{WORKSPACES}/{seg(workspace_id)}/members/{seg(user_id)}", returns(Member), body,
                    options=options)

    @operation
    def remove(self, workspace_id: str, user_id: str, *, options: RequestOptions | None = None) -> Call[None]:
        """Remove a member (the last owner stays: `LastOwnerError`)."""
        return Call("DELETE", f"{WORKSPACES}/{seg(workspace_id)}/members/{seg(user_id)}", returns_nothing,
                    options=options)


class Invitations(Resource[M]):
    """`client.invitations` (scopes `members:read`, `members:write`)."""

    @operation
    def create(self, workspace_id: str, *, email: str, role: WorkspaceRole = "member",
               applications: Iterable[tuple[str, ApplicationRole]] = (),
               options: RequestOptions | None = None) -> Call[Invitation]:
        """Invite `email` (mailed a link valid 7 days, usable once and only by that address)."""
        body = CreateInvitation(email=email, role=role, applications=_grants(applications))
        return Call("POST", f"{WORKSPACES}/{seg(workspace_id)}/invitations", returns(Invitation), body,
                    options=options)

    @operation
    def list(self, workspace_id: str, *, options: RequestOptions | None = None) -> Call[list[Invitation]]:
        """The workspace's invitations, newest first, with their `status`."""
        return Call("GET", f"{WORKSPACES}/{seg(workspace_id)}/invitations", returns_list(Invitation), options=options)

    @operation
    def resend(self, workspace_id: str, invitation_id: str, *,
               options: RequestOptions | None = None) -> Call[Invitation]:
        """Mail a new link (the old one stops working), valid 7 more days."""
        return Call("POST", f"{WORKSPACES}/{seg(workspace_id)}/invitations/{seg(invitation_id)}/resend",
                    returns(Invitation), options=options)

    @operation
    def revoke(self, workspace_id: str, invitation_id: str, *,
               options: RequestOptions | None = None) -> Call[Invitation]:
        """Revoke the invitation: its link stops working (an accepted one stays as it is)."""
        return Call("DELETE", f"{WORKSPACES}/{seg(workspace_id)}/invitations/{seg(invitation_id)}",
                    returns(Invitation), options=options)


class PermissionsResource(Resource[M]):
    """`client.permissions`."""

    @operation
    def retrieve(self, *, options: RequestOptions | None = None) -> Call[Permissions]:
        """What this key may do: its scopes and team permissions."""
        return Call("GET", "/api/v1/auth/permissions", returns(Permissions), options=options)
