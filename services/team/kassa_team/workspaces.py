"""Workspaces: members and their roles, invitations, applications (no HTTP here).

Who may do what comes from `kassa_platform.roles`, the one table: a signed-in user needs the team
permission through their workspace role; a key needs the scope by name (`members:read`,
`members:write`: `*` does not include them) and its application must be of the workspace, and then
manages only `member`s and only roles on its own application. Making, changing or removing an owner
takes `owners:manage` (owners only), and a workspace always keeps an owner: the last one can neither
leave nor be demoted (409 `last_owner`), checked under a lock on the owners' rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from kassa_contract.errors import KassaError
from kassa_contract.team import (
    Accepted,
    ApplicationGrant,
    ApplicationGrantInput,
    CreateInvitation,
    Invitation,
    Member,
    UpdateMember,
    WorkspaceApplication,
)
from kassa_platform import audit
from kassa_platform.auth import Principal, hash_key
from kassa_platform.ids import random_token
from kassa_platform.roles import grants as role_grants
from kassa_platform.settings import Settings
from msgspec import UNSET
from sqlalchemy.ext.asyncio import AsyncConnection

from . import mail
from . import team_rows as rows
from .accounts import user_view

INVITATION_TTL = timedelta(days=7)
INVITATION_PREFIX = "kinv_"


@dataclass(frozen=True)
class Actor:
    """Who acts on a workspace: a user with a workspace role, or a key of one of its applications."""

    workspace: rows.WorkspaceRow
    user_id: str | None
    key_app_id: str | None  # a key's own application: the only one it manages roles on
    powers: frozenset[str]
    name: str  # for mail: the user's name or email, or "An integration"

    def can(self, permission: str) -> bool:
        return permission in self.powers

    @property
    def id(self) -> str:
        return self.user_id or f"key:{self.key_app_id}"


async def actor(conn: AsyncConnection, principal: Principal, workspace_id: str, permission: str) -> Actor:
    """The caller on the workspace, if it has `permission` there: 404 when it is not of the workspace
    (its existence is not told), 403 when its role does not allow it."""
    ws = await rows.workspace(conn, workspace_id)
    if principal.kind == "session" and principal.user_id:
        member = await rows.membership(conn, workspace_id, principal.user_id) if ws else None
        if ws is None or member is None:
            raise KassaError("workspace_not_found", f"No workspace {workspace_id}")
        user = await rows.user(conn, principal.user_id)
        found = Actor(ws, principal.user_id, None, role_grants(member.role, None),
                      (user.name or user.email) if user else "A teammate")
    else:
        app = await rows.application(conn, principal.app_id) if principal.app_id else None
        if ws is None or app is None or app.workspace_id != workspace_id:
            raise KassaError("workspace_not_found", f"No workspace {workspace_id}")
        powers = frozenset(p for p in ("members:read", "members:write") if principal.has(p))
        found = Actor(ws, None, principal.app_id, powers, "An integration")
    if not found.can(permission):
        raise KassaError("forbidden", f"Your role in this workspace does not grant `{permission}`",
                         details={"permission": permission})
    return found


async def _record(conn: AsyncConnection, who: Actor, action: str, resource_id: str, now: datetime, *,
                  before: object = None, after: object = None) -> None:
    """A team change is the workspace's entry; made with a key, its application's too (the key's log)."""
    await audit.record(conn, action, resource_id, app_id=who.key_app_id, workspace_id=who.workspace.id, now=now,
                       before=before, after=after)


def _grants(items: list[dict[str, str]]) -> list[ApplicationGrant]:
    return [ApplicationGrant(application_id=i["applicationId"], role=i["role"]) for i in items]  # type: ignore[arg-type]


async def _check_grants(conn: AsyncConnection, who: Actor, role: str, wanted: list[ApplicationGrantInput]) -> list[str]:
    """The workspace's applications the actor may set roles on; 403/422 for a grant it may not make."""
    apps = [a.id for a in await rows.workspace_applications(conn, who.workspace.id)]
    allowed = apps if who.user_id else [a for a in apps if a == who.key_app_id]
    for i, grant in enumerate(wanted):
        if grant.application_id not in apps:
            raise KassaError("application_not_found", f"No application {grant.application_id} in this workspace",
                             field=f"applications[{i}].applicationId")
        if grant.application_id not in allowed:
            raise KassaError("forbidden", "A key manages roles on its own application only",
                             field=f"applications[{i}].applicationId")
    if role == "owner" and not who.can("owners:manage"):
        raise KassaError("forbidden", "Only an owner can make an owner", details={"permission": "owners:manage"})
    if role != "member" and who.user_id is None:
        raise KassaError("forbidden", "A key invites and manages members only (not admins or owners)")
    return allowed


# ---------------------------------------------------------------- members

async def list_members(conn: AsyncConnection, who: Actor) -> list[Member]:
    found = await rows.members(conn, who.workspace.id)
    people = await rows.users_by_id(conn, [m.user_id for m in found])
    by_user: dict[str, list[ApplicationGrant]] = {}
    for g in await rows.grants(conn, who.workspace.id):
        by_user.setdefault(g.user_id, []).append(ApplicationGrant(application_id=g.app_id, role=g.role))  # type: ignore[arg-type]
    return [Member(user=user_view(people[m.user_id]), role=m.role, applications=by_user.get(m.user_id, []),  # type: ignore[arg-type]
                   joined_at=m.created_at) for m in found if m.user_id in people]


async def _member(conn: AsyncConnection, who: Actor, user_id: str) -> Member:
    for m in await list_members(conn, who):
        if m.user.id == user_id:
            return m
    raise KassaError("member_not_found", f"No member {user_id} in this workspace")


async def update_member(conn: AsyncConnection, who: Actor, user_id: str, body: UpdateMember, now: datetime,
                        settings: Settings) -> tuple[Member, list[str]]:
    owners = await rows.lock_owners(conn, who.workspace.id)  # first, always (see lock_owners)
    current = await rows.membership(conn, who.workspace.id, user_id, lock=True)
    if current is None:
        raise KassaError("member_not_found", f"No member {user_id} in this workspace")
    before = await _member(conn, who, user_id)
    role = current.role if body.role is UNSET else body.role
    if current.role == "owner" and not who.can("owners:manage"):
        raise KassaError("forbidden", "Only an owner can change an owner", details={"permission": "owners:manage"})
    if who.user_id is None and current.role != "member":
        raise KassaError("forbidden", "A key manages members only (not admins or owners)")
    wanted = [] if body.applications is UNSET else list(body.applications)
    allowed = await _check_grants(conn, who, role, wanted)
    if current.role == "owner" and role != "owner":
        if owners == [user_id]:
            raise KassaError("last_owner", "The workspace's last owner cannot be demoted: make another owner first")
    if role != current.role:
        await rows.set_role(conn, who.workspace.id, user_id, role)
    if body.applications is not UNSET:
        await rows.replace_grants(conn, allowed, user_id, [(g.application_id, g.role) for g in wanted])
    await rows.touch_users(conn, [user_id], now)
    member = await _member(conn, who, user_id)
    await _record(conn, who, "member.updated", user_id, now, before=before, after=member)
    apps = {a.id: a.name for a in await rows.workspace_applications(conn, who.workspace.id)}
    notice = mail.role_changed(workspace=who.workspace.name, role=member.role,
                               applications=[(apps.get(g.application_id, g.application_id), g.role)
                                             for g in member.applications], by=who.name)
    return member, [await mail.queue(conn, member.user.email, "role_changed", notice, now)]


async def remove_member(conn: AsyncConnection, who: Actor | None, principal: Principal, workspace_id: str,
                        user_id: str, now: datetime) -> None:
    """Remove a member; anyone may leave (`who` None: the caller removes itself), but not the last owner."""
    owners = await rows.lock_owners(conn, workspace_id)  # first, always (see lock_owners)
    current = await rows.membership(conn, workspace_id, user_id, lock=True)
    if current is None:
        raise KassaError("member_not_found", f"No member {user_id} in this workspace")
    if who is not None:
        if current.role == "owner" and not who.can("owners:manage"):
            raise KassaError("forbidden", "Only an owner can remove an owner", details={"permission": "owners:manage"})
        if who.user_id is None and current.role != "member":
            raise KassaError("forbidden", "A key manages members only (not admins or owners)")
    if current.role == "owner" and owners == [user_id]:
        raise KassaError("last_owner", "The workspace's last owner cannot leave: make another owner first")
    apps = [a.id for a in await rows.workspace_applications(conn, workspace_id)]
    await rows.replace_grants(conn, apps, user_id, [])
    await rows.delete_membership(conn, workspace_id, user_id)
    await rows.touch_users(conn, [user_id], now)
    # A member who leaves acts on no application; a key that removes one is its application's.
    await audit.record(conn, "member.removed", user_id, app_id=who.key_app_id if who else None,
                       workspace_id=workspace_id, now=now, before={"userId": user_id, "role": current.role})


# ---------------------------------------------------------------- invitations

def invitation_view(row: rows.InvitationRow, now: datetime) -> Invitation:
    status = ("accepted" if row.accepted_at else "revoked" if row.revoked_at else
              "expired" if row.expires_at <= now else "pending")
    return Invitation(id=row.id, workspace_id=row.workspace_id, email=row.email, role=row.role,  # type: ignore[arg-type]
                      applications=_grants(row.applications), status=status, invited_by=row.invited_by,  # type: ignore[arg-type]
                      created_at=row.created_at, expires_at=row.expires_at, accepted_at=row.accepted_at)


def _invitation_mail(settings: Settings, who: Actor, token: str, expires: datetime) -> mail.Mail:
    link = f"{settings.public_base_url}/dashboard/invitations/accept?token={token}"
    return mail.invitation(workspace=who.workspace.name, inviter=who.name, link=link, expires_at=expires)


async def create_invitation(conn: AsyncConnection, who: Actor, body: CreateInvitation, now: datetime,
                            settings: Settings) -> tuple[Invitation, list[str]]:
    await _check_grants(conn, who, body.role, list(body.applications))
    email = body.email.strip().lower()
    existing = await rows.user_by_email(conn, email)
    if existing is not None and await rows.membership(conn, who.workspace.id, existing.id) is not None:
        raise KassaError("already_member", f"{email} is already a member of this workspace", field="email")
    pending = await rows.pending_invitation_for(conn, who.workspace.id, email, now)
    if pending is not None:  # a new invitation replaces the pending one: one link works, the newest
        await rows.revoke_invitation(conn, pending.id, now)
    token = INVITATION_PREFIX + random_token(24)
    expires = now + INVITATION_TTL
    invitation_id = await rows.insert_invitation(
        conn, workspace_id=who.workspace.id, email=email, role=body.role,
        apps=[{"applicationId": g.application_id, "role": g.role} for g in body.applications],
        token_hash=hash_key(token), invited_by=who.id, now=now, expires_at=expires)
    mail_id = await mail.queue(conn, email, "invitation", _invitation_mail(settings, who, token, expires), now)
    row = await rows.invitation(conn, invitation_id)
    assert row is not None
    created = invitation_view(row, now)  # the view has no token: the link is in the mail only
    await _record(conn, who, "invitation.created", invitation_id, now, after=created)
    return created, [mail_id]


async def _open_invitation(conn: AsyncConnection, who: Actor, invitation_id: str) -> rows.InvitationRow:
    row = await rows.invitation(conn, invitation_id, lock=True)
    if row is None or row.workspace_id != who.workspace.id:
        raise KassaError("invitation_not_found", f"No invitation {invitation_id}")
    if who.user_id is None and row.role != "member":
        raise KassaError("forbidden", "A key manages members only (not admins or owners)")
    if row.role == "owner" and not who.can("owners:manage"):
        raise KassaError("forbidden", "Only an owner can manage an owner's invitation")
    return row


async def resend_invitation(conn: AsyncConnection, who: Actor, invitation_id: str, now: datetime,
                            settings: Settings) -> tuple[Invitation, list[str]]:
    """A new link (the old one stops working) valid for another 7 days, mailed again."""
    row = await _open_invitation(conn, who, invitation_id)
    if row.accepted_at is not None or row.revoked_at is not None:
        raise KassaError("invitation_used", "This invitation was accepted or revoked: invite again")
    token = INVITATION_PREFIX + random_token(24)
    expires = now + INVITATION_TTL
    await rows.renew_invitation(conn, row.id, hash_key(token), expires)
    mail_id = await mail.queue(conn, row.email, "invitation", _invitation_mail(settings, who, token, expires), now)
    renewed = await rows.invitation(conn, row.id)
    assert renewed is not None
    after = invitation_view(renewed, now)
    await _record(conn, who, "invitation.resent", row.id, now, before=invitation_view(row, now), after=after)
    return after, [mail_id]


async def revoke_invitation(conn: AsyncConnection, who: Actor, invitation_id: str, now: datetime) -> Invitation:
    row = await _open_invitation(conn, who, invitation_id)
    if row.accepted_at is None:
        await rows.revoke_invitation(conn, row.id, now)
    revoked = await rows.invitation(conn, row.id)
    assert revoked is not None
    after = invitation_view(revoked, now)
    if row.accepted_at is None and row.revoked_at is None:  # revoking again changes nothing
        await _record(conn, who, "invitation.revoked", row.id, now, before=invitation_view(row, now), after=after)
    return after


async def accept_invitation(conn: AsyncConnection, token: str, user_id: str, email: str, now: datetime) -> Accepted:
    """Join the workspace with the invitation's roles. Only the invited address may (403
    `invite_email_mismatch`), once (409 `invitation_used`), within 7 days (410 `invitation_expired`)."""
    row = await rows.invitation_by_token(conn, hash_key(token))
    if row is None or row.revoked_at is not None:
        raise KassaError("invitation_not_found", "This invitation does not exist or was revoked")
    if row.accepted_at is not None:
        raise KassaError("invitation_used", "This invitation was already accepted")
    if row.expires_at <= now:
        raise KassaError("invitation_expired", "This invitation has expired: ask for a new one")
    if email.lower() != row.email:
        raise KassaError("invite_email_mismatch", "This invitation is for another email address: sign in with the "
                         "address it was sent to", details={"invitedEmail": _masked(row.email)})
    if not await rows.accept_invitation(conn, row.id, user_id, now):
        raise KassaError("invitation_used", "This invitation was already accepted")
    member = await rows.membership(conn, row.workspace_id, user_id)
    if member is None:
        await rows.insert_membership(conn, row.workspace_id, user_id, row.role, now)
    in_workspace = {a.id for a in await rows.workspace_applications(conn, row.workspace_id)}
    new = [(g["applicationId"], g["role"]) for g in row.applications if g["applicationId"] in in_workspace]
    if new:
        await rows.replace_grants(conn, [a for a, _ in new], user_id, new)
    await rows.touch_users(conn, [user_id], now)
    accepted = Accepted(workspace_id=row.workspace_id, role=(member.role if member else row.role),  # type: ignore[arg-type]
                        applications=[ApplicationGrant(application_id=a, role=r) for a, r in new])  # type: ignore[arg-type]
    # The accepting user acts on no application (at sign-up too: the invitation's holder is the new user).
    await audit.record(conn, "invitation.accepted", row.id, app_id=None, workspace_id=row.workspace_id, now=now,
                       after={"userId": user_id, "role": accepted.role, "applications": accepted.applications})
    return accepted


def _masked(email: str) -> str:
    """j***@example.com: enough for the user to know which address to use, not the whole of it."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


# ---------------------------------------------------------------- applications

def application_view(row: rows.AppRow) -> WorkspaceApplication:
    return WorkspaceApplication(id=row.id, workspace_id=row.workspace_id or "", name=row.name,
                                environment=row.environment, api_version=row.api_version,  # type: ignore[arg-type]
                                created_at=row.created_at)


async def visible_applications(conn: AsyncConnection, who: Actor) -> list[WorkspaceApplication]:
    """Owners and admins see every application of the workspace; members those they have a role on."""
    apps = await rows.workspace_applications(conn, who.workspace.id)
    if who.user_id is not None and not who.can("applications:manage"):
        mine = {g.app_id for g in await rows.grants(conn, who.workspace.id, [who.user_id])}
        apps = [a for a in apps if a.id in mine]
    elif who.user_id is None:
        apps = [a for a in apps if a.id == who.key_app_id]
    return [application_view(a) for a in apps]


async def create_application(conn: AsyncConnection, who: Actor, name: str, environment: str,
                             now: datetime) -> WorkspaceApplication:
    from kassa_platform.auth import create_application as create

    app_id = await create(conn, name, environment, now)  # type: ignore[arg-type]
    await rows.set_application_workspace(conn, app_id, who.workspace.id)
    row = await rows.application(conn, app_id)
    assert row is not None
    created = application_view(row)
    await audit.record(conn, "application.created", app_id, app_id=app_id, workspace_id=who.workspace.id, now=now,
                       after=created)
    return created


async def application_of(conn: AsyncConnection, app_id: str) -> rows.AppRow:
    row = await rows.application(conn, app_id)
    if row is None or row.workspace_id is None:
        raise KassaError("application_not_found", f"No application {app_id}")
    return row


async def rename_application(conn: AsyncConnection, who: Actor, app_id: str, name: str,
                             now: datetime) -> WorkspaceApplication:
    before = await application_of(conn, app_id)
    await rows.rename_application(conn, app_id, name)
    row = await rows.application(conn, app_id)
    assert row is not None
    after = application_view(row)
    await audit.record(conn, "application.renamed", app_id, app_id=app_id, workspace_id=who.workspace.id, now=now,
                       before=application_view(before), after=after)
    return after
