"""Customers: create, retrieve, update (absent = unchanged, null clears), list with filters and cursor,
delete, segments; uniqueness per application; every change an outbox event; bad input a clear 4xx."""

from __future__ import annotations

import uuid

import pytest

from tests.cart.conftest import events_of
from tests.conftest import Tenant, make_tenant
from tests.support.envelopes import assert_envelope

PATH = "/api/v1/customers"


def _email() -> str:
    return f"Ada.{uuid.uuid4().hex[:8]}@Example.com"


async def test_create_retrieve_update_delete_with_events(tenant: Tenant) -> None:
    email = _email()
    created = await tenant.post(PATH, {
        "email": email, "firstName": "Ada", "lastName": "Lovelace", "phone": "+4930123456", "locale": "de-AT",
        "externalId": "crm-1", "metadata": {"tier": "gold"}, "segments": ["vip", "newsletter", "vip"],
        "marketingConsent": {"email": "granted", "source": "checkout"}})
    assert created.status_code == 201, created.text
    customer = created.json()
    assert customer["id"].startswith("cus_") and customer["email"] == email
    assert customer["segments"] == ["newsletter", "vip"]
    assert customer["marketingConsent"]["email"] == "granted" and customer["marketingConsent"]["source"] == "checkout"
    assert customer["marketingConsent"]["updatedAt"] and customer["identity"] is None
    path = f"{PATH}/{customer['id']}"
    assert (await tenant.get(path)).json() == customer

    patched = (await tenant.patch(path, {"firstName": "Augusta", "phone": None})).json()
    assert patched["firstName"] == "Augusta" and patched["phone"] is None
    assert patched["lastName"] == "Lovelace" and patched["locale"] == "de-AT"  # absent: unchanged
    assert patched["segments"] == ["newsletter", "vip"] and patched["metadata"] == {"tier": "gold"}
    cleared = (await tenant.patch(path, {"segments": None, "metadata": None,
                                         "marketingConsent": {"email": "denied"}})).json()
    assert cleared["segments"] == [] and cleared["metadata"] is None
    assert cleared["marketingConsent"]["email"] == "denied"

    deleted = await tenant.delete(path)
    assert deleted.status_code == 200 and deleted.json()["id"] == customer["id"]
    assert_envelope(await tenant.get(path), 404, "customer_not_found")
    assert_envelope(await tenant.patch(path, {"firstName": "X"}), 404, "customer_not_found")
    assert_envelope(await tenant.delete(path), 404, "customer_not_found")

    events = await events_of(tenant, "customer.created") + await events_of(tenant, "customer.updated") \
        + await events_of(tenant, "customer.deleted")
    assert [(e["type"], e["data"]["sequence"]) for e in events] == [
        ("customer.created", 1), ("customer.updated", 2), ("customer.updated", 3), ("customer.deleted", 4)]
    assert events[0]["data"]["customer"]["email"] == email and events[-1]["data"]["customerId"] == customer["id"]


async def test_email_and_external_id_are_unique_per_application(tenant: Tenant) -> None:
    email = _email()
    first = (await tenant.post(PATH, {"email": email, "externalId": "ext-1"})).json()
    assert_envelope(await tenant.post(PATH, {"email": email.upper()}), 409, "customer_email_taken", "email")
    assert_envelope(await tenant.post(PATH, {"externalId": "ext-1"}), 409, "customer_external_id_taken", "externalId")
    other = (await tenant.post(PATH, {"email": _email()})).json()
    assert_envelope(await tenant.patch(f"{PATH}/{other['id']}", {"email": email.lower()}), 409,
                    "customer_email_taken", "email")
    assert (await tenant.get(f"{PATH}/{other['id']}")).json()["email"] != email.lower()  # nothing stored
    # Customers without email or external id do not collide; another application may reuse both.
    assert (await tenant.post(PATH, {"firstName": "A"})).status_code == 201
    assert (await tenant.post(PATH, {"firstName": "B"})).status_code == 201
    elsewhere = await make_tenant(tenant.backend)
    assert (await elsewhere.post(PATH, {"email": email, "externalId": "ext-1"})).status_code == 201
    assert_envelope(await elsewhere.get(f"{PATH}/{first['id']}"), 404, "customer_not_found")


