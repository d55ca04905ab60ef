"""The audit log (docs/audit-log.md): one entry per change made with a secret key, in the change's
transaction, with the right actor and diff, never a secret; its list with filters and cursor; its
retention; its `audit.entry.created` events."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import msgspec
import sqlalchemy as sa
from kassa_platform import audit
from kassa_platform.db import transaction
from kassa_platform.jobs import JobContext
from kassa_platform.platform_jobs import purge_audit_log
from kassa_platform.tables import audit_events, outbox_events

from tests.conftest import Tenant, make_tenant
from tests.support.envelopes import assert_envelope
from tests.support.shop import Shop


class Api:
    """The tenant's calls through every service (the `suite` client), with a key of its choice."""

    def __init__(self, tenant: Tenant, client: httpx.AsyncClient) -> None:
        self.t = tenant
        self.client = client

    async def call(self, method: str, path: str, json: Any = None, *, key: str | None = None,
                   expect: int | None = None, headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
        response = await self.client.request(method, path, json=json, headers={**self.t.headers(key), **(headers or {})},
                                             **kw)
        if expect is not None:
            assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text}"
        return response


async def entries(api: Api, **params: Any) -> list[dict[str, Any]]:
    response = await api.call("GET", "/api/v1/audit-log", params={"limit": 100, **params}, expect=200)
    return response.json()["data"]


async def key_id_of(api: Api, raw: str) -> str:
    listed = (await api.call("GET", "/api/v1/api-keys", params={"limit": 100}, expect=200)).json()["data"]
    return next(k["id"] for k in listed if raw.endswith(k["last4"]) and raw.startswith(k["prefix"]))


async def test_a_refund_a_key_roll_and_an_endpoint_change_each_leave_one_entry(tenant: Tenant,
                                                                              suite: httpx.AsyncClient) -> None:
    api = Api(tenant, suite)
    shop = Shop(tenant, await tenant.variant({"EUR": 1500}))
    # A finance key refunds; a developer key rolls keys and changes an endpoint: each is the actor of its change.
    finance = (await api.call("POST", "/api/v1/api-keys", {"scopes": ["orders:write", "orders:read"],
                                                          "name": "finance"}, expect=201)).json()
    developer = (await api.call("POST", "/api/v1/api-keys", {"scopes": ["keys:write", "keys:read", "webhooks:manage",
                                                                       "orders:read"], "name": "dev"},
                                expect=201)).json()

    session = await shop.session()
    done = await shop.complete(session["id"])
    order = (await tenant.get(f"/api/v1/orders/{done.json()['orderId']}")).json()
    refund = (await api.call("POST", f"/api/v1/orders/{order['id']}/refunds", {"amount": 700, "reason": "damaged"},
                             key=finance["secret"], expect=201)).json()
    found = await entries(api, resourceType="refund")
    assert len(found) == 1
    entry = found[0]
    assert entry["action"] == "refund.created" and entry["resourceId"] == refund["id"]
    assert entry["actor"] == {"type": "key", "id": finance["id"]}
    assert entry["changes"]["before"] is None
    assert entry["changes"]["after"] == {"orderId": order["id"], "amount": 700, "currency": "EUR",
                                         "reason": "damaged", "restorePromotions": False,
                                         "orderAmountRefunded": 700}
    assert entry["requestId"].startswith("req_") and entry["sourceAddress"]

    rolled_target = (await api.call("POST", "/api/v1/api-keys", {"scopes": ["orders:read"]}, expect=201)).json()
    rolled = (await api.call("POST", f"/api/v1/api-keys/{rolled_target['id']}/roll", {"expiresInHours": 2},
                             key=developer["secret"], expect=200)).json()
    found = await entries(api, resourceId=rolled_target["id"], action="api_key.rolled")
    assert len(found) == 1
    changes = found[0]["changes"]
    assert found[0]["actor"] == {"type": "key", "id": developer["id"]}
    assert changes["before"] == {"expiresAt": None, "replacedBy": None}
    assert changes["after"]["replacedBy"] == rolled["id"] and changes["after"]["expiresAt"] is not None
    assert set(changes["after"]) == {"expiresAt", "replacedBy"}

    endpoint = (await api.call("POST", "/api/v1/webhook-endpoints",
                               {"url": "https://hooks.example.com/kassa", "enabledEvents": ["order.created"]},
                               key=developer["secret"], expect=201)).json()
    await api.call("PATCH", f"/api/v1/webhook-endpoints/{endpoint['id']}",
                   {"enabledEvents": ["order.created", "audit.entry.created"], "description": "SIEM"},
                   key=developer["secret"], expect=200)
    found = await entries(api, resourceId=endpoint["id"], action="webhook_endpoint.updated")
    assert len(found) == 1
    assert found[0]["actor"] == {"type": "key", "id": developer["id"]}
    assert found[0]["changes"] == {
        "before": {"enabledEvents": ["order.created"], "description": None},
        "after": {"enabledEvents": ["order.created", "audit.entry.created"], "description": "SIEM"}}
    # A call that changes nothing leaves nothing (a refused refund: no change, no entry).
    assert_envelope(await api.call("POST", f"/api/v1/orders/{order['id']}/refunds", {"amount": 10 ** 9},
                                   key=finance["secret"]), 422, "refund_exceeds_amount")
    assert len(await entries(api, resourceType="refund")) == 1


