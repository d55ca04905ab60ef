"""Sign-in and sessions (docs/team.md): the cookie, the session's view, CSRF, sign-out, permissions."""

from __future__ import annotations

from kassa_platform.auth import SessionResolver

from tests.conftest import Backend
from tests.support.team import PASSWORD, add_person, make_team, session_cookie, sign_in


async def test_sign_in_sets_a_session_cookie_and_answers_the_session(backend: Backend) -> None:
    team = await make_team(backend, sign=False)
    response = await sign_in(backend.client, team.owner.email.upper())  # email is case-insensitive
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["email"] == team.owner.email and body["csrfToken"]
    cookie_header = response.headers["set-cookie"].lower()
    assert "httponly" in cookie_header and "samesite=lax" in cookie_header and "path=/" in cookie_header
    cookie = session_cookie(response)
    session = await backend.client.get("/api/v1/auth/session", headers={"Cookie": f"kassa_session={cookie}"})
    assert session.status_code == 200, session.text
    view = session.json()
    assert view["csrfToken"] == body["csrfToken"]
    [workspace] = view["workspaces"]
    assert workspace["id"] == team.workspace_id and workspace["role"] == "owner"
    assert [a["id"] for a in workspace["applications"]] == [team.app_id]
    assert workspace["applications"][0]["role"] == "admin"


async def test_wrong_password_and_unknown_account_answer_alike(backend: Backend) -> None:
    team = await make_team(backend, sign=False)
    wrong = await sign_in(backend.client, team.owner.email, "not the password at all")
    unknown = await sign_in(backend.client, "nobody-" + team.owner.email, PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"]["code"] == unknown.json()["error"]["code"] == "invalid_credentials"
    assert wrong.json()["error"]["message"] == unknown.json()["error"]["message"]
    assert "set-cookie" not in wrong.headers


async def test_a_session_calls_other_services_with_its_application(backend: Backend) -> None:
    team = await make_team(backend)
    owner = team.owner
    # Reading: no CSRF token needed; the application is named by the header.
    listed = await backend.client.get("/api/v1/products", headers=owner.headers(team.app_id, csrf=False))
    assert listed.status_code == 200, listed.text
    # Without the header, an application's route cannot tell which application.
    missing = await backend.client.get("/api/v1/products", headers=owner.headers(csrf=False))
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "application_required"
    # Another workspace's application: no access.
    other = await make_team(backend, sign=False)
    foreign = await backend.client.get("/api/v1/products", headers=owner.headers(other.app_id, csrf=False))
    assert foreign.status_code == 403


async def test_csrf_token_is_required_for_changes(backend: Backend) -> None:
    team = await make_team(backend)
    owner = team.owner
    product = {"name": "Shirt", "taxClass": "standard", "categories": ["x"],
               "variants": [{"sku": f"S-{owner.user_id[-6:]}", "prices": {"EUR": 1000}}]}
    refused = await backend.client.post("/api/v1/products", json=product, headers=owner.headers(team.app_id, csrf=False))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_token_invalid"
    wrong = await backend.client.post("/api/v1/products", json=product,
                                      headers={**owner.headers(team.app_id), "X-CSRF-Token": "forged"})
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "csrf_token_invalid"
    made = await backend.client.post("/api/v1/products", json=product, headers=owner.headers(team.app_id))
    assert made.status_code == 201, made.text
    # The team's own routes too.
    out = await backend.client.post("/api/v1/auth/sign-out", headers=owner.headers(csrf=False))
    assert out.status_code == 403 and out.json()["error"]["code"] == "csrf_token_invalid"


async def test_sign_out_ends_the_session_and_everywhere_ends_all(backend: Backend) -> None:
    team = await make_team(backend)
    owner = team.owner
    second = await sign_in(backend.client, owner.email)
    stolen = session_cookie(second)  # another browser's cookie (or a thief's copy of it)
    stolen_headers = {"Cookie": f"kassa_session={stolen}", "Kassa-Application": team.app_id}
    assert (await backend.client.get("/api/v1/products", headers=stolen_headers)).status_code == 200

    out = await backend.client.post("/api/v1/auth/sign-out", headers=owner.headers())
    assert out.status_code == 200 and out.json() == {"signedOut": True, "sessions": 1}
    assert "max-age=0" in out.headers["set-cookie"].lower()
    assert (await backend.client.get("/api/v1/auth/session", headers=owner.headers())).status_code == 401
    assert (await backend.client.get("/api/v1/products", headers=stolen_headers)).status_code == 200

    again = await sign_in(backend.client, owner.email)
    owner.cookie, owner.csrf = session_cookie(again), again.json()["csrfToken"]
    everywhere = await backend.client.post("/api/v1/auth/sign-out-everywhere", headers=owner.headers())
    assert everywhere.status_code == 200 and everywhere.json()["sessions"] == 2
    for cookie in (stolen, owner.cookie):
        gone = await backend.client.get("/api/v1/products", headers={"Cookie": f"kassa_session={cookie}",
                                                                     "Kassa-Application": team.app_id})
        assert gone.status_code == 401, gone.text


async def test_permissions_answer_what_the_caller_may_do(backend: Backend) -> None:
    team = await make_team(backend)
    finance = await add_person(backend, team, "member", "finance")
    mine = await backend.client.get("/api/v1/auth/permissions", headers=finance.headers(team.app_id, csrf=False))
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["workspaceRole"] == "member" and body["applicationRole"] == "finance"
    assert "orders:write" in body["scopes"] and "keys:write" not in body["scopes"]
    assert body["permissions"] == ["members:read"]
    owner = await backend.client.get("/api/v1/auth/permissions", headers=team.owner.headers(team.app_id, csrf=False))
    assert owner.json()["applicationRole"] == "admin" and "owners:manage" in owner.json()["permissions"]


async def test_a_session_ends_after_an_hour_without_a_request(backend: Backend) -> None:
    """KASSA_SESSION_IDLE_MINUTES (60): each request keeps the session alive for another hour; an
    hour without one ends it, in every process (the last request is written every few seconds)."""
    team = await make_team(backend, sign=False)
    cookie = session_cookie(await sign_in(backend.client, team.owner.email))
    headers = {"Cookie": f"kassa_session={cookie}"}

    async def status() -> int:
        return (await backend.client.get("/api/v1/auth/session", headers=headers)).status_code

    sessions = backend.runtime.sessions
    other_process = SessionResolver(backend.runtime.db, 30, backend.clock, idle_seconds=3600)
    try:
        backend.clock.advance(minutes=50)
        assert await status() == 200
        await sessions.flush_seen()  # as the key watch does every few seconds
        backend.clock.advance(minutes=50)  # 100 minutes after sign-in, 50 after its last request
        assert await status() == 200
        assert await other_process.session(cookie) is not None  # it reads the last request written
        backend.clock.advance(minutes=61)
        assert await status() == 401
        assert await other_process.session(cookie) is None
    finally:
        backend.clock.advance(minutes=-161)
