"""API key management through the API: list, create, roll, revoke; who may grant what; last use."""

from __future__ import annotations

import sqlalchemy as sa
from kassa_platform.tables import api_keys

from tests.conftest import Backend, Tenant, make_tenant
from tests.support.envelopes import assert_envelope

KEYS = "/api/v1/api-keys"


async def _create(tenant: Tenant, body: dict, key: str | None = None) -> dict:
    response = await tenant.post(KEYS, body, key=key)
    assert response.status_code == 201, response.text
    return response.json()


async def _works(tenant: Tenant, key: str) -> bool:
    status = (await tenant.get("/api/v1/products", key=key)).status_code
    assert status in (200, 401)
    return status == 200


async def test_create_shows_the_secret_once_and_lists_it_without(tenant: Tenant) -> None:
    made = await _create(tenant, {"scopes": ["catalog:read", "carts:read"], "name": "ERP sync"})
    secret = made["secret"]
    assert secret.startswith("sk_test_") and made["id"].startswith("key_")
    assert made["prefix"] == "sk_test_" and made["last4"] == secret[-4:] and made["type"] == "secret"
    assert made["scopes"] == ["carts:read", "catalog:read"] and made["name"] == "ERP sync"
    assert made["lastUsedAt"] is None and made["expiresAt"] is None and made["revokedAt"] is None
    assert await _works(tenant, secret)

    listed = (await tenant.get(KEYS)).json()["data"]
    mine = next(k for k in listed if k["id"] == made["id"])
    assert mine["secret"] is None and secret not in (await tenant.get(KEYS)).text
    assert {k["type"] for k in listed} == {"secret", "publishable"}  # the tenant's own two keys are there too
    got = (await tenant.get(f"{KEYS}/{made['id']}")).json()
    assert got["secret"] is None and got["last4"] == secret[-4:]

    publishable = await _create(tenant, {"type": "publishable"})
    assert publishable["secret"].startswith("pk_test_") and "carts:write" in publishable["scopes"]


async def test_list_is_cursor_paginated_newest_first(tenant: Tenant) -> None:
    made = [(await _create(tenant, {"scopes": ["catalog:read"]}))["id"] for _ in range(3)]
    first = (await tenant.get(KEYS, params={"limit": 2})).json()
    assert [k["id"] for k in first["data"]] == made[::-1][:2] and first["nextCursor"]
    rest = (await tenant.get(KEYS, params={"limit": 2, "cursor": first["nextCursor"]})).json()
    assert rest["data"][0]["id"] == made[0]
    assert_envelope(await tenant.get(KEYS, params={"limit": 0}), 400, "validation_error", "limit")


async def test_bad_bodies_name_the_field(tenant: Tenant) -> None:
    assert_envelope(await tenant.post(KEYS, {}), 422, "validation_error", "scopes")
    assert_envelope(await tenant.post(KEYS, {"scopes": ["carts:fly"]}), 422, "validation_error", "scopes[0]")
    assert_envelope(await tenant.post(KEYS, {"scopes": []}), 422, "validation_error", "scopes")
    assert_envelope(await tenant.post(KEYS, {"type": "publishable", "scopes": ["carts:read"]}), 422,
                    "validation_error", "scopes")
    assert_envelope(await tenant.post(KEYS, {"type": "root", "scopes": ["*"]}), 422, "validation_error", "type")
    made = await _create(tenant, {"scopes": ["catalog:read"]})
    assert_envelope(await tenant.post(f"{KEYS}/{made['id']}/roll", {"expiresInHours": 169}), 422,
                    "validation_error", "expiresInHours")
    assert_envelope(await tenant.post(f"{KEYS}/{made['id']}/roll", {"expiresInHours": -1}), 422,
                    "validation_error", "expiresInHours")


async def test_revoked_key_is_refused_at_once_and_revoking_again_changes_nothing(tenant: Tenant) -> None:
    made = await _create(tenant, {"scopes": ["catalog:read"]})
    assert await _works(tenant, made["secret"])  # now cached in this process
    revoked = await tenant.delete(f"{KEYS}/{made['id']}")
    assert revoked.status_code == 200 and revoked.json()["revokedAt"] is not None
    assert_envelope(await tenant.get("/api/v1/products", key=made["secret"]), 401, "unauthorized")
    again = await tenant.delete(f"{KEYS}/{made['id']}")
    assert again.status_code == 200 and again.json()["revokedAt"] == revoked.json()["revokedAt"]
    assert made["id"] not in {k["id"] for k in (await tenant.get(KEYS)).json()["data"]}
    inactive = (await tenant.get(KEYS, params={"includeInactive": "true", "limit": 100})).json()["data"]
    assert made["id"] in {k["id"] for k in inactive}
    assert_envelope(await tenant.post(f"{KEYS}/{made['id']}/roll"), 409, "api_key_inactive")


async def test_roll_keeps_the_old_secret_until_it_expires(tenant: Tenant) -> None:
    backend = tenant.backend
    made = await _create(tenant, {"scopes": ["catalog:read"], "name": "storefront"})
    assert await _works(tenant, made["secret"])
    rolled = await tenant.post(f"{KEYS}/{made['id']}/roll")  # no body: the default of 24 hours
    assert rolled.status_code == 200, rolled.text
    new = rolled.json()
    assert new["id"] != made["id"] and new["secret"] != made["secret"]
    assert new["scopes"] == made["scopes"] and new["name"] == "storefront" and new["expiresAt"] is None
    old = (await tenant.get(f"{KEYS}/{made['id']}")).json()
    assert old["expiresAt"] is not None
    assert await _works(tenant, made["secret"]) and await _works(tenant, new["secret"])
    backend.clock.advance(hours=23, minutes=59)
    assert await _works(tenant, made["secret"])
    backend.clock.advance(minutes=2)
    assert not await _works(tenant, made["secret"])  # the cached entry knows its expiry
    assert await _works(tenant, new["secret"])
    assert made["id"] not in {k["id"] for k in (await tenant.get(KEYS, params={"limit": 100})).json()["data"]}


