"""HTTP of the team service (docs/team.md): sign-in and sessions, members, invitations, applications.

Routes marked `team` work on no application (a signed-in call without `Kassa-Application`); each
checks the caller's team permission on the workspace it names (`workspaces.actor`). The `permission`
in `opt` is what the check asks for: the permission matrix test reads it, as it reads `scope`.
"""

from __future__ import annotations

from typing import Annotated, Any

from kassa_contract.common import Page
from kassa_contract.errors import KassaError
from kassa_contract.team import (
    Accepted,
    AcceptInvitation,
    CreateApplication,
    CreateInvitation,
    Invitation,
    Member,
    PasswordReset,
    PasswordResetConfirm,
    Permissions,
    RenameApplication,
    SessionView,
    SignedIn,
    SignedOut,
    SignIn,
    SignUp,
    UpdateMember,
    WorkspaceApplication,
)
from kassa_platform.app import runtime_of
from kassa_platform.auth import SESSION_COOKIE, Principal, principal_of
from kassa_platform.db import transaction
from kassa_platform.roles import API_SCOPES, TEAM_PERMISSIONS, effective_application_role, split
from litestar import Request, Response, delete, get, patch, post
from litestar.datastructures import Cookie
from litestar.params import FromPath, JSONBody, QueryParameter

from . import team_rows, workspaces
from .jobs import enqueue_mail
from .service import team_of

LOOPBACK = ("127.0.0.1", "::1", "localhost")
WorkspaceQuery = Annotated[str, QueryParameter(name="workspaceId", min_length=1, max_length=40)]


def _team(permission: str | None = None) -> dict[str, Any]:
    return {"team": True, **({"permission": permission} if permission else {})}


def _address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


def _cookie(request: Request[Any, Any, Any], value: str, max_age: int) -> Cookie:
    """HttpOnly, SameSite=Lax, Path=/; Secure unless on loopback or a plain-http deployment (development)."""
    host = (request.url.hostname or "").strip("[]")
    settings = runtime_of(request).settings
    plain_http = request.url.scheme == "http" and not settings.public_base_url.startswith("https://")
    return Cookie(key=SESSION_COOKIE, value=value, max_age=max_age, path="/", httponly=True, samesite="lax",
                  secure=not (host in LOOPBACK or plain_http))


def _user(principal: Principal) -> str:
    if principal.kind != "session" or not principal.user_id:
        raise KassaError("forbidden", "This call is made by a signed-in user, not with an API key")
    return principal.user_id


# ---------------------------------------------------------------- sign-in and sessions

@post("/api/v1/auth/sign-in", operation_id="signIn", status_code=200, opt={"public": True}, tags=["auth"])
async def sign_in(request: Request[Any, Any, Any], data: JSONBody[SignIn]) -> Response[SignedIn]:
    team = team_of(runtime_of(request))
    new = await team.accounts.sign_in(data.email, data.password, address=_address(request),
                                      user_agent=request.headers.get("user-agent"))
    await enqueue_mail(runtime_of(request).queue, new.mail_ids)
    max_age = int((new.expires_at - runtime_of(request).clock.now()).total_seconds())
    return Response(SignedIn(user=new.user, csrf_token=new.csrf_token), cookies=[_cookie(request, new.token, max_age)])


@post("/api/v1/auth/sign-up", operation_id="signUp", status_code=201, opt={"public": True}, tags=["auth"])
async def sign_up(request: Request[Any, Any, Any], data: JSONBody[SignUp]) -> Response[SignedIn]:
    """An invited person's account (with the invitation's email), the invitation accepted and signed in."""
    team = team_of(runtime_of(request))
    new, _ = await team.accounts.sign_up(data.invitation_token, data.password, data.name, address=_address(request),
                                         user_agent=request.headers.get("user-agent"))
    max_age = int((new.expires_at - runtime_of(request).clock.now()).total_seconds())
    return Response(SignedIn(user=new.user, csrf_token=new.csrf_token), status_code=201,
                    cookies=[_cookie(request, new.token, max_age)])


@get("/api/v1/auth/session", operation_id="getSession", opt=_team(), tags=["auth"])
async def get_session(request: Request[Any, Any, Any]) -> SessionView:
    principal = principal_of(request)
    return await team_of(runtime_of(request)).accounts.session_view(_user(principal), principal.key_id)


@post("/api/v1/auth/sign-out", operation_id="signOut", status_code=200, opt=_team(), tags=["auth"])
async def sign_out(request: Request[Any, Any, Any]) -> Response[SignedOut]:
    runtime = runtime_of(request)
    principal = principal_of(request)
    user_id = _user(principal)
    ended = await team_of(runtime).accounts.sign_out(user_id, principal.key_id)
    runtime.sessions.forget_user(user_id)  # this process at once; the others through the notification
    return Response(SignedOut(signed_out=True, sessions=ended), cookies=[_cookie(request, "", 0)])


@post("/api/v1/auth/sign-out-everywhere", operation_id="signOutEverywhere", status_code=200, opt=_team(),
      tags=["auth"])
