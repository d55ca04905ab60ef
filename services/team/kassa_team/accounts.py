"""Users, sign-in, sessions and password resets (no HTTP here; the routes and `kassa users` call these).

A session is a random token in an HttpOnly cookie, kept hashed (`user_sessions`), with a CSRF token
the page sends back on every state-changing call (kassa_platform.middleware). Sign-in is limited per
account and per client address (failed tries only, `RateLimiter.check`/`spend`), and an unknown
email costs the same argon2 verification as a wrong password, so the answer never tells which
accounts exist. Ending a session, every session, or changing a password moves the user's
`changed_at`: every process drops the user's cached sessions at once.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from kassa_contract.errors import KassaError
from kassa_contract.team import SessionApplication, SessionView, SessionWorkspace, User
from kassa_platform import audit
from kassa_platform.auth import SESSION_PREFIX, hash_key
from kassa_platform.clock import Clock
from kassa_platform.db import Database, transaction
from kassa_platform.ids import random_token
from kassa_platform.ratelimit import RateLimiter
from kassa_platform.roles import effective_application_role
from kassa_platform.settings import Settings
from sqlalchemy.ext.asyncio import AsyncConnection

from . import mail, passwords
from . import team_rows as rows

log = logging.getLogger("kassa.team")

RESET_TTL = timedelta(hours=1)
RESET_PREFIX = "kpr_"


@dataclass(frozen=True)
class NewSession:
    user: User
    token: str  # the cookie's value: only here, never stored
    csrf_token: str
    session_id: str
    expires_at: datetime
    mail_ids: list[str]


def user_view(row: rows.UserRow) -> User:
    return User(id=row.id, email=row.email, name=row.name)


class Accounts:
    def __init__(self, db: Database, clock: Clock, settings: Settings, limiter: RateLimiter) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.limiter = limiter

    # ------------------------------------------------------------------ users

    async def create_user(self, conn: AsyncConnection, email: str, password: str, name: str | None,
                          now: datetime) -> str:
        if await rows.user_by_email(conn, email) is not None:
            raise KassaError("email_taken", f"There is already an account for {email.lower()}", field="email")
        checked = passwords.check(self.settings, password, email=email)
        hashed = await asyncio.to_thread(passwords.hash_password, checked)
        return await rows.insert_user(conn, email=email, name=name, password_hash=hashed, now=now)

    async def create_owner(self, email: str, password: str, name: str | None = None,
                           workspace_name: str | None = None) -> tuple[str, str, int]:
        """The first account (`kassa users create-owner`): a user owning a workspace. The first
        workspace takes every application made before workspaces. Returns (user, workspace, attached)."""
        now = self.clock.now()
        async with transaction(self.db) as conn:
            user_id = await self.create_user(conn, email, password, name, now)
            first = await rows.first_workspace(conn) is None
            workspace_id = await rows.insert_workspace(conn, workspace_name or "My workspace", now)
            await rows.insert_membership(conn, workspace_id, user_id, "owner", now)
            attached = await rows.attach_unowned_applications(conn, workspace_id) if first else 0
        return user_id, workspace_id, attached

    async def create_demo_owner(self, email: str, password: str) -> tuple[str, str] | None:
        """The demo's owner (`kassa serve`'s first start): None when the account exists."""
        async with self.db() as conn:
            if await rows.user_by_email(conn, email) is not None:
                return None
        user_id, workspace_id, _ = await self.create_owner(email, password, "Demo owner", "Demo workspace")
        return user_id, workspace_id

    # ------------------------------------------------------------------ sign-in

    async def sign_in(self, email: str, password: str, *, address: str, user_agent: str | None) -> NewSession:
        email = email.strip().lower()
        limits = self.limiter.limits
        await self.limiter.check(limits.sign_in_address, address, "Too many failed sign-ins from this address")
        await self.limiter.check(limits.sign_in_account, email, "Too many failed sign-ins to this account: wait, "
                                 "or reset the password")
        async with self.db() as conn:
            user = await rows.user_by_email(conn, email)
        ok = await asyncio.to_thread(passwords.verify, user.password_hash if user else None, password)
        if not ok or user is None:
            await self.limiter.spend(limits.sign_in_address, address)
            await self.limiter.spend(limits.sign_in_account, email)
            raise KassaError("invalid_credentials", "The email or the password is not right")
        return await self.start_session(user, password, address=address, user_agent=user_agent)

    async def start_session(self, user: rows.UserRow, password: str | None, *, address: str,
                            user_agent: str | None) -> NewSession:
        now = self.clock.now()
        token = SESSION_PREFIX + random_token(24)
        csrf = random_token(24)
        expires = now + timedelta(hours=self.settings.session_hours)
        mail_ids: list[str] = []
        async with transaction(self.db) as conn:
            before, here = await rows.signed_in_from(conn, user.id, address)
            session_id = await rows.insert_session(conn, user_id=user.id, token_hash=hash_key(token), csrf_token=csrf,
                                                   now=now, expires_at=expires, address=address, user_agent=user_agent)
            if password is not None and passwords.needs_rehash(user.password_hash):
                rehashed = await asyncio.to_thread(passwords.hash_password, password)
                await rows.set_password_hash(conn, user.id, rehashed)
            if before and not here:  # a sign-in from an address this account was never used from
                mail_ids.append(await mail.queue(conn, user.email, "new_sign_in", mail.new_sign_in(
                    when=now, address=address, user_agent=user_agent or "",
                    sessions_link=f"{self.settings.public_base_url}/dashboard/security"), now))
        return NewSession(user_view(user), token, csrf, session_id, expires, mail_ids)

    async def sign_up(self, invitation_token: str, password: str, name: str | None, *, address: str,
                      user_agent: str | None) -> tuple[NewSession, str]:
        """An invited person's account, made with the invitation's email (no open registration): the
        invitation is accepted in the same step. Returns the session and the invitation's workspace."""
        from .workspaces import accept_invitation  # the two modules call each other only here

        now = self.clock.now()
        async with transaction(self.db) as conn:
            found = await rows.invitation_by_token(conn, hash_key(invitation_token))
            if found is None or found.revoked_at is not None:
                raise KassaError("invitation_not_found", "This invitation does not exist or was revoked")
            user_id = await self.create_user(conn, found.email, password, name, now)
            with audit.public_call(user_id, address):
                await accept_invitation(conn, invitation_token, user_id, found.email, now)
            user = await rows.user(conn, user_id)
        assert user is not None
        return await self.start_session(user, None, address=address, user_agent=user_agent), found.workspace_id

    async def sign_out(self, user_id: str, session_id: str) -> int:
        now = self.clock.now()
        async with transaction(self.db) as conn:
            ended = await rows.revoke_session(conn, session_id, now)
            await rows.touch_users(conn, [user_id], now)
        return ended

    async def sign_out_everywhere(self, user_id: str) -> int:
        now = self.clock.now()
        async with transaction(self.db) as conn:
            ended = await rows.revoke_user_sessions(conn, user_id, now)
            await rows.touch_users(conn, [user_id], now)
            # A security event each of the user's teams wants to see (a plain sign-out is not recorded).
            for member in await rows.memberships_of_user(conn, user_id):
                await audit.record(conn, "session.signed_out_everywhere", user_id, app_id=None,
                                   workspace_id=member.workspace_id, now=now, after={"sessions": ended})
        return ended

    # ------------------------------------------------------------------ the session's view

    async def session_view(self, user_id: str, session_id: str) -> SessionView:
        async with self.db() as conn:
            user = await rows.user(conn, user_id)
            session = await rows.session(conn, session_id)
            if user is None or session is None:
                raise KassaError("unauthorized", "The session has ended: sign in again")
            workspaces = []
            for member in await rows.memberships_of_user(conn, user_id):
                mine = {g.app_id: g.role for g in await rows.grants(conn, member.workspace_id, [user_id])}
                apps = []
                for app in await rows.workspace_applications(conn, member.workspace_id):
                    role = effective_application_role(member.role, mine.get(app.id))
                    if role is not None:
                        apps.append(SessionApplication(id=app.id, name=app.name, environment=app.environment,  # type: ignore[arg-type]
                                                       role=role))  # type: ignore[arg-type]
                workspaces.append(SessionWorkspace(id=member.workspace_id, name=member.workspace_name,
                                                   role=member.role, applications=apps))  # type: ignore[arg-type]
        return SessionView(user=user_view(user), csrf_token=session.csrf_token, workspaces=workspaces,
                           expires_at=session.expires_at)

    async def roles_on(self, user_id: str, workspace_id: str | None, app_id: str) -> tuple[str | None, str | None]:
        """(workspace role, own application role) of the user on an application."""
        if workspace_id is None:
            return None, None
        async with self.db() as conn:
            member = await rows.membership(conn, workspace_id, user_id)
            own = [g.role for g in await rows.grants(conn, workspace_id, [user_id]) if g.app_id == app_id]
        return (member.role if member else None), (own[0] if own else None)

    # ------------------------------------------------------------------ password reset

    async def request_reset(self, email: str, *, address: str) -> list[str]:
        """A single-use link by mail if the account exists; the answer is the same either way."""
        email = email.strip().lower()
        limits = self.limiter.limits
        await self.limiter.check(limits.sign_in_address, address, "Too many requests from this address")
        await self.limiter.spend(limits.sign_in_address, address)
        now = self.clock.now()
        async with transaction(self.db) as conn:
            user = await rows.user_by_email(conn, email)
            if user is None:
                return []
            token = RESET_PREFIX + random_token(24)
            expires = now + RESET_TTL
            await rows.insert_reset(conn, user.id, hash_key(token), now, expires)
            link = f"{self.settings.public_base_url}/dashboard/reset-password?token={token}"
            return [await mail.queue(conn, user.email, "password_reset", mail.password_reset(link=link,
                                                                                            expires_at=expires), now)]

    async def confirm_reset(self, token: str, password: str, *, address: str) -> int:
        """The new password, once per link; every session of the user ends (the old password may
        have been known to someone). Returns how many sessions ended. A security event each of the
        user's teams sees (`user.password_reset`, the user's own as the link's holder)."""
        now = self.clock.now()
        async with transaction(self.db) as conn:
            reset = await rows.reset_by_token(conn, hash_key(token))
            if reset is None or reset.used_at is not None or reset.expires_at <= now:
                raise KassaError("reset_token_invalid", "This reset link is unknown, used or expired: ask for a new one",
                                 field="token")
            user = await rows.user(conn, reset.user_id)
            assert user is not None
            checked = passwords.check(self.settings, password, email=user.email)
            hashed = await asyncio.to_thread(passwords.hash_password, checked)
            await rows.set_password(conn, user.id, hashed, now)
            await rows.use_resets(conn, user.id, now)
            ended = await rows.revoke_user_sessions(conn, user.id, now)
            with audit.public_call(user.id, address):
                for member in await rows.memberships_of_user(conn, user.id):
                    await audit.record(conn, "user.password_reset", user.id, app_id=None,
                                       workspace_id=member.workspace_id, now=now, after={"sessions": ended})
            return ended


def new_password() -> str:
    """A password for the demo owner: four random words' worth of entropy, easy to type."""
    return "-".join(secrets.token_hex(3) for _ in range(4))
