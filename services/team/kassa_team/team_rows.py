"""Every statement of the team service, with typed results.

None of these is on a hot path (sign-in runs argon2, which costs far more than any query), so each
is one SQLAlchemy Core statement that runs the same on PostgreSQL and SQLite; the one difference,
a row lock, goes through `kassa_platform.rows.for_update`. Whatever changes what a user may do also
moves `users.changed_at` (`touch_users`): every process drops that user's cached sessions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from kassa_platform.ids import new_id
from kassa_platform.rows import for_update
from kassa_platform.tables import application_roles, applications, memberships, user_sessions, users, workspaces
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import invitations, outgoing_mail, password_resets


@dataclass(frozen=True)
class UserRow:
    id: str
    email: str
    name: str | None
    password_hash: str
    created_at: datetime


@dataclass(frozen=True)
class SessionRow:
    id: str
    user_id: str
    csrf_token: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class WorkspaceRow:
    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True)
class MembershipRow:
    workspace_id: str
    workspace_name: str
    user_id: str
    role: str
    created_at: datetime


@dataclass(frozen=True)
class AppRow:
    id: str
    name: str
    environment: str
    api_version: str
    workspace_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class GrantRow:
    app_id: str
    user_id: str
    role: str


@dataclass(frozen=True)
class InvitationRow:
    id: str
    workspace_id: str
    email: str
    role: str
    applications: list[dict[str, str]]
    invited_by: str | None
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    accepted_by: str | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class ResetRow:
    id: str
    user_id: str
    expires_at: datetime
    used_at: datetime | None


@dataclass(frozen=True)
class MailRow:
    id: str
    recipient: str
    template: str
    subject: str
    text_body: str
    html_body: str
    attempts: int
    sent_at: datetime | None


def _as(cls: Any, row: Any) -> Any:
    return None if row is None else cls(**{k: row._mapping[k] for k in cls.__dataclass_fields__})


# ---------------------------------------------------------------- users and sessions

_USER = sa.select(users.c.id, users.c.email, users.c.name, users.c.password_hash, users.c.created_at)


async def user_by_email(conn: AsyncConnection, email: str) -> UserRow | None:
    return _as(UserRow, (await conn.execute(_USER.where(users.c.email == email.lower()))).first())  # type: ignore[no-any-return]


async def user(conn: AsyncConnection, user_id: str) -> UserRow | None:
    return _as(UserRow, (await conn.execute(_USER.where(users.c.id == user_id))).first())  # type: ignore[no-any-return]


async def users_by_id(conn: AsyncConnection, ids: Iterable[str]) -> dict[str, UserRow]:
    found = (await conn.execute(_USER.where(users.c.id.in_(sorted(set(ids)))))).all()
    return {row.id: _as(UserRow, row) for row in found}


async def insert_user(conn: AsyncConnection, *, email: str, name: str | None, password_hash: str, now: datetime) -> str:
    user_id = new_id("usr")
    await conn.execute(sa.insert(users).values(id=user_id, email=email.lower(), name=name, password_hash=password_hash,
                                               created_at=now, changed_at=now))
    return user_id


async def set_password(conn: AsyncConnection, user_id: str, password_hash: str, now: datetime) -> None:
    await conn.execute(sa.update(users).where(users.c.id == user_id).values(password_hash=password_hash, changed_at=now))


async def set_password_hash(conn: AsyncConnection, user_id: str, password_hash: str) -> None:
    """A stronger hash of the same password (argon2's parameters moved): nobody's powers change."""
    await conn.execute(sa.update(users).where(users.c.id == user_id).values(password_hash=password_hash))


async def touch_users(conn: AsyncConnection, user_ids: Iterable[str], now: datetime) -> None:
    ids = sorted(set(user_ids))
    if ids:
        await conn.execute(sa.update(users).where(users.c.id.in_(ids)).values(changed_at=now))


async def insert_session(conn: AsyncConnection, *, user_id: str, token_hash: str, csrf_token: str, now: datetime,
                         expires_at: datetime, address: str | None, user_agent: str | None) -> str:
    session_id = new_id("ses")
    await conn.execute(sa.insert(user_sessions).values(
        id=session_id, user_id=user_id, token_hash=token_hash, csrf_token=csrf_token, created_at=now,
        expires_at=expires_at, address=address, user_agent=(user_agent or "")[:300] or None))
    return session_id


async def session(conn: AsyncConnection, session_id: str) -> SessionRow | None:
    query = sa.select(user_sessions.c.id, user_sessions.c.user_id, user_sessions.c.csrf_token,
                      user_sessions.c.created_at, user_sessions.c.expires_at, user_sessions.c.revoked_at
                      ).where(user_sessions.c.id == session_id)
    return _as(SessionRow, (await conn.execute(query)).first())  # type: ignore[no-any-return]


async def revoke_session(conn: AsyncConnection, session_id: str, now: datetime) -> int:
    result = await conn.execute(sa.update(user_sessions).where(user_sessions.c.id == session_id,
                                                               user_sessions.c.revoked_at.is_(None))
                                .values(revoked_at=now))
    return result.rowcount


async def revoke_user_sessions(conn: AsyncConnection, user_id: str, now: datetime) -> int:
    result = await conn.execute(sa.update(user_sessions).where(user_sessions.c.user_id == user_id,
                                                               user_sessions.c.revoked_at.is_(None))
                                .values(revoked_at=now))
    return result.rowcount


async def signed_in_from(conn: AsyncConnection, user_id: str, address: str | None) -> tuple[bool, bool]:
    """(the user has signed in before, from this address before)."""
    query = (sa.select(sa.func.count(), sa.func.count().filter(user_sessions.c.address == address))
             .where(user_sessions.c.user_id == user_id))
    before, here = (await conn.execute(query)).one()
    return before > 0, here > 0


# ---------------------------------------------------------------- workspaces, members, roles

async def insert_workspace(conn: AsyncConnection, name: str, now: datetime) -> str:
    workspace_id = new_id("wsp")
    await conn.execute(sa.insert(workspaces).values(id=workspace_id, name=name, created_at=now))
    return workspace_id


async def workspace(conn: AsyncConnection, workspace_id: str) -> WorkspaceRow | None:
    query = sa.select(workspaces.c.id, workspaces.c.name, workspaces.c.created_at).where(workspaces.c.id == workspace_id)
    return _as(WorkspaceRow, (await conn.execute(query)).first())  # type: ignore[no-any-return]


async def first_workspace(conn: AsyncConnection) -> WorkspaceRow | None:
    query = sa.select(workspaces.c.id, workspaces.c.name, workspaces.c.created_at).order_by(workspaces.c.id).limit(1)
    return _as(WorkspaceRow, (await conn.execute(query)).first())  # type: ignore[no-any-return]


_MEMBERSHIP = (sa.select(memberships.c.workspace_id, workspaces.c.name.label("workspace_name"), memberships.c.user_id,
                         memberships.c.role, memberships.c.created_at)
               .join(workspaces, workspaces.c.id == memberships.c.workspace_id))


async def membership(conn: AsyncConnection, workspace_id: str, user_id: str, *,
                     lock: bool = False) -> MembershipRow | None:
    query = _MEMBERSHIP.where(memberships.c.workspace_id == workspace_id, memberships.c.user_id == user_id)
    if lock:
        query = for_update(conn, query, key_share=False)
    return _as(MembershipRow, (await conn.execute(query)).first())  # type: ignore[no-any-return]


async def memberships_of_user(conn: AsyncConnection, user_id: str) -> list[MembershipRow]:
    query = _MEMBERSHIP.where(memberships.c.user_id == user_id).order_by(memberships.c.workspace_id)
    return [_as(MembershipRow, row) for row in (await conn.execute(query)).all()]


async def members(conn: AsyncConnection, workspace_id: str) -> list[MembershipRow]:
    query = _MEMBERSHIP.where(memberships.c.workspace_id == workspace_id).order_by(memberships.c.created_at,
                                                                                  memberships.c.user_id)
    return [_as(MembershipRow, row) for row in (await conn.execute(query)).all()]


async def lock_owners(conn: AsyncConnection, workspace_id: str) -> list[str]:
    """The workspace's owners, their rows locked in one order: the last owner check and the change it
    guards commit together (two owners demoting each other at once cannot both pass). Every change to
    a membership takes these locks first, so two changes never wait on each other in a cycle."""
    query = for_update(conn, sa.select(memberships.c.user_id).where(memberships.c.workspace_id == workspace_id,
                                                                    memberships.c.role == "owner")
                       .order_by(memberships.c.user_id))
    return [row.user_id for row in (await conn.execute(query)).all()]


async def insert_membership(conn: AsyncConnection, workspace_id: str, user_id: str, role: str, now: datetime) -> None:
    await conn.execute(sa.insert(memberships).values(workspace_id=workspace_id, user_id=user_id, role=role,
                                                     created_at=now))


async def set_role(conn: AsyncConnection, workspace_id: str, user_id: str, role: str) -> None:
    await conn.execute(sa.update(memberships).where(memberships.c.workspace_id == workspace_id,
                                                    memberships.c.user_id == user_id).values(role=role))


async def delete_membership(conn: AsyncConnection, workspace_id: str, user_id: str) -> None:
    await conn.execute(sa.delete(memberships).where(memberships.c.workspace_id == workspace_id,
                                                    memberships.c.user_id == user_id))


async def grants(conn: AsyncConnection, workspace_id: str, user_ids: Iterable[str] | None = None) -> list[GrantRow]:
    query = (sa.select(application_roles.c.app_id, application_roles.c.user_id, application_roles.c.role)
             .join(applications, applications.c.id == application_roles.c.app_id)
             .where(applications.c.workspace_id == workspace_id).order_by(application_roles.c.app_id))
    if user_ids is not None:
        query = query.where(application_roles.c.user_id.in_(sorted(set(user_ids))))
    return [_as(GrantRow, row) for row in (await conn.execute(query)).all()]


async def replace_grants(conn: AsyncConnection, app_ids: list[str], user_id: str, new: list[tuple[str, str]]) -> None:
    """The user's roles on the applications `app_ids` become `new` [(application id, role)]."""
    await conn.execute(sa.delete(application_roles).where(application_roles.c.user_id == user_id,
                                                          application_roles.c.app_id.in_(sorted(app_ids))))
    if new:
        await conn.execute(sa.insert(application_roles), [{"app_id": a, "user_id": user_id, "role": r} for a, r in new])


# ---------------------------------------------------------------- applications

_APP = sa.select(applications.c.id, applications.c.name, applications.c.environment, applications.c.api_version,
                 applications.c.workspace_id, applications.c.created_at)


async def application(conn: AsyncConnection, app_id: str) -> AppRow | None:
    return _as(AppRow, (await conn.execute(_APP.where(applications.c.id == app_id))).first())  # type: ignore[no-any-return]


async def workspace_applications(conn: AsyncConnection, workspace_id: str) -> list[AppRow]:
    query = _APP.where(applications.c.workspace_id == workspace_id).order_by(applications.c.created_at,
                                                                            applications.c.id)
    return [_as(AppRow, row) for row in (await conn.execute(query)).all()]


async def attach_unowned_applications(conn: AsyncConnection, workspace_id: str) -> int:
    result = await conn.execute(sa.update(applications).where(applications.c.workspace_id.is_(None))
                                .values(workspace_id=workspace_id))
    return result.rowcount


async def set_application_workspace(conn: AsyncConnection, app_id: str, workspace_id: str) -> None:
    await conn.execute(sa.update(applications).where(applications.c.id == app_id).values(workspace_id=workspace_id))


async def rename_application(conn: AsyncConnection, app_id: str, name: str) -> None:
    await conn.execute(sa.update(applications).where(applications.c.id == app_id).values(name=name))


# ---------------------------------------------------------------- invitations

_INVITATION = sa.select(invitations.c.id, invitations.c.workspace_id, invitations.c.email, invitations.c.role,
                        invitations.c.applications, invitations.c.invited_by, invitations.c.created_at,
                        invitations.c.expires_at, invitations.c.accepted_at, invitations.c.accepted_by,
                        invitations.c.revoked_at)


async def insert_invitation(conn: AsyncConnection, *, workspace_id: str, email: str, role: str,
                            apps: list[dict[str, str]], token_hash: str, invited_by: str | None, now: datetime,
                            expires_at: datetime) -> str:
    invitation_id = new_id("inv")
    await conn.execute(sa.insert(invitations).values(
        id=invitation_id, workspace_id=workspace_id, email=email.lower(), role=role, applications=apps,
        token_hash=token_hash, invited_by=invited_by, created_at=now, expires_at=expires_at))
    return invitation_id


async def invitation(conn: AsyncConnection, invitation_id: str, *, lock: bool = False) -> InvitationRow | None:
    query = _INVITATION.where(invitations.c.id == invitation_id)
    return _as(InvitationRow, (await conn.execute(for_update(conn, query) if lock else query)).first())  # type: ignore[no-any-return]


async def invitation_by_token(conn: AsyncConnection, token_hash: str) -> InvitationRow | None:
    query = for_update(conn, _INVITATION.where(invitations.c.token_hash == token_hash))
    return _as(InvitationRow, (await conn.execute(query)).first())  # type: ignore[no-any-return]


async def workspace_invitations(conn: AsyncConnection, workspace_id: str) -> list[InvitationRow]:
    query = _INVITATION.where(invitations.c.workspace_id == workspace_id).order_by(invitations.c.id.desc()).limit(500)
    return [_as(InvitationRow, row) for row in (await conn.execute(query)).all()]


async def pending_invitation_for(conn: AsyncConnection, workspace_id: str, email: str,
                                 now: datetime) -> InvitationRow | None:
    query = _INVITATION.where(invitations.c.workspace_id == workspace_id, invitations.c.email == email.lower(),
                              invitations.c.accepted_at.is_(None), invitations.c.revoked_at.is_(None),
                              invitations.c.expires_at > now)
    return _as(InvitationRow, (await conn.execute(query)).first())  # type: ignore[no-any-return]


async def renew_invitation(conn: AsyncConnection, invitation_id: str, token_hash: str, expires_at: datetime) -> None:
    await conn.execute(sa.update(invitations).where(invitations.c.id == invitation_id)
                       .values(token_hash=token_hash, expires_at=expires_at))


async def revoke_invitation(conn: AsyncConnection, invitation_id: str, now: datetime) -> None:
    await conn.execute(sa.update(invitations).where(invitations.c.id == invitation_id,
                                                    invitations.c.revoked_at.is_(None)).values(revoked_at=now))


async def accept_invitation(conn: AsyncConnection, invitation_id: str, user_id: str, now: datetime) -> bool:
    """Marks it accepted unless it already is (the link works once); False if someone was first."""
    result = await conn.execute(sa.update(invitations).where(invitations.c.id == invitation_id,
                                                             invitations.c.accepted_at.is_(None))
                                .values(accepted_at=now, accepted_by=user_id))
    return result.rowcount == 1


# ---------------------------------------------------------------- password resets

async def insert_reset(conn: AsyncConnection, user_id: str, token_hash: str, now: datetime,
                       expires_at: datetime) -> str:
    reset_id = new_id("pwr")
    await conn.execute(sa.insert(password_resets).values(id=reset_id, user_id=user_id, token_hash=token_hash,
                                                         created_at=now, expires_at=expires_at))
    return reset_id


async def reset_by_token(conn: AsyncConnection, token_hash: str) -> ResetRow | None:
    query = for_update(conn, sa.select(password_resets.c.id, password_resets.c.user_id, password_resets.c.expires_at,
                                       password_resets.c.used_at).where(password_resets.c.token_hash == token_hash))
    return _as(ResetRow, (await conn.execute(query)).first())  # type: ignore[no-any-return]


async def use_resets(conn: AsyncConnection, user_id: str, now: datetime) -> None:
    """Every open reset link of the user ends with the one used (an older mail's link too)."""
    await conn.execute(sa.update(password_resets).where(password_resets.c.user_id == user_id,
                                                        password_resets.c.used_at.is_(None)).values(used_at=now))


# ---------------------------------------------------------------- outgoing mail

_MAIL = sa.select(outgoing_mail.c.id, outgoing_mail.c.recipient, outgoing_mail.c.template, outgoing_mail.c.subject,
                  outgoing_mail.c.text_body, outgoing_mail.c.html_body, outgoing_mail.c.attempts,
                  outgoing_mail.c.sent_at)


async def insert_mail(conn: AsyncConnection, *, recipient: str, template: str, subject: str, text_body: str,
                      html_body: str, now: datetime) -> str:
    mail_id = new_id("mail")
    await conn.execute(sa.insert(outgoing_mail).values(
        id=mail_id, recipient=recipient, template=template, subject=subject, text_body=text_body,
        html_body=html_body, created_at=now, attempts=0, next_attempt_at=now))
    return mail_id


async def claim_mail(conn: AsyncConnection, mail_id: str, now: datetime, lease_until: datetime) -> MailRow | None:
    """The message if it is still to be sent and due, pushed back by a lease so that a second sender
    (a retry racing the first job) finds it not due."""
    query = for_update(conn, _MAIL.where(outgoing_mail.c.id == mail_id, outgoing_mail.c.sent_at.is_(None),
                                         outgoing_mail.c.next_attempt_at <= now), skip_locked=True)
    row = _as(MailRow, (await conn.execute(query)).first())
    if row is not None:
        await conn.execute(sa.update(outgoing_mail).where(outgoing_mail.c.id == mail_id)
                           .values(next_attempt_at=lease_until, attempts=outgoing_mail.c.attempts + 1))
    return row  # type: ignore[no-any-return]


# A message's body holds its links (an invitation's, a password reset's: working tokens until they
# expire). Once sent, or given up, nobody needs it: the row keeps who, what and when.
_NO_BODY = {"text_body": "", "html_body": ""}


async def mail_sent(conn: AsyncConnection, mail_id: str, now: datetime) -> None:
    await conn.execute(sa.update(outgoing_mail).where(outgoing_mail.c.id == mail_id)
                       .values(sent_at=now, next_attempt_at=None, last_error=None, **_NO_BODY))


async def mail_failed(conn: AsyncConnection, mail_id: str, error: str, next_attempt_at: datetime | None) -> None:
    """A failed try: due again at `next_attempt_at`, or given up (None)."""
    await conn.execute(sa.update(outgoing_mail).where(outgoing_mail.c.id == mail_id)
                       .values(last_error=error[:500], next_attempt_at=next_attempt_at,
                               **(_NO_BODY if next_attempt_at is None else {})))


async def purge_records(conn: AsyncConnection, *, mail_before: datetime, resets_before: datetime) -> int:
    """Delete mail sent or given up before `mail_before`, and password resets that expired before
    `resets_before`; how many rows."""
    m, r = outgoing_mail.c, password_resets.c
    done = sa.or_(m.sent_at.is_not(None), m.next_attempt_at.is_(None))
    mail = await conn.execute(sa.delete(outgoing_mail).where(done, m.created_at < mail_before))
    resets = await conn.execute(sa.delete(password_resets).where(r.expires_at < resets_before))
    return int(mail.rowcount or 0) + int(resets.rowcount or 0)


async def due_mail(conn: AsyncConnection, now: datetime, limit: int = 100) -> list[str]:
    query = (sa.select(outgoing_mail.c.id).where(outgoing_mail.c.sent_at.is_(None),
                                                 outgoing_mail.c.next_attempt_at <= now)
             .order_by(outgoing_mail.c.next_attempt_at).limit(limit))
    return [row.id for row in (await conn.execute(query)).all()]
