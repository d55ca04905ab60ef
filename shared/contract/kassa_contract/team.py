"""Team accounts (docs/team.md): users and sign-in, workspaces, members, invitations, applications.

The roles (what each may do) are the platform's table (`kassa_platform.roles`); these are the wire
types of the team service's routes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from msgspec import Meta

from .base import UNSET, Model, Request, UnsetT

WorkspaceRole = Literal["owner", "admin", "member"]
ApplicationRole = Literal["admin", "developer", "finance", "viewer"]
Environment = Literal["test", "live"]

Email = Annotated[str, Meta(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
# NIST SP 800-63B: at least 8 characters and at least 64 allowed, no composition rules. The length
# check (with the message the user sees) is the team service's, so that the error says what to fix.
Password = Annotated[str, Meta(max_length=256)]
Name = Annotated[str, Meta(min_length=1, max_length=200)]
Token = Annotated[str, Meta(min_length=1, max_length=200)]


class SignIn(Request):
    email: Email
    password: Password


class SignUp(Request):
    """An invited person's account: the email is the invitation's."""

    invitation_token: Token
    password: Password
    name: Name | None = None


class User(Model):
    id: str
    email: str
    name: str | None


class SignedIn(Model):
    user: User
    # Send it as `X-CSRF-Token` on every state-changing call made with the session cookie.
    csrf_token: str


class SessionApplication(Model):
    id: str
    name: str
    environment: Environment
    # The caller's role on it: its own, or `admin` through an owner's or admin's workspace role.
    role: ApplicationRole


class SessionWorkspace(Model):
    id: str
    name: str
    role: WorkspaceRole
    applications: list[SessionApplication]


class SessionView(Model):
    user: User
    csrf_token: str
    workspaces: list[SessionWorkspace]
    expires_at: datetime


class Permissions(Model):
    """What the caller may do on the application it named (`Kassa-Application`) or its key's."""

    workspace_role: WorkspaceRole | None
    application_role: ApplicationRole | None
    scopes: list[str]
    permissions: list[str]


class PasswordReset(Request):
    email: Email


class PasswordResetConfirm(Request):
    token: Token
    password: Password


class SignedOut(Model):
    signed_out: bool
    # How many sessions ended (sign out everywhere ends every session of the user).
    sessions: int


class ApplicationGrant(Model):
    application_id: str
    role: ApplicationRole


class ApplicationGrantInput(Request):
    application_id: Annotated[str, Meta(min_length=1, max_length=40)]
    role: ApplicationRole


Grants = Annotated[list[ApplicationGrantInput], Meta(max_length=100)]


class Member(Model):
    user: User
    role: WorkspaceRole
    applications: list[ApplicationGrant]
    joined_at: datetime


class UpdateMember(Request):
    """Absent fields stay; `applications` replaces the member's application roles."""

    role: WorkspaceRole | UnsetT = UNSET
    applications: Grants | UnsetT = UNSET


class CreateInvitation(Request):
    email: Email
    role: WorkspaceRole = "member"
    applications: Grants = []


class Invitation(Model):
    id: str
    workspace_id: str
    email: str
    role: WorkspaceRole
    applications: list[ApplicationGrant]
    status: Literal["pending", "accepted", "revoked", "expired"]
    invited_by: str | None
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None = None


class AcceptInvitation(Request):
    token: Token


class Accepted(Model):
    workspace_id: str
    role: WorkspaceRole
    applications: list[ApplicationGrant]


class CreateApplication(Request):
    workspace_id: Annotated[str, Meta(min_length=1, max_length=40)]
    name: Name
    environment: Environment = "test"


class RenameApplication(Request):
    name: Name


class WorkspaceApplication(Model):
    id: str
    workspace_id: str
    name: str
    environment: Environment
    api_version: str
    created_at: datetime
