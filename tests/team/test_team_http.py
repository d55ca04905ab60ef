"""Team accounts over real HTTP on loopback, embedded (SQLite) and on PostgreSQL, with a real SMTP
server: the invitation flow end to end, password resets, brute force, a stolen cookie after sign-out
everywhere."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from kassa_platform.tables import audit_events
from kassa_team import team_rows
from kassa_team.jobs import enqueue_mail
from kassa_team.service import team_of
from kassa_team.tables import outgoing_mail, password_resets

from tests.conftest import worker_id
from tests.support.served import KassaWeb, serve_kassa
from tests.support.smtp import MailServer, smtp_server
from tests.support.team import PASSWORD, Person, Team, make_team, session_cookie, signed_in, unique_email


@dataclass
class Site:
    web: KassaWeb
    smtp: MailServer
    http: httpx.AsyncClient

    async def mail_sent(self) -> None:
        """Wait for the send jobs the requests queued (in-process, as `kassa serve` runs them)."""
        runner = self.web.backend.runtime.runner
        assert runner is not None
        await runner.drain()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def site(request: pytest.FixtureRequest, testrun_uid: str) -> AsyncIterator[Site]:
    with smtp_server() as smtp:
        async with serve_kassa(f"kassa_team_{testrun_uid[:8]}_{worker_id()}", sqlite=request.param == "sqlite",
                               rate_limits={"sign_in_account": "5/900", "sign_in_address": "40/300"},
                               **smtp.settings()) as web:
            async with httpx.AsyncClient(base_url=web.origin, timeout=10) as http:
                yield Site(web, smtp, http)


async def _audited(site: Site, workspace_id: str, action: str) -> list[Any]:
    async with site.web.backend.runtime.db() as conn:
        return list((await conn.execute(sa.select(audit_events).where(
            audit_events.c.workspace_id == workspace_id, audit_events.c.action == action))).all())


async def _team(site: Site) -> Team:
    team = await make_team(site.web.backend, sign=False)
    await signed_in(site.http, team.owner)
    return team


async def test_invitation_flow_end_to_end(site: Site) -> None:
    team = await _team(site)
    invitee = unique_email("invitee")
    created = await site.http.post(f"/api/v1/workspaces/{team.workspace_id}/invitations", headers=team.owner.headers(),
                                   json={"email": invitee, "role": "member",
                                         "applications": [{"applicationId": team.app_id, "role": "developer"}]})
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "pending"
    await site.mail_sent()
    [message] = site.smtp.to(invitee)
    assert message.subject == "You are invited to Workspace on Kassa"
    assert "Workspace" in message.part("html") and "<a href=" in message.part("html")
    token = message.token("/dashboard/invitations/accept")

    # Someone else, signed in, cannot take it.
    stranger = await _team(site)
    mismatch = await site.http.post("/api/v1/invitations/accept", json={"token": token},
                                    headers=stranger.owner.headers())
    assert mismatch.status_code == 403 and mismatch.json()["error"]["code"] == "invite_email_mismatch"

    # The invited address makes its account with the link: accepted and signed in at once.
    joined = await site.http.post("/api/v1/auth/sign-up", json={"invitationToken": token, "password": PASSWORD,
                                                                "name": "New Dev"})
    assert joined.status_code == 201, joined.text
    site.http.cookies.clear()
    person = Person(joined.json()["user"]["id"], invitee, PASSWORD, session_cookie(joined), joined.json()["csrfToken"])
    session = (await site.http.get("/api/v1/auth/session", headers=person.headers())).json()
    [workspace] = session["workspaces"]
    assert workspace["role"] == "member" and workspace["applications"] == [
        {"id": team.app_id, "name": "Store", "environment": "test", "role": "developer"}]
    # Recorded as the new user's own (the invitation's holder), from the address that signed up.
    [accepted] = await _audited(site, team.workspace_id, "invitation.accepted")
    assert (accepted.actor_type, accepted.actor_id, accepted.resource_id) == ("user", person.user_id,
                                                                              created.json()["id"])
    assert accepted.source_address == "127.0.0.1"
    permissions = (await site.http.get("/api/v1/auth/permissions", headers=person.headers(team.app_id))).json()
    assert permissions["applicationRole"] == "developer" and "orders:write" not in permissions["scopes"]

    # The link works once.
    again = await site.http.post("/api/v1/invitations/accept", json={"token": token}, headers=person.headers())
    assert again.status_code == 409 and again.json()["error"]["code"] == "invitation_used"
    reuse = await site.http.post("/api/v1/auth/sign-up", json={"invitationToken": token, "password": PASSWORD})
    assert reuse.status_code in (404, 409)
    listed = await site.http.get(f"/api/v1/workspaces/{team.workspace_id}/invitations", headers=team.owner.headers())
    assert [i["status"] for i in listed.json()["data"]] == ["accepted"]

    # The owner changes the new member's role: the member is told by mail.
    changed = await site.http.patch(f"/api/v1/workspaces/{team.workspace_id}/members/{person.user_id}",
                                    headers=team.owner.headers(),
                                    json={"applications": [{"applicationId": team.app_id, "role": "viewer"}]})
    assert changed.status_code == 200, changed.text
    await site.mail_sent()
    assert [m.subject for m in site.smtp.to(invitee)][-1] == "Your role in Workspace changed"
    viewer = (await site.http.get("/api/v1/auth/permissions", headers=person.headers(team.app_id))).json()
    assert viewer["applicationRole"] == "viewer"


async def test_an_existing_user_accepts_and_a_resent_link_replaces_the_old(site: Site) -> None:
    team = await _team(site)
    other = await _team(site)  # someone with an account (the owner of another workspace)
    path = f"/api/v1/workspaces/{team.workspace_id}/invitations"
    created = await site.http.post(path, headers=team.owner.headers(), json={"email": other.owner.email.upper(),
                                                                             "role": "admin"})
    assert created.status_code == 201, created.text
    resent = await site.http.post(f"{path}/{created.json()['id']}/resend", headers=team.owner.headers())
    assert resent.status_code == 200, resent.text
    await site.mail_sent()
    first, second = site.smtp.to(other.owner.email)
    old, new = first.token("/dashboard/invitations/accept"), second.token("/dashboard/invitations/accept")
    stale = await site.http.post("/api/v1/invitations/accept", json={"token": old}, headers=other.owner.headers())
    assert stale.status_code == 404 and stale.json()["error"]["code"] == "invitation_not_found"
    accepted = await site.http.post("/api/v1/invitations/accept", json={"token": new}, headers=other.owner.headers())
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {"workspaceId": team.workspace_id, "role": "admin", "applications": []}
    session = (await site.http.get("/api/v1/auth/session", headers=other.owner.headers())).json()
    assert {w["id"]: w["role"] for w in session["workspaces"]} == {team.workspace_id: "admin",
                                                                   other.workspace_id: "owner"}
    # Already a member: a new invitation is refused.
    dup = await site.http.post(path, headers=team.owner.headers(), json={"email": other.owner.email})
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "already_member"


async def test_an_expired_invitation_is_refused(site: Site) -> None:
    team = await _team(site)
    invitee = await _team(site)
    created = await site.http.post(f"/api/v1/workspaces/{team.workspace_id}/invitations", headers=team.owner.headers(),
                                   json={"email": invitee.owner.email})
    assert created.status_code == 201
    await site.mail_sent()
    token = site.smtp.to(invitee.owner.email)[-1].token("/dashboard/invitations/accept")
    site.web.backend.clock.advance(days=7, seconds=1)
    try:
        await signed_in(site.http, invitee.owner)
        late = await site.http.post("/api/v1/invitations/accept", json={"token": token},
                                    headers=invitee.owner.headers())
        assert late.status_code == 410 and late.json()["error"]["code"] == "invitation_expired"
    finally:
        site.web.backend.clock.advance(days=-7, seconds=-1)


async def test_password_reset_link_works_once_and_ends_every_session(site: Site) -> None:
    team = await _team(site)
    owner = team.owner
    asked = await site.http.post("/api/v1/auth/password-reset", json={"email": owner.email})
    assert asked.status_code == 202
    unknown = await site.http.post("/api/v1/auth/password-reset", json={"email": unique_email("nobody")})
    assert unknown.status_code == 202 and unknown.json() == asked.json()  # nothing told about accounts
    await site.mail_sent()
    [message] = site.smtp.to(owner.email)
    assert message.subject == "Reset your Kassa password" and message.part("html")
    token = message.token("/dashboard/reset-password")

    short = await site.http.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": "short"})
    assert short.status_code == 422 and short.json()["error"]["code"] == "password_invalid"
    done = await site.http.post("/api/v1/auth/password-reset/confirm",
                                json={"token": token, "password": "a new and long passphrase"})
    assert done.status_code == 200 and done.json()["sessions"] == 1
    [reset] = await _audited(site, team.workspace_id, "user.password_reset")  # a security event the team sees
    assert (reset.actor_type, reset.actor_id, reset.resource_id, reset.changes["after"]) == (
        "user", owner.user_id, owner.user_id, {"sessions": 1})
    # The session from before the reset is over, everywhere.
    assert (await site.http.get("/api/v1/auth/session", headers=owner.headers())).status_code == 401
    twice = await site.http.post("/api/v1/auth/password-reset/confirm",
                                 json={"token": token, "password": "yet another long passphrase"})
    assert twice.status_code == 400 and twice.json()["error"]["code"] == "reset_token_invalid"
    old = await site.http.post("/api/v1/auth/sign-in", json={"email": owner.email, "password": PASSWORD})
    assert old.status_code == 401
    new = await site.http.post("/api/v1/auth/sign-in", json={"email": owner.email,
                                                             "password": "a new and long passphrase"})
    assert new.status_code == 200
    site.http.cookies.clear()


async def test_sent_mail_keeps_no_link_and_goes_after_its_retention(site: Site) -> None:
    """A sent message's body held a working link: blanked once sent. The hourly job deletes mail
    after 30 days and password resets a day after they expire."""
    team = await _team(site)
    email = team.owner.email
    assert (await site.http.post("/api/v1/auth/password-reset", json={"email": email})).status_code == 202
    await site.mail_sent()
    assert site.smtp.to(email)[-1].token("/dashboard/reset-password")  # the link went out
    db = site.web.backend.runtime.db

    async def left() -> tuple[list[Any], int]:
        async with db() as conn:
            mails = (await conn.execute(sa.select(outgoing_mail).where(outgoing_mail.c.recipient == email))).all()
            resets = (await conn.execute(sa.select(sa.func.count()).select_from(password_resets).where(
                password_resets.c.user_id == team.owner.user_id))).scalar_one()
        return list(mails), resets

    mails, resets = await left()
    assert [(m.template, m.text_body, m.html_body, m.sent_at is not None) for m in mails] == [
        ("password_reset", "", "", True)]
    assert resets == 1
    runner = site.web.backend.runtime.runner
    assert runner is not None
    clock = site.web.backend.clock
    clock.advance(days=2)
    try:
        await runner.run_cron("purge_team_records")
        assert await left() == (mails, 0)  # the reset expired over a day ago; the mail stays a month
        clock.advance(days=29)
        await runner.run_cron("purge_team_records")
        assert await left() == ([], 0)
    finally:
        clock.advance(days=-31)


async def test_brute_force_hits_the_rate_limit(site: Site) -> None:
    team = await _team(site)
    email = team.owner.email
    for _ in range(5):
        wrong = await site.http.post("/api/v1/auth/sign-in", json={"email": email, "password": "guess guess guess"})
        assert wrong.status_code == 401
    # The account's failures are used up: even the right password waits.
    limited = await site.http.post("/api/v1/auth/sign-in", json={"email": email, "password": PASSWORD})
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) > 0
    # Another account from the same address is not locked out by it.
    other = await _team(site)
    assert other.owner.cookie
    site.web.backend.clock.advance(seconds=900)
    try:
        ok = await site.http.post("/api/v1/auth/sign-in", json={"email": email, "password": PASSWORD})
        assert ok.status_code == 200
    finally:
        site.web.backend.clock.advance(seconds=-900)
    site.http.cookies.clear()


async def test_a_stolen_cookie_is_useless_after_sign_out_everywhere(site: Site) -> None:
    team = await _team(site)
    thief = httpx.AsyncClient(base_url=site.web.origin, timeout=10)
    try:
        stolen = {"Cookie": f"kassa_session={team.owner.cookie}", "Kassa-Application": team.app_id}
        assert (await thief.get("/api/v1/products", headers=stolen)).status_code == 200
        victim_again = Person(team.owner.user_id, team.owner.email, PASSWORD)
        await signed_in(site.http, victim_again)  # the owner, in another browser
        out = await site.http.post("/api/v1/auth/sign-out-everywhere", headers=victim_again.headers())
        assert out.status_code == 200 and out.json()["sessions"] == 2
        denied = await thief.get("/api/v1/products", headers=stolen)
        assert denied.status_code == 401 and denied.json()["error"]["code"] == "unauthorized"
    finally:
        await thief.aclose()


async def test_new_sign_in_mail_and_a_failing_mail_server_is_retried(site: Site) -> None:
    team = await _team(site)
    accounts = team_of(site.web.backend.runtime).accounts
    async with site.web.backend.runtime.db() as conn:
        user = await team_rows.user(conn, team.owner.user_id)
    assert user is not None
    site.smtp.refuse = True
    try:
        new = await accounts.start_session(user, None, address="203.0.113.7", user_agent="Firefox")
        assert new.mail_ids
        await enqueue_mail(site.web.backend.runtime.queue, new.mail_ids)
        await site.mail_sent()
        assert not site.smtp.to(team.owner.email)  # refused (451): kept for a retry
    finally:
        site.smtp.refuse = False
    runner = site.web.backend.runtime.runner
    assert runner is not None
    site.web.backend.clock.advance(seconds=60)
    try:
        await runner.run_cron("send_due_mail")
    finally:
        site.web.backend.clock.advance(seconds=-60)
    [message] = site.smtp.to(team.owner.email)
    assert message.subject == "New sign-in to your Kassa account" and "203.0.113.7" in message.part("plain")