async def test_roll_with_zero_hours_stops_the_old_secret_at_once(tenant: Tenant) -> None:
    made = await _create(tenant, {"scopes": ["catalog:read"]})
    assert await _works(tenant, made["secret"])
    new = await tenant.post(f"{KEYS}/{made['id']}/roll", {"expiresInHours": 0})
    assert new.status_code == 200
    assert not await _works(tenant, made["secret"])
    assert await _works(tenant, new.json()["secret"])
    # A rolled key rolled again keeps the earlier, shorter expiry.
    made = await _create(tenant, {"scopes": ["catalog:read"]})
    await tenant.post(f"{KEYS}/{made['id']}/roll", {"expiresInHours": 1})
    first = (await tenant.get(f"{KEYS}/{made['id']}")).json()["expiresAt"]
    await tenant.post(f"{KEYS}/{made['id']}/roll", {"expiresInHours": 48})
    assert (await tenant.get(f"{KEYS}/{made['id']}")).json()["expiresAt"] == first


async def test_a_key_manages_keys_only_within_its_own_scopes(tenant: Tenant) -> None:
    manager = await tenant.scoped_key(["keys:read", "keys:write", "catalog:read", "carts:read"])
    made = await _create(tenant, {"scopes": ["catalog:read"]}, key=manager)  # within its own: allowed
    err = assert_envelope(await tenant.post(KEYS, {"scopes": ["*"]}, key=manager), 403, "forbidden")
    assert err["details"] == {"lackingScopes": ["*"]}
    err = assert_envelope(await tenant.post(KEYS, {"scopes": ["carts:read", "orders:write"]}, key=manager), 403,
                          "forbidden")
    assert err["details"] == {"lackingScopes": ["orders:write"]}
    assert_envelope(await tenant.post(KEYS, {"type": "publishable"}, key=manager), 403, "forbidden")
    root = (await tenant.get(KEYS, params={"limit": 100})).json()["data"]
    root_id = next(k["id"] for k in root if k["scopes"] == ["*"])
    # Rolling the `*` key would hand over a `*` secret; revoking it is beyond this key too.
    assert_envelope(await tenant.post(f"{KEYS}/{root_id}/roll", key=manager), 403, "forbidden")
    assert_envelope(await tenant.delete(f"{KEYS}/{root_id}", key=manager), 403, "forbidden")
    assert await _works(tenant, tenant.secret_key)
    rolled = await tenant.post(f"{KEYS}/{made['id']}/roll", key=manager)
    assert rolled.status_code == 200
    # A key may revoke itself, and is refused from then on.
    own_id = next(k["id"] for k in (await tenant.get(KEYS, params={"limit": 100}, key=manager)).json()["data"]
                  if "keys:write" in k["scopes"] and k["scopes"] != ["*"])
    assert (await tenant.delete(f"{KEYS}/{own_id}", key=manager)).status_code == 200
    assert_envelope(await tenant.get(KEYS, key=manager), 401, "unauthorized")


async def test_scopes_and_key_kinds_guard_the_routes(tenant: Tenant) -> None:
    reader = await tenant.scoped_key(["keys:read"])
    assert (await tenant.get(KEYS, key=reader)).status_code == 200
    err = assert_envelope(await tenant.post(KEYS, {"scopes": ["keys:read"]}, key=reader), 403, "forbidden")
    assert err["details"] == {"scope": "keys:write"}
    assert_envelope(await tenant.get(KEYS, key=tenant.publishable_key), 403, "forbidden")
    other = await make_tenant(tenant.backend)
    theirs = await _create(other, {"scopes": ["catalog:read"]})
    assert_envelope(await tenant.get(f"{KEYS}/{theirs['id']}"), 404, "api_key_not_found")
    assert_envelope(await tenant.delete(f"{KEYS}/{theirs['id']}"), 404, "api_key_not_found")
    assert_envelope(await tenant.post(f"{KEYS}/{theirs['id']}/roll"), 404, "api_key_not_found")
    assert await _works(other, theirs["secret"])


async def test_last_use_is_written_in_batches_not_per_request(backend: Backend) -> None:
    tenant = await make_tenant(backend)
    resolver = backend.runtime.keys
    await resolver.flush_usage()  # other tests' uses
    made = await _create(tenant, {"scopes": ["catalog:read"]})
    with backend.counter:
        for _ in range(20):
            assert await _works(tenant, made["secret"])
    assert not [s for s in backend.counter.statements if "UPDATE api_keys" in s]
    assert await resolver.flush_usage() >= 1
    async with backend.runtime.db() as conn:
        used = (await conn.execute(sa.select(api_keys.c.last_used_at).where(api_keys.c.id == made["id"]))).scalar_one()
    assert used is not None
    listed = (await tenant.get(f"{KEYS}/{made['id']}")).json()
    assert listed["lastUsedAt"] is not None
    # Within the minute, more uses of the key record nothing more.
    for _ in range(5):
        assert await _works(tenant, made["secret"])
    assert made["id"] not in resolver._used
