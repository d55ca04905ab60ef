"""Redemptions through the cart service: listing, export, cancel by order, release on an emptied cart, expiry."""

from __future__ import annotations

from datetime import timedelta

from kassa_platform.db import transaction
from kassa_promotions.store.redemptions import RedemptionStore, ReservationRequest

from tests.conftest import Tenant
from tests.support.campaigns import campaign, code
from tests.support.envelopes import assert_envelope


async def _reserve(tenant: Tenant, cart: dict, ttl_minutes: int = 30) -> None:
    """What checkout does when it locks the cart (the checkout service comes with its own issue)."""
    store = RedemptionStore()
    requests = [ReservationRequest(campaign_id=d["campaignId"], amount=d["amount"], code=d["code"],
                                   code_id=(await tenant.get(f"/api/v1/codes/{d['code']}")).json()["id"] if d["code"] else None)
                for d in cart["discounts"] if d["applied"]]
    async with transaction(tenant.backend.runtime.db) as conn:
        result = await store.reserve(conn, app_id=tenant.app_id, cart_id=cart["id"], customer=None, currency="EUR",
                                     requests=requests, now=tenant.backend.clock.now(), ttl=timedelta(minutes=ttl_minutes))
    assert result.all_granted


async def _setup(tenant: Tenant) -> tuple[dict, dict]:
    camp = await campaign(tenant, reward={"type": "fixed_off", "amounts": {"EUR": 500}}, usageLimit=10, budget=5000)
    await code(tenant, camp["id"], code="FIVER")
    variant = await tenant.variant({"EUR": 3000})
    cart = await tenant.cart(lineItems=[{"variantId": variant}], discountCodes=["FIVER"])
    return camp, cart


async def test_confirm_list_export_and_cancel_by_order(tenant: Tenant) -> None:
    camp, cart = await _setup(tenant)
    await _reserve(tenant, cart)
    stats = (await tenant.get(f"/api/v1/campaigns/{camp['id']}/stats")).json()
    assert stats["reservedUses"] == 1 and stats["discountReserved"] == 500 and stats["budgetLeft"] == 4500
    async with transaction(tenant.backend.runtime.db) as conn:
        await RedemptionStore().confirm(conn, app_id=tenant.app_id, cart_id=cart["id"], order_id="ord_test_1",
                                        now=tenant.backend.clock.now())
    page = (await tenant.get("/api/v1/redemptions", params={"campaignId": camp["id"]})).json()
    assert [(r["status"], r["orderId"], r["amount"], r["code"]) for r in page["data"]] == [("confirmed", "ord_test_1", 500, "FIVER")]
    assert (await tenant.get("/api/v1/redemptions", params={"status": "released"})).json()["data"] == []
    export = await tenant.get("/api/v1/redemptions/export", params={"campaignId": camp["id"]})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    lines = export.text.strip().splitlines()
    assert lines[0].startswith("id,campaignId,code") and len(lines) == 2 and ",ord_test_1," in lines[1]
    cancelled = (await tenant.post("/api/v1/redemptions/cancel", {"orderId": "ord_test_1"})).json()["data"]
    assert [r["status"] for r in cancelled] == ["cancelled"]
    stats = (await tenant.get(f"/api/v1/campaigns/{camp['id']}/stats")).json()
    assert stats["uses"] == 0 and stats["discountGranted"] == 0 and stats["budgetLeft"] == 5000
    again = (await tenant.post("/api/v1/redemptions/cancel", {"orderId": "ord_test_1"})).json()["data"]
    assert [r["status"] for r in again] == ["cancelled"]  # idempotent
    assert_envelope(await tenant.post("/api/v1/redemptions/cancel", {}), 422, "validation_error", "orderId")


async def test_emptying_the_cart_releases_its_reservations(tenant: Tenant) -> None:
    camp, cart = await _setup(tenant)
    await _reserve(tenant, cart)
    await tenant.delete(f"/api/v1/carts/{cart['id']}/line-items/{cart['lineItems'][0]['id']}")
    stats = (await tenant.get(f"/api/v1/campaigns/{camp['id']}/stats")).json()
    assert stats["reservedUses"] == 0 and stats["discountReserved"] == 0
    rows = (await tenant.get("/api/v1/redemptions", params={"campaignId": camp["id"]})).json()["data"]
    assert [(r["status"], r["reason"]) for r in rows] == [("released", "cart_emptied")]


async def test_reservations_expire_through_the_cron_job(tenant: Tenant) -> None:
    camp, cart = await _setup(tenant)
    await _reserve(tenant, cart, ttl_minutes=15)
    backend = tenant.backend
    backend.clock.advance(minutes=16)
    assert backend.runtime.runner is not None
    assert await backend.runtime.runner.run_cron("expire_redemptions") >= 1
    stats = (await tenant.get(f"/api/v1/campaigns/{camp['id']}/stats")).json()
    assert stats["reservedUses"] == 0 and stats["budgetLeft"] == 5000


async def test_per_customer_limit_counts_the_customers_redemptions(tenant: Tenant) -> None:
    camp = await campaign(tenant, reward={"type": "fixed_off", "amounts": {"EUR": 500}}, rules={"perCustomerLimit": 1})
    await code(tenant, camp["id"], code="ONCE")
    variant = await tenant.variant({"EUR": 3000})
    first = await tenant.cart(lineItems=[{"variantId": variant}], discountCodes=["ONCE"], customerEmail="Ana@Example.com")
    store = RedemptionStore()
    code_id = (await tenant.get("/api/v1/codes/ONCE")).json()["id"]
    async with transaction(tenant.backend.runtime.db) as conn:
        await store.reserve(conn, app_id=tenant.app_id, cart_id=first["id"], customer="ana@example.com", currency="EUR",
                            requests=[ReservationRequest(campaign_id=camp["id"], amount=500, code="ONCE", code_id=code_id)],
                            now=tenant.backend.clock.now(), ttl=timedelta(minutes=30))
    second = await tenant.cart(lineItems=[{"variantId": variant}], customerEmail="ana@example.com")
    refused = await tenant.post(f"/api/v1/carts/{second['id']}/discount-codes", {"code": "ONCE"})
    assert assert_envelope(refused, 422, "discount_invalid")["details"]["reason"] == "customer_limit_reached"
    other = await tenant.cart(lineItems=[{"variantId": variant}], customerEmail="bo@example.com")
    assert (await tenant.post(f"/api/v1/carts/{other['id']}/discount-codes", {"code": "ONCE"})).status_code == 200