async def sign_out_everywhere(request: Request[Any, Any, Any]) -> Response[SignedOut]:
    runtime = runtime_of(request)
    user_id = _user(principal_of(request))
    ended = await team_of(runtime).accounts.sign_out_everywhere(user_id)
    runtime.sessions.forget_user(user_id)
    return Response(SignedOut(signed_out=True, sessions=ended), cookies=[_cookie(request, "", 0)])


@get("/api/v1/auth/permissions", operation_id="getPermissions", tags=["auth"])
async def get_permissions(request: Request[Any, Any, Any]) -> Permissions:
    """What the caller may do on its application: for UIs to hide what they cannot open."""
    principal = principal_of(request)
    if principal.kind == "session" and principal.user_id:
        workspace_role, own = await team_of(runtime_of(request)).accounts.roles_on(
            principal.user_id, principal.workspace_id, principal.app_id)
        scopes, permissions = split(principal.scopes)
        return Permissions(workspace_role=workspace_role, application_role=effective_application_role(  # type: ignore[arg-type]
            workspace_role, own), scopes=scopes, permissions=permissions)
    granted = frozenset(s for s in (*API_SCOPES, *TEAM_PERMISSIONS) if principal.has(s))
    scopes, permissions = split(granted)
    return Permissions(workspace_role=None, application_role=None, scopes=scopes, permissions=permissions)


@post("/api/v1/auth/password-reset", operation_id="requestPasswordReset", status_code=202, opt={"public": True},
      tags=["auth"])
async def request_password_reset(request: Request[Any, Any, Any], data: JSONBody[PasswordReset]) -> dict[str, bool]:
    """Always 202: whether an account has this email is not told."""
    runtime = runtime_of(request)
    mail_ids = await team_of(runtime).accounts.request_reset(data.email, address=_address(request))
    await enqueue_mail(runtime.queue, mail_ids)
    return {"accepted": True}


@post("/api/v1/auth/password-reset/confirm", operation_id="confirmPasswordReset", status_code=200,
      opt={"public": True}, tags=["auth"])
async def confirm_password_reset(request: Request[Any, Any, Any], data: JSONBody[PasswordResetConfirm]) -> SignedOut:
    runtime = runtime_of(request)
    ended = await team_of(runtime).accounts.confirm_reset(data.token, data.password, address=_address(request))
    runtime.sessions.forget()  # the user's sessions ended; whose is not known here without a lookup
    return SignedOut(signed_out=True, sessions=ended)


# ---------------------------------------------------------------- members

@get("/api/v1/workspaces/{workspace_id:str}/members", operation_id="listMembers", opt=_team("members:read"),
     tags=["members"])
async def list_members(request: Request[Any, Any, Any], workspace_id: FromPath[str]) -> Page[Member]:
    async with runtime_of(request).db() as conn:
        who = await workspaces.actor(conn, principal_of(request), workspace_id, "members:read")
        return Page(data=await workspaces.list_members(conn, who))


@patch("/api/v1/workspaces/{workspace_id:str}/members/{user_id:str}", operation_id="updateMember",
       opt=_team("members:write"), tags=["members"])
async def update_member(request: Request[Any, Any, Any], workspace_id: FromPath[str], user_id: FromPath[str],
                        data: JSONBody[UpdateMember]) -> Member:
    runtime = runtime_of(request)
    async with transaction(runtime.db) as conn:
        who = await workspaces.actor(conn, principal_of(request), workspace_id, "members:write")
        member, mail_ids = await workspaces.update_member(conn, who, user_id, data, runtime.clock.now(),
                                                          runtime.settings)
    runtime.sessions.forget_user(user_id)
    await enqueue_mail(runtime.queue, mail_ids)
    return member


@delete("/api/v1/workspaces/{workspace_id:str}/members/{user_id:str}", operation_id="removeMember", status_code=204,
        opt=_team("members:write"), tags=["members"])
async def remove_member(request: Request[Any, Any, Any], workspace_id: FromPath[str], user_id: FromPath[str]) -> None:
    """Remove a member; every member may remove themselves (leave), except the last owner."""
    runtime = runtime_of(request)
    principal = principal_of(request)
    async with transaction(runtime.db) as conn:
        leaving = principal.kind == "session" and principal.user_id == user_id
        who = None if leaving else await workspaces.actor(conn, principal, workspace_id, "members:write")
        if leaving:
            await workspaces.actor(conn, principal, workspace_id, "members:read")
        await workspaces.remove_member(conn, who, principal, workspace_id, user_id, runtime.clock.now())
    runtime.sessions.forget_user(user_id)


# ---------------------------------------------------------------- invitations

@post("/api/v1/workspaces/{workspace_id:str}/invitations", operation_id="createInvitation",
      opt=_team("members:write"), tags=["invitations"])