async def test_no_secret_is_ever_in_an_entry_or_an_audit_event(tenant: Tenant, suite: httpx.AsyncClient) -> None:
    """Every secret made during the test (key secrets, rolled keys, endpoint secrets, a given endpoint
    secret, its rotation) is searched for in every audit row and every audit event of the application."""
    api = Api(tenant, suite)
    secrets: list[str] = [tenant.secret_key]
    made = (await api.call("POST", "/api/v1/api-keys", {"scopes": ["*"], "name": "ops"}, expect=201)).json()
    secrets.append(made["secret"])
    secrets.append((await api.call("POST", f"/api/v1/api-keys/{made['id']}/roll", {}, expect=200)).json()["secret"])
    publishable = (await api.call("POST", "/api/v1/api-keys", {"type": "publishable"}, expect=201)).json()
    await api.call("DELETE", f"/api/v1/api-keys/{publishable['id']}", expect=200)
    given = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    endpoint = (await api.call("POST", "/api/v1/webhook-endpoints",
                               {"url": "https://hooks.example.com/a", "enabledEvents": ["*"], "secret": given},
                               expect=201)).json()
    secrets += [given, endpoint["secret"]]
    generated = (await api.call("POST", "/api/v1/webhook-endpoints",
                                {"url": "https://hooks.example.com/b", "enabledEvents": ["*"]}, expect=201)).json()
    secrets.append(generated["secret"])
    rotated = (await api.call("POST", f"/api/v1/webhook-endpoints/{generated['id']}/rotate-secret", {},
                              expect=200)).json()
    secrets.append(rotated["secret"])
    await api.call("PATCH", f"/api/v1/webhook-endpoints/{generated['id']}", {"url": "https://hooks.example.com/c"},
                   expect=200)
    await api.call("DELETE", f"/api/v1/webhook-endpoints/{endpoint['id']}", expect=204)
    await api.call("PUT", "/api/v1/payment-settings", {"provider": "test", "captureMethod": "manual"}, expect=200)

    async with tenant.backend.runtime.db() as conn:
        rows = (await conn.execute(sa.select(audit_events).where(audit_events.c.app_id == tenant.app_id))).all()
        events = (await conn.execute(sa.select(outbox_events.c.payload).where(
            outbox_events.c.app_id == tenant.app_id, outbox_events.c.type == "audit.entry.created"))).scalars().all()
    assert len(rows) >= 9 and len(events) == len(rows)
    texts = [msgspec.json.encode(list(r._mapping.values())).decode() for r in rows] + [e.decode() for e in events]
    texts.append((await api.call("GET", "/api/v1/audit-log", params={"limit": 100}, expect=200)).text)
    for secret in secrets:
        assert len(secret) >= 24
        for text in texts:
            assert secret not in text and secret[-16:] not in text
    assert audit.REDACTED in " ".join(texts)  # a secret field was there, and redacted