async def test_list_filters_and_cursor(tenant: Tenant) -> None:
    emails = [_email() for _ in range(5)]
    made = []
    for i, email in enumerate(emails):
        made.append((await tenant.post(PATH, {"email": email, "externalId": f"x-{i}",
                                              "segments": ["vip"] if i % 2 == 0 else []})).json())
        tenant.backend.clock.advance(seconds=1)
    page = (await tenant.get(PATH, params={"limit": 2})).json()
    assert [c["id"] for c in page["data"]] == [made[4]["id"], made[3]["id"]] and page["nextCursor"]
    seen = [c["id"] for c in page["data"]]
    while page["nextCursor"]:
        page = (await tenant.get(PATH, params={"limit": 2, "cursor": page["nextCursor"]})).json()
        seen += [c["id"] for c in page["data"]]
    assert seen == [c["id"] for c in reversed(made)]
    by_email = (await tenant.get(PATH, params={"email": emails[1].upper()})).json()["data"]
    assert [c["id"] for c in by_email] == [made[1]["id"]]
    assert [c["id"] for c in (await tenant.get(PATH, params={"externalId": "x-3"})).json()["data"]] == [made[3]["id"]]
    vip = (await tenant.get(PATH, params={"segment": "vip"})).json()["data"]
    assert [c["id"] for c in vip] == [made[4]["id"], made[2]["id"], made[0]["id"]]
    ranged = (await tenant.get(PATH, params={"createdFrom": made[1]["createdAt"],
                                             "createdTo": made[3]["createdAt"]})).json()["data"]
    assert [c["id"] for c in ranged] == [made[2]["id"], made[1]["id"]]
    assert_envelope(await tenant.get(PATH, params={"createdFrom": "yesterday"}), 400, "validation_error",
                    "createdFrom")
    assert_envelope(await tenant.get(PATH, params={"cursor": "nonsense"}), 400, "validation_error", "cursor")


async def test_segments_are_incremental_and_idempotent(tenant: Tenant) -> None:
    customer = (await tenant.post(PATH, {"segments": ["a"]})).json()
    path = f"{PATH}/{customer['id']}/segments"
    assert (await tenant.post(path, {"add": ["vip", "b"], "remove": ["a"]})).json()["segments"] == ["b", "vip"]
    again = await tenant.post(path, {"add": ["vip"], "remove": ["a", "nope"]})
    assert again.status_code == 200 and again.json()["segments"] == ["b", "vip"]
    updates = await events_of(tenant, "customer.updated")
    assert len(updates) == 1  # the repeat changed nothing and said nothing
    assert_envelope(await tenant.post(f"{PATH}/cus_missing/segments", {"add": ["x"]}), 404, "customer_not_found")
    assert_envelope(await tenant.post(path, {"add": ["has space"]}), 422, "validation_error", "add[0]")


@pytest.mark.parametrize(("body", "field"), [
    ({"email": "not-an-email"}, "email"),
    ({"phone": "030 123456"}, "phone"),
    ({"phone": "+0301234"}, "phone"),
    ({"phone": "+1234567890123456"}, "phone"),
    ({"locale": "german"}, "locale"),
    ({"locale": "de_DE"}, "locale"),
    ({"marketingConsent": {"email": "maybe"}}, "marketingConsent.email"),
    ({"segments": "vip"}, "segments"),
    ({"nickname": "x"}, "nickname"),
    ({"externalId": ""}, "externalId"),
])
async def test_bad_input_is_a_clear_error(tenant: Tenant, body: dict, field: str) -> None:
    assert_envelope(await tenant.post(PATH, body), 422, "validation_error", field)


async def test_locales_and_phones_that_are_fine(tenant: Tenant) -> None:
    for locale in ("de", "de-AT", "zh-Hant-TW", "es-419", "en-GB"):
        assert (await tenant.post(PATH, {"locale": locale, "phone": "+14155550123"})).status_code == 201


async def test_scopes(tenant: Tenant) -> None:
    reader = await tenant.scoped_key(["customers:read"])
    assert_envelope(await tenant.post(PATH, {"firstName": "A"}, key=reader), 403, "forbidden")
    assert (await tenant.get(PATH, key=reader)).status_code == 200
    carts_only = await tenant.scoped_key(["carts:read"])
    assert_envelope(await tenant.get(PATH, key=carts_only), 403, "forbidden")
    assert_envelope(await tenant.get(PATH, key=tenant.publishable_key), 403, "forbidden")


async def test_create_is_idempotent(tenant: Tenant) -> None:
    body, key = {"email": _email()}, {"Idempotency-Key": f"cus-{uuid.uuid4().hex}"}
    first = await tenant.post(PATH, body, headers=key)
    again = await tenant.post(PATH, body, headers=key)
    assert first.status_code == again.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert again.headers.get("idempotent-replayed") == "true"
    assert len(await events_of(tenant, "customer.created")) == 1
    assert_envelope(await tenant.post(PATH, {"email": _email()}, headers=key), 409, "idempotency_key_reused")