async def create_invitation(request: Request[Any, Any, Any], workspace_id: FromPath[str],
                            data: JSONBody[CreateInvitation]) -> Invitation:
    runtime = runtime_of(request)
    async with transaction(runtime.db) as conn:
        who = await workspaces.actor(conn, principal_of(request), workspace_id, "members:write")
        invitation, mail_ids = await workspaces.create_invitation(conn, who, data, runtime.clock.now(),
                                                                  runtime.settings)
    await enqueue_mail(runtime.queue, mail_ids)
    return invitation


@get("/api/v1/workspaces/{workspace_id:str}/invitations", operation_id="listInvitations",
     opt=_team("members:read"), tags=["invitations"])
async def list_invitations(request: Request[Any, Any, Any], workspace_id: FromPath[str]) -> Page[Invitation]:
    runtime = runtime_of(request)
    async with runtime.db() as conn:
        who = await workspaces.actor(conn, principal_of(request), workspace_id, "members:read")
        now = runtime.clock.now()
        return Page(data=[workspaces.invitation_view(r, now)
                          for r in await team_rows.workspace_invitations(conn, who.workspace.id)])


@post("/api/v1/workspaces/{workspace_id:str}/invitations/{invitation_id:str}/resend", operation_id="resendInvitation",
      status_code=200, opt=_team("members:write"), tags=["invitations"])
async def resend_invitation(request: Request[Any, Any, Any], workspace_id: FromPath[str],
                            invitation_id: FromPath[str]) -> Invitation:
    runtime = runtime_of(request)
    async with transaction(runtime.db) as conn:
        who = await workspaces.actor(conn, principal_of(request), workspace_id, "members:write")
        invitation, mail_ids = await workspaces.resend_invitation(conn, who, invitation_id, runtime.clock.now(),
                                                                  runtime.settings)
    await enqueue_mail(runtime.queue, mail_ids)
    return invitation


@delete("/api/v1/workspaces/{workspace_id:str}/invitations/{invitation_id:str}", operation_id="revokeInvitation",
        status_code=200, opt=_team("members:write"), tags=["invitations"])
async def revoke_invitation(request: Request[Any, Any, Any], workspace_id: FromPath[str],
                            invitation_id: FromPath[str]) -> Invitation:
    runtime = runtime_of(request)
    async with transaction(runtime.db) as conn:
        who = await workspaces.actor(conn, principal_of(request), workspace_id, "members:write")
        return await workspaces.revoke_invitation(conn, who, invitation_id, runtime.clock.now())


@post("/api/v1/invitations/accept", operation_id="acceptInvitation", status_code=200, opt=_team(),
      tags=["invitations"])
async def accept_invitation(request: Request[Any, Any, Any], data: JSONBody[AcceptInvitation]) -> Accepted:
    runtime = runtime_of(request)
    user_id = _user(principal_of(request))
    async with transaction(runtime.db) as conn:
        user = await team_rows.user(conn, user_id)
        assert user is not None
        accepted = await workspaces.accept_invitation(conn, data.token, user_id, user.email, runtime.clock.now())
    runtime.sessions.forget_user(user_id)
    return accepted


# ---------------------------------------------------------------- applications

@post("/api/v1/applications", operation_id="createWorkspaceApplication", opt=_team("applications:manage"),
      tags=["applications"])
async def create_application(request: Request[Any, Any, Any], data: JSONBody[CreateApplication]) -> WorkspaceApplication:
    runtime = runtime_of(request)
    async with transaction(runtime.db) as conn:
        who = await workspaces.actor(conn, principal_of(request), data.workspace_id, "applications:manage")
        return await workspaces.create_application(conn, who, data.name, data.environment, runtime.clock.now())


@get("/api/v1/applications", operation_id="listWorkspaceApplications", opt=_team("members:read"),
     tags=["applications"])
async def list_applications(request: Request[Any, Any, Any],
                            workspace_id: WorkspaceQuery) -> Page[WorkspaceApplication]:
    async with runtime_of(request).db() as conn:
        who = await workspaces.actor(conn, principal_of(request), workspace_id, "members:read")
        return Page(data=await workspaces.visible_applications(conn, who))


@patch("/api/v1/applications/{app_id:str}", operation_id="renameWorkspaceApplication",
       opt=_team("applications:manage"), tags=["applications"])
async def rename_application(request: Request[Any, Any, Any], app_id: FromPath[str],
                             data: JSONBody[RenameApplication]) -> WorkspaceApplication:
    runtime = runtime_of(request)
    async with transaction(runtime.db) as conn:
        app = await workspaces.application_of(conn, app_id)
        who = await workspaces.actor(conn, principal_of(request), app.workspace_id or "", "applications:manage")
        return await workspaces.rename_application(conn, who, app_id, data.name, runtime.clock.now())


ROUTES = [sign_in, sign_up, get_session, sign_out, sign_out_everywhere, get_permissions, request_password_reset,
          confirm_password_reset, list_members, update_member, remove_member, create_invitation, list_invitations,
          resend_invitation, revoke_invitation, accept_invitation, create_application, list_applications,
          rename_application]