async def test_filters_and_cursor_pagination(tenant: Tenant, suite: httpx.AsyncClient) -> None:
    api = Api(tenant, suite)
    other = (await api.call("POST", "/api/v1/api-keys", {"scopes": ["settings:write"]}, expect=201)).json()
    methods = []
    for i in range(5):
        methods.append((await api.call("POST", "/api/v1/shipping-methods",
                                       {"name": f"Ship {i}", "prices": {"EUR": 100 + i}},
                                       key=other["secret"] if i % 2 else None, expect=201)).json())
    await api.call("PATCH", f"/api/v1/shipping-methods/{methods[0]['id']}", {"name": "Express"}, expect=200)
    mine = await key_id_of(api, tenant.secret_key)

    everything = await entries(api)
    assert [e["action"] for e in everything][:6] == ["shipping_method.updated"] + ["shipping_method.created"] * 5
    assert [e["id"] for e in everything] == sorted((e["id"] for e in everything), reverse=True)
    by_other = await entries(api, actorId=other["id"])
    assert [e["resourceId"] for e in by_other] == [methods[3]["id"], methods[1]["id"]]
    assert {e["actor"]["id"] for e in await entries(api, actorType="key")} == {mine, other["id"]}
    assert await entries(api, actorType="user") == []
    assert [e["action"] for e in await entries(api, resourceType="shipping_method", resourceId=methods[0]["id"])] == \
        ["shipping_method.updated", "shipping_method.created"]
    assert len(await entries(api, action="shipping_method.created")) == 5
    updated = await entries(api, action="shipping_method.updated")
    assert updated[0]["changes"] == {"before": {"name": "Ship 0"}, "after": {"name": "Express"}}

    # Created range: [createdFrom, createdTo).
    tenant.backend.clock.advance(hours=2)
    await api.call("DELETE", f"/api/v1/shipping-methods/{methods[4]['id']}", expect=204)
    late = everything[0]["createdAt"]
    cut = (tenant.backend.clock.now() - timedelta(hours=1)).isoformat()
    assert [e["action"] for e in await entries(api, createdFrom=cut)] == ["shipping_method.deleted"]
    assert "shipping_method.deleted" not in [e["action"] for e in await entries(api, createdTo=cut)]
    assert late <= cut

    # Pages of two, newest first, each entry once.
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await api.call("GET", "/api/v1/audit-log", params=params, expect=200)).json()
        seen += [e["id"] for e in page["data"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == [e["id"] for e in await entries(api)]

    assert_envelope(await api.call("GET", "/api/v1/audit-log", params={"createdFrom": "yesterday"}), 400,
                    "validation_error", "createdFrom")
    assert_envelope(await api.call("GET", "/api/v1/audit-log", params={"cursor": "nope"}), 400, "validation_error",
                    "cursor")
    reader = await tenant.scoped_key(["orders:read"])
    assert_envelope(await api.call("GET", "/api/v1/audit-log", key=reader), 403, "forbidden")
    assert (await api.call("GET", "/api/v1/audit-log", key=await tenant.scoped_key(["audit:read"]))).status_code == 200
    # Another application sees none of it.
    stranger = Api(await make_tenant(tenant.backend), suite)
    assert await entries(stranger) == []


async def test_shopper_changes_are_not_merchant_changes(tenant: Tenant, suite: httpx.AsyncClient) -> None:
    """A publishable key builds a cart and pays: nothing in the audit log (docs/audit-log.md)."""
    api = Api(tenant, suite)
    variant = await tenant.variant({"EUR": 900})
    before = len(await entries(api))
    cart = (await api.call("POST", "/api/v1/carts", {"currency": "EUR",
                                                     "lineItems": [{"variantId": variant, "quantity": 1}]},
                           key=tenant.publishable_key, expect=201)).json()
    await api.call("PATCH", f"/api/v1/carts/{cart['id']}", {"email": "a@b.example"}, key=tenant.publishable_key,
                   headers={"X-Cart-Secret": cart["clientSecret"]})
    assert len(await entries(api)) == before


async def test_retention_deletes_old_entries_in_batches(tenant: Tenant, suite: httpx.AsyncClient) -> None:
    api = Api(tenant, suite)
    backend = tenant.backend
    await api.call("PUT", "/api/v1/tax-settings", {"pricesIncludeTax": True}, expect=200)
    first = await entries(api)
    assert [e["action"] for e in first] == ["tax_settings.updated"]
    assert first[0]["changes"] == {"before": {"pricesIncludeTax": False}, "after": {"pricesIncludeTax": True}}
    backend.clock.advance(days=399)
    await api.call("PUT", "/api/v1/tax-settings", {"pricesIncludeTax": False}, expect=200)

    ctx = JobContext(settings=backend.runtime.settings, db=backend.runtime.db, clock=backend.clock, queue=None)  # type: ignore[arg-type]
    assert backend.runtime.settings.audit_retention_days == 400
    await purge_audit_log(ctx)
    assert len(await entries(api)) == 2  # 399 days old: kept
    backend.clock.advance(days=2)
    await purge_audit_log(ctx)
    assert [e["action"] for e in await entries(api)] == ["tax_settings.updated"]
    assert (await entries(api))[0]["changes"]["after"] == {"pricesIncludeTax": False}

    # Batches: more than one batch of old entries go in one run, a transaction per batch.
    now = backend.clock.now()
    async with transaction(backend.runtime.db) as conn:
        with audit.operator():
            for i in range(5):
                await audit.record(conn, "tax_settings.updated", tenant.app_id, app_id=tenant.app_id,
                                   now=now - timedelta(days=500), after={"i": i})
    async with transaction(backend.runtime.db) as conn:
        removed = await audit.purge_batch(conn, now, 400, batch=2)
    assert removed == 2
    assert await purge_audit_log(ctx) >= 3
    assert [e["action"] for e in await entries(api)] == ["tax_settings.updated"]


async def test_an_entry_commits_with_its_change_or_not_at_all(tenant: Tenant) -> None:
    """The entry and its event are written in the change's transaction: a change rolled back leaves neither."""
    db, now = tenant.backend.runtime.db, tenant.backend.clock.now()

    class Refused(Exception):
        pass

    try:
        async with transaction(db) as conn:
            with audit.operator():
                written = await audit.record(conn, "tax_settings.updated", tenant.app_id, app_id=tenant.app_id,
                                             now=now, before={"pricesIncludeTax": False},
                                             after={"pricesIncludeTax": True})
            assert written is not None
            raise Refused  # the change fails after its entry was written
    except Refused:
        pass
    async with db() as conn:
        assert (await conn.execute(sa.select(audit_events.c.id).where(audit_events.c.id == written))).first() is None
        assert (await conn.execute(sa.select(outbox_events.c.id).where(
            outbox_events.c.aggregate_id == written))).first() is None
    async with transaction(db) as conn:  # outside a request or command: nothing is recorded
        assert await audit.record(conn, "tax_settings.updated", tenant.app_id, app_id=tenant.app_id, now=now) is None


async def test_a_sessions_changes_are_the_users(tenant: Tenant, suite: httpx.AsyncClient) -> None:
    """A caller signed in as a user (its principal names `user_id`) is the actor, not its credential."""
    import time

    from kassa_platform.auth import Principal, hash_key

    raw = "sk_test_" + "u" * 32
    principal = Principal(app_id=tenant.app_id, environment="test", key_id="key_of_session", kind="secret",
                          scopes=frozenset({"*"}), user_id="usr_ada")
    # The session layer's principal, as the key resolver holds it (sessions come with the team accounts).
    tenant.backend.runtime.keys._cache[hash_key(raw)] = (time.monotonic() + 60, principal, None)
    api = Api(tenant, suite)
    made = (await api.call("POST", "/api/v1/shipping-methods", {"name": "Courier", "prices": {"EUR": 900}}, key=raw,
                           expect=201)).json()
    [entry] = await entries(api, resourceId=made["id"])
    assert entry["actor"] == {"type": "user", "id": "usr_ada"}
    assert [e["id"] for e in await entries(api, actorType="user", actorId="usr_ada")] == [entry["id"]]


async def test_a_teams_changes_are_workspace_entries_listed_to_who_sees_the_team(tenant: Tenant,
                                                                                suite: httpx.AsyncClient) -> None:
    """A signed-in user's team change names the workspace and no application: it is listed with the
    workspace's applications to who may read the members, sent as no event, and holds no token."""
    from kassa_team import team_rows
    from kassa_team.service import team_of

    from tests.support.team import PASSWORD, Person, signed_in, unique_email

    email = unique_email("owner")
    user_id, workspace_id, _ = await team_of(tenant.backend.runtime).accounts.create_owner(email, PASSWORD)
    async with transaction(tenant.backend.runtime.db) as conn:
        await team_rows.set_application_workspace(conn, tenant.app_id, workspace_id)
    owner = await signed_in(suite, Person(user_id, email, PASSWORD))
    invitee = unique_email("invitee")
    made = await suite.post(f"/api/v1/workspaces/{workspace_id}/invitations", json={"email": invitee, "role": "member"},
                            headers=owner.headers())
    assert made.status_code == 201, made.text
    invitation = made.json()["id"]
    async with tenant.backend.runtime.db() as conn:
        row = (await conn.execute(sa.select(audit_events).where(audit_events.c.resource_id == invitation))).one()
        events = (await conn.execute(sa.select(outbox_events.c.id).where(
            outbox_events.c.aggregate_id == row.id))).all()
    assert (row.app_id, row.workspace_id, row.action, row.actor_id) == (None, workspace_id, "invitation.created",
                                                                        user_id)
    assert row.changes["after"]["email"] == invitee and "kinv_" not in str(row.changes)
    assert events == []
    as_owner = await suite.get("/api/v1/audit-log", params={"resourceId": invitation},
                               headers=owner.headers(tenant.app_id, csrf=False))
    assert as_owner.status_code == 200, as_owner.text
    [entry] = as_owner.json()["data"]
    assert (entry["applicationId"], entry["workspaceId"], entry["actor"]) == (
        None, workspace_id, {"type": "user", "id": user_id})
    api = Api(tenant, suite)
    assert await entries(api, resourceId=invitation) == []  # the tenant's key: `*` holds no team permission
    reader = await tenant.scoped_key(["audit:read", "members:read"])
    listed = await api.call("GET", "/api/v1/audit-log", params={"resourceId": invitation}, key=reader, expect=200)
    assert [e["id"] for e in listed.json()["data"]] == [entry["id"]]
