"""Abandoned carts on both databases: the sweep and its rules, the enriched `cart.abandoned`, recovery
links and tokens, recovered carts, the list and the summary. Time moves by the test clock."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import msgspec
import pytest
import sqlalchemy as sa
from kassa_cart.abandonment import mark_recovered
from kassa_cart.service import module_of
from kassa_cart.tables import carts
from kassa_contract.events import CartAbandonedData, EventEnvelope
from kassa_contract.internal import ConvertCart, LockCartForCheckout, ReopenCart
from kassa_contract.versions import LATEST_VERSION
from kassa_platform.auth import Principal
from kassa_platform.db import transaction
from kassa_platform.signed_tokens import sign_token

from tests.cart.conftest import abandonment_rows, events_of, filled_cart, sweep_for
from tests.conftest import ADDRESS_DE, Backend, Tenant, make_tenant
from tests.support.envelopes import assert_envelope

DAY = 1440


async def _cart_row(tenant: Tenant, cart_id: str):  # type: ignore[no-untyped-def]
    async with tenant.backend.runtime.db() as conn:
        return (await conn.execute(sa.select(carts).where(carts.c.id == cart_id))).one()


async def _set_status(tenant: Tenant, cart_id: str, status: str) -> None:
    async with transaction(tenant.backend.runtime.db) as conn:
        await conn.execute(sa.update(carts).where(carts.c.id == cart_id).values(status=status))


# ---------------------------------------------------------------- the sweep


async def test_an_idle_cart_is_abandoned_once_with_the_enriched_event(tenant: Tenant) -> None:
    billing = {**ADDRESS_DE, "firstName": "Ana", "city": "Hamburg"}
    cart = await filled_cart(tenant, customerEmail="ana@example.com", shippingAddress=ADDRESS_DE,
                             billingAddress=billing, metadata={"src": "ads"})
    tenant.backend.clock.advance(minutes=DAY - 1)
    assert await sweep_for(tenant) == 0  # not yet: the default threshold is 24 h
    tenant.backend.clock.advance(minutes=2)
    assert await sweep_for(tenant) == 1
    assert await sweep_for(tenant) == 0  # once per abandonment

    got = (await tenant.get(f"/api/v1/carts/{cart['id']}")).json()
    assert got["abandonedAt"] is not None and got["status"] == "open"
    [event] = await events_of(tenant, "cart.abandoned")
    msgspec.convert(event, EventEnvelope)
    assert event["apiVersion"] == LATEST_VERSION  # stored in the newest version's shape, as every event
    data = event["data"]
    msgspec.convert(data, CartAbandonedData)  # the contract type decodes it
    updates = await events_of(tenant, "cart.created", cart["id"])
    assert data["cartId"] == cart["id"] and data["sequence"] == updates[-1]["data"]["sequence"] + 1
    # A guest: the name comes from the cart's address (the billing one here, the shipping one names nobody).
    assert data["customer"] == {"id": None, "email": "ana@example.com", "firstName": "Ana", "lastName": None,
                                "locale": None, "marketingConsent": None}
    assert [{k: li[k] for k in line} for li, line in zip(data["lineItems"], cart["lineItems"], strict=True)] == \
        cart["lineItems"] and data["currency"] == "EUR"  # the cart's lines, with what emails need added
    for name in ("subtotal", "taxTotal", "shippingTotal", "discountTotal", "total", "itemCount"):
        assert data[name] == cart[name], name
    assert data["itemCount"] == 2 and data["total"] == 5000
    assert data["recoveryUrl"] is None  # no template configured
    assert data["shippingAddress"] == cart["shippingAddress"] and data["billingAddress"]["city"] == "Hamburg"
    row = await _cart_row(tenant, cart["id"])
    assert row.version == data["sequence"]  # the event's sequence is the cart's version


async def test_anonymous_and_addressless_carts_are_emitted_with_nulls(tenant: Tenant) -> None:
    cart = await filled_cart(tenant)
    tenant.backend.clock.advance(minutes=DAY + 1)
    assert await sweep_for(tenant) == 1
    [event] = await events_of(tenant, "cart.abandoned", cart["id"])
    assert event["data"]["customer"] is None
    assert event["data"]["shippingAddress"] is None and event["data"]["billingAddress"] is None


async def test_empty_and_converted_carts_are_never_abandoned_checkout_carts_are(tenant: Tenant) -> None:
    empty = await tenant.cart()
    emptied = await filled_cart(tenant)
    await tenant.delete(f"/api/v1/carts/{emptied['id']}/line-items/{emptied['lineItems'][0]['id']}")
    converted = await filled_cart(tenant)
    await _set_status(tenant, converted["id"], "converted")
    in_checkout = await filled_cart(tenant)
    await _set_status(tenant, in_checkout["id"], "checkout")
    tenant.backend.clock.advance(days=30)
    assert await sweep_for(tenant) == 1
    assert [r.cart_id for r in await abandonment_rows(tenant)] == [in_checkout["id"]]
    for cart in (empty, emptied, converted):
        assert (await _cart_row(tenant, cart["id"])).abandoned_at is None


async def test_any_change_is_activity_and_a_reabandoned_cart_emits_again(tenant: Tenant) -> None:
    cart = await filled_cart(tenant)
    path = f"/api/v1/carts/{cart['id']}"
    tenant.backend.clock.advance(minutes=DAY - 60)
    await tenant.patch(path, {"customerEmail": "late@example.com"})  # activity: the 24 h start again
    tenant.backend.clock.advance(minutes=120)
    assert await sweep_for(tenant) == 0
    tenant.backend.clock.advance(minutes=DAY)
    assert await sweep_for(tenant) == 1

    # Activity on the abandoned cart makes it active again...
    after = (await tenant.post(f"{path}/line-items", {"variantId": cart["lineItems"][0]["variantId"]})).json()
    assert after["abandonedAt"] is None and after["itemCount"] == 3
    assert (await tenant.get(path)).json()["abandonedAt"] is None
    tenant.backend.clock.advance(minutes=DAY + 1)
    # ...so it is abandoned again: a second event with a higher sequence, a second row.
    assert await sweep_for(tenant) == 1
    first, second = await events_of(tenant, "cart.abandoned", cart["id"])
    assert second["data"]["sequence"] > first["data"]["sequence"]
    assert second["data"]["itemCount"] == 3 and second["data"]["customer"]["email"] == "late@example.com"
    sequences = [e["data"]["sequence"] for e in await events_of(tenant, "cart.updated", cart["id"])]
    assert all(s != first["data"]["sequence"] for s in sequences)  # sequences never repeat for a cart
    rows = await abandonment_rows(tenant, cart["id"])
    assert [r.sequence for r in rows] == [first["data"]["sequence"], second["data"]["sequence"]]


def _service(tenant: Tenant) -> Principal:
    return Principal(app_id=tenant.app_id, environment="test", key_id="service", kind="service",
                     scopes=frozenset({"*"}))


async def test_checkout_locking_and_reopening_are_activity(tenant: Tenant) -> None:
    cart = await filled_cart(tenant)
    tenant.backend.clock.advance(minutes=DAY + 1)
    assert await sweep_for(tenant) == 1
    link = module_of(tenant.backend.runtime).checkout
    locked = await link.lock(_service(tenant), cart["id"], LockCartForCheckout(session_id="cs_lock"))
    assert locked.cart.status == "checkout" and locked.cart.abandoned_at is None  # the shopper is back
    tenant.backend.clock.advance(minutes=DAY - 5)
    assert await sweep_for(tenant) == 0
    tenant.backend.clock.advance(minutes=10)
    assert await sweep_for(tenant) == 1  # left on the payment page: abandoned again, in checkout
    reopened = await link.reopen(_service(tenant), cart["id"], ReopenCart(session_id="cs_lock", reason="expired"))
    assert reopened.status == "open" and reopened.abandoned_at is None
    first, second = await events_of(tenant, "cart.abandoned", cart["id"])
    assert second["data"]["sequence"] > first["data"]["sequence"]


async def test_per_application_thresholds(backend: Backend) -> None:
    quick, default, slow = [await make_tenant(backend) for _ in range(3)]
    assert (await quick.put("/api/v1/embed-config", {"cartAbandonmentThresholdMinutes": 30})).status_code == 200
    assert (await slow.put("/api/v1/embed-config", {"cartAbandonmentThresholdMinutes": 3 * DAY})).status_code == 200
    q, d, s = await filled_cart(quick), await filled_cart(default), await filled_cart(slow)
    backend.clock.advance(minutes=29)
    assert await sweep_for(quick, default, slow) == 0
    backend.clock.advance(minutes=2)
    assert await sweep_for(quick, default, slow) == 1
    backend.clock.advance(minutes=DAY)
    assert await sweep_for(quick, default, slow) == 1
    backend.clock.advance(minutes=DAY)
    assert await sweep_for(quick, default, slow) == 0  # 2 days idle: not past 3 days
    # Clearing the threshold brings back the default: the slow app's cart is due at once.
    assert (await slow.put("/api/v1/embed-config", {"cartAbandonmentThresholdMinutes": None})).status_code == 200
    assert await sweep_for(quick, default, slow) == 1
    for tenant, cart in ((quick, q), (default, d), (slow, s)):
        assert [r.cart_id for r in await abandonment_rows(tenant)] == [cart["id"]]


async def test_batches_cover_every_due_cart(tenant: Tenant) -> None:
    made = [await filled_cart(tenant) for _ in range(7)]
    tenant.backend.clock.advance(minutes=DAY + 1)
    assert await sweep_for(tenant, batch=3) == 7
    assert sorted(r.cart_id for r in await abandonment_rows(tenant)) == sorted(c["id"] for c in made)


# ---------------------------------------------------------------- recovery links and tokens


async def _abandoned_with_token(tenant: Tenant) -> tuple[dict, str, str]:
    response = await tenant.put("/api/v1/embed-config",
                                {"cartRecoveryUrlTemplate": "https://shop.example/cart/{cartId}?t={token}"})
    assert response.status_code == 200, response.text
    cart = await filled_cart(tenant, customerEmail="bo@example.com")
    tenant.backend.clock.advance(minutes=DAY + 1)
    await sweep_for(tenant)
    [event] = await events_of(tenant, "cart.abandoned", cart["id"])
    url = event["data"]["recoveryUrl"]
    parts = urlsplit(url)
    assert parts.scheme == "https" and parts.netloc == "shop.example" and parts.path == f"/cart/{cart['id']}"
    return cart, url, parse_qs(parts.query)["t"][0]


async def test_the_recovery_url_comes_from_the_template(tenant: Tenant) -> None:
    await tenant.put("/api/v1/embed-config", {"cartRecoveryUrlTemplate": "https://shop.example/c/{cartId}"})
    cart = await filled_cart(tenant)
    tenant.backend.clock.advance(minutes=DAY + 1)
    await sweep_for(tenant)
    [event] = await events_of(tenant, "cart.abandoned", cart["id"])
    assert event["data"]["recoveryUrl"] == f"https://shop.example/c/{cart['id']}"


async def test_the_recovery_token_opens_that_cart_to_a_publishable_key(tenant: Tenant) -> None:
    cart, _, token = await _abandoned_with_token(tenant)
    path = f"/api/v1/carts/{cart['id']}"
    pk = {"key": tenant.publishable_key}
    got = await tenant.get(path, headers={"X-Cart-Secret": token}, **pk)
    assert got.status_code == 200 and got.json()["id"] == cart["id"] and got.json()["clientSecret"] is None
    changed = await tenant.patch(path, {"customerEmail": "bo@shop.example"}, headers={"X-Cart-Secret": token}, **pk)
    assert changed.status_code == 200 and changed.json()["abandonedAt"] is None  # the shopper is back
    options = await tenant.get(f"{path}/shipping-methods", headers={"X-Cart-Secret": token}, **pk)
    assert options.status_code == 200
    assert_envelope(await tenant.get(path, **pk), 404, "cart_not_found")  # neither secret nor token


async def test_forged_expired_and_other_carts_tokens_are_refused(tenant: Tenant) -> None:
    cart, _, token = await _abandoned_with_token(tenant)
    other = await filled_cart(tenant)
    pk = {"key": tenant.publishable_key}
    body, _, mac = token.partition(".")
    forged = f"{body}.{'A' if mac[0] != 'A' else 'B'}{mac[1:]}"
    settings = tenant.backend.runtime.settings
    now = tenant.backend.clock.now()
    from datetime import timedelta
    wrong_key = sign_token("not-the-key", "cart_recovery", {"app": tenant.app_id, "cart": cart["id"]},
                           now + timedelta(days=1))
    other_purpose = sign_token(settings.signing_key, "embed", {"app": tenant.app_id, "cart": cart["id"]},
                               now + timedelta(days=1))
    other_app = sign_token(settings.signing_key, "cart_recovery", {"app": "app_other", "cart": cart["id"]},
                           now + timedelta(days=1))
    for bad in (forged, wrong_key, other_purpose, other_app, "garbage", "a.b"):
        assert_envelope(await tenant.get(f"/api/v1/carts/{cart['id']}", headers={"X-Cart-Secret": bad}, **pk),
                        404, "cart_not_found")
    # A token opens its own cart only.
    assert_envelope(await tenant.get(f"/api/v1/carts/{other['id']}", headers={"X-Cart-Secret": token}, **pk),
                    404, "cart_not_found")
    assert_envelope(await tenant.patch(f"/api/v1/carts/{other['id']}", {"metadata": {"x": 1}},
                                       headers={"X-Cart-Secret": token}, **pk), 404, "cart_not_found")
    # Another application's publishable key never reaches the cart.
    stranger = await make_tenant(tenant.backend)
    assert_envelope(await stranger.get(f"/api/v1/carts/{cart['id']}", headers={"X-Cart-Secret": token},
                                       key=stranger.publishable_key), 404, "cart_not_found")
    # Expired: seven days after the abandonment the link stops opening the cart.
    tenant.backend.clock.advance(days=7, minutes=1)
    assert_envelope(await tenant.get(f"/api/v1/carts/{cart['id']}", headers={"X-Cart-Secret": token}, **pk),
                    404, "cart_not_found")


# ---------------------------------------------------------------- recovered carts


async def test_a_cart_converted_after_abandonment_is_recovered(tenant: Tenant) -> None:
    cart = await filled_cart(tenant, customerEmail="cy@example.com")
    tenant.backend.clock.advance(minutes=DAY + 1)
    assert await sweep_for(tenant) == 1
    never = await filled_cart(tenant)  # converted before it was ever abandoned
    # The checkout service converts the cart through the internal checkout link.
    service = _service(tenant)
    link = module_of(tenant.backend.runtime).checkout
    converted = await link.convert(service, cart["id"], ConvertCart(session_id="cs_test", order_id="ord_1"))
    assert converted.status == "converted"
    await link.convert(service, cart["id"], ConvertCart(session_id="cs_test", order_id="ord_1"))  # a retry
    await link.convert(service, never["id"], ConvertCart(session_id="cs_other", order_id="ord_2"))
    [recovered] = await events_of(tenant, "cart.recovered")
    data = recovered["data"]
    assert data["cartId"] == cart["id"] and data["orderId"] == "ord_1" and data["total"] == 5000
    assert data["currency"] == "EUR" and data["abandonedAt"] and data["recoveredAt"]
    assert data["sequence"] == (await _cart_row(tenant, cart["id"])).version
    [row] = await abandonment_rows(tenant, cart["id"])
    assert row.recovery_status == "recovered" and row.order_id == "ord_1" and row.recovered_total == 5000
    # mark_recovered itself: idempotent, and False for a cart never abandoned.
    async with transaction(tenant.backend.runtime.db) as conn:
        again = await mark_recovered(conn, app_id=tenant.app_id, cart_id=cart["id"],
                                     now=tenant.backend.clock.now(), order_id="ord_1", sequence=99)
        never_abandoned = await mark_recovered(conn, app_id=tenant.app_id, cart_id=never["id"],
                                               now=tenant.backend.clock.now(), order_id="ord_2", sequence=99)
    assert (again, never_abandoned) == (False, False)
    summary = (await tenant.get("/api/v1/abandoned-carts/summary")).json()
    assert summary["recoveredCount"] == 1 and summary["recoveredValue"] == [{"currency": "EUR", "amount": 5000}]


async def test_recovery_after_reactivation_marks_the_latest_abandonment(tenant: Tenant) -> None:
    cart = await filled_cart(tenant)
    tenant.backend.clock.advance(minutes=DAY + 1)
    await sweep_for(tenant)
    await tenant.patch(f"/api/v1/carts/{cart['id']}", {"metadata": {"back": True}})
    tenant.backend.clock.advance(minutes=DAY + 1)
    await sweep_for(tenant)
    await tenant.patch(f"/api/v1/carts/{cart['id']}", {"metadata": {"back": 2}})
    async with transaction(tenant.backend.runtime.db) as conn:
        assert await mark_recovered(conn, app_id=tenant.app_id, cart_id=cart["id"], now=tenant.backend.clock.now(),
                                    order_id=None, sequence=50)
    first, second = await abandonment_rows(tenant, cart["id"])
    assert (first.recovery_status, second.recovery_status) == ("not_contacted", "recovered")


# ---------------------------------------------------------------- list and summary


async def test_list_pages_and_filters(tenant: Tenant) -> None:
    first = await filled_cart(tenant, customerEmail="one@example.com")
    tenant.backend.clock.advance(minutes=DAY + 1)
    await sweep_for(tenant)
    middle = tenant.backend.clock.now()
    second, third = await filled_cart(tenant), await filled_cart(tenant)
    tenant.backend.clock.advance(minutes=DAY + 1)
    await sweep_for(tenant)
    async with transaction(tenant.backend.runtime.db) as conn:
        await mark_recovered(conn, app_id=tenant.app_id, cart_id=third["id"], now=tenant.backend.clock.now(),
                             order_id="ord_3", sequence=10)

    page = (await tenant.get("/api/v1/abandoned-carts", params={"limit": 2})).json()
    assert len(page["data"]) == 2 and page["nextCursor"]
    rest = (await tenant.get("/api/v1/abandoned-carts", params={"limit": 2, "cursor": page["nextCursor"]})).json()
    assert rest["nextCursor"] is None
    listed = page["data"] + rest["data"]
    assert [r["cartId"] for r in listed][-1] == first["id"]  # newest first
    assert {r["cartId"] for r in listed} == {first["id"], second["id"], third["id"]}
    one = next(r for r in listed if r["cartId"] == first["id"])
    assert one["customer"] == {"id": None, "email": "one@example.com", "firstName": None, "lastName": None,
                               "locale": None, "marketingConsent": None}
    assert one["total"] == 5000 and one["currency"] == "EUR" and one["itemCount"] == 2
    assert one["recoveryStatus"] == "not_contacted" and one["abandonedAt"]

    def ids(response) -> set[str]:  # type: ignore[no-untyped-def]
        assert response.status_code == 200, response.text
        return {r["cartId"] for r in response.json()["data"]}

    assert ids(await tenant.get("/api/v1/abandoned-carts", params={"to": middle.isoformat()})) == {first["id"]}
    assert ids(await tenant.get("/api/v1/abandoned-carts", params={"from": middle.isoformat()})) == {
        second["id"], third["id"]}
    assert ids(await tenant.get("/api/v1/abandoned-carts", params={"recoveryStatus": "recovered"})) == {third["id"]}
    assert ids(await tenant.get("/api/v1/abandoned-carts", params={"recoveryStatus": "contacted"})) == set()

    assert_envelope(await tenant.get("/api/v1/abandoned-carts", params={"recoveryStatus": "lost"}), 400,
                    "validation_error", "recoveryStatus")
    assert_envelope(await tenant.get("/api/v1/abandoned-carts", params={"from": "yesterday"}), 400,
                    "validation_error", "from")
    assert_envelope(await tenant.get("/api/v1/abandoned-carts", params={"cursor": "%%%"}), 400,
                    "validation_error", "cursor")
    assert_envelope(await tenant.get("/api/v1/abandoned-carts", params={"limit": 0}), 400, "validation_error",
                    "limit")
    assert_envelope(await tenant.get("/api/v1/abandoned-carts", params={
        "from": middle.isoformat(), "to": (middle.replace(year=middle.year - 1)).isoformat()}), 400,
        "validation_error", "from")


async def test_summary_over_a_trailing_window(tenant: Tenant) -> None:
    await filled_cart(tenant)
    tenant.backend.clock.advance(minutes=DAY + 1)
    await sweep_for(tenant)  # abandoned now; 10 days later it falls out of a 7-day window
    tenant.backend.clock.advance(days=10)
    await filled_cart(tenant)
    await filled_cart(tenant, currency="USD")
    tenant.backend.clock.advance(minutes=DAY + 1)
    await sweep_for(tenant)
    summary = (await tenant.get("/api/v1/abandoned-carts/summary", params={"windowDays": 7})).json()
    assert summary["windowDays"] == 7
    assert summary["abandonedCount"] == 2
    assert summary["abandonedValue"] == [{"currency": "EUR", "amount": 5000}, {"currency": "USD", "amount": 5400}]
    assert summary["recoveryEmailsSent"] == 0 and summary["recoveredCount"] == 0 and summary["recoveredValue"] == []
    default = (await tenant.get("/api/v1/abandoned-carts/summary")).json()
    assert default["windowDays"] == 30 and default["abandonedCount"] == 3
    assert default["abandonedValue"] == [{"currency": "EUR", "amount": 10000}, {"currency": "USD", "amount": 5400}]
    for bad in (0, 366, "abc"):
        assert_envelope(await tenant.get("/api/v1/abandoned-carts/summary", params={"windowDays": bad}), 400,
                        "validation_error", "windowDays")


@pytest.mark.parametrize("path", ["/api/v1/abandoned-carts", "/api/v1/abandoned-carts/summary"])
async def test_reads_need_carts_read_and_a_secret_key(tenant: Tenant, path: str) -> None:
    assert (await tenant.get(path, key=await tenant.scoped_key(["carts:read"]))).status_code == 200
    assert_envelope(await tenant.get(path, key=await tenant.scoped_key(["settings:read"])), 403, "forbidden")
    assert_envelope(await tenant.get(path, key=tenant.publishable_key), 403, "forbidden")


async def test_the_internal_contact_route_answers_services_only(tenant: Tenant) -> None:
    body = {"deliveries": []}
    assert_envelope(await tenant.post("/internal/carts/abandonment-contacted", body), 404, "route_not_found")
    settings = tenant.backend.runtime.settings
    ok = await tenant.backend.client.post("/internal/carts/abandonment-contacted", json=body, headers={
        "Authorization": f"Service {settings.service_token}", "X-Kassa-Application": tenant.app_id})
    assert ok.status_code == 200 and ok.json() == {"updated": 0}
