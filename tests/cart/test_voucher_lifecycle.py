"""The voucher lifecycle (issue 24, points 3 and 4): code statuses as read, refusals recorded as
`rejected` redemptions, campaign archive/delete, groups, list filters and sorts, promotion settings,
codes' externalId/metadata and bulk assignment."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from kassa_platform.db import transaction
from kassa_promotions.store.redemptions import RedemptionStore, ReservationRequest

from tests.conftest import Tenant
from tests.support.campaigns import campaign, code
from tests.support.envelopes import assert_envelope

FIVER = {"type": "fixed_off", "amounts": {"EUR": 500}}


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


async def _hold(tenant: Tenant, camp: dict, text: str, *, ttl_minutes: int = 30, cart_id: str = "cart_x1") -> None:
    """A reservation as the checkout saga (or any other caller) makes it."""
    code_id = (await tenant.get(f"/api/v1/codes/{text}")).json()["id"]
    async with transaction(tenant.backend.runtime.db) as conn:
        result = await RedemptionStore().reserve(
            conn, app_id=tenant.app_id, cart_id=cart_id, customer=None, currency="EUR",
            requests=[ReservationRequest(campaign_id=camp["id"], amount=500, code=text, code_id=code_id)],
            now=tenant.backend.clock.now(), ttl=timedelta(minutes=ttl_minutes))
    assert result.all_granted


async def _statuses(tenant: Tenant, camp: dict, status: str) -> list[str]:
    response = await tenant.get(f"/api/v1/campaigns/{camp['id']}/codes", params={"status": status})
    assert response.status_code == 200, response.text
    return sorted(c["code"] for c in response.json()["data"])


async def _rejected(tenant: Tenant) -> list[dict]:
    return (await tenant.get("/api/v1/redemptions", params={"status": "rejected"})).json()["data"]


# ---------------------------------------------------------------- code statuses


async def test_expired_is_true_on_read_and_in_lists_without_a_job(tenant: Tenant) -> None:
    now = tenant.backend.clock.now()
    camp = await campaign(tenant, reward=FIVER)
    made = await code(tenant, camp["id"], code="SHORT-1", expiresAt=_iso(now + timedelta(hours=1)))
    assert made["codes"][0]["expiresAt"] is not None
    await code(tenant, camp["id"], code="LONG-1")
    assert (await tenant.get("/api/v1/codes/SHORT-1")).json()["status"] == "active"
    tenant.backend.clock.advance(minutes=61)
    assert (await tenant.get("/api/v1/codes/SHORT-1")).json()["status"] == "expired"
    assert await _statuses(tenant, camp, "expired") == ["SHORT-1"]
    assert await _statuses(tenant, camp, "active") == ["LONG-1"]
    refused = (await tenant.post("/api/v1/vouchers/validate", {"code": "short-1", "currency": "EUR",
                                                               "lineItems": [{"unitPrice": 3000}]})).json()
    assert refused["valid"] is False and refused["reason"] == "expired"
    # An expired code cannot be given out, but can still be switched off.
    assert_envelope(await tenant.post("/api/v1/codes/SHORT-1/distribute"), 409, "code_not_usable")
    assert (await tenant.post("/api/v1/codes/SHORT-1/deactivate")).json()["status"] == "deactivated"


async def test_a_campaigns_end_expires_its_codes_after_the_grace_period(tenant: Tenant) -> None:
    now = tenant.backend.clock.now()
    camp = await campaign(tenant, reward=FIVER, endsAt=_iso(now + timedelta(hours=1)), redemptionGraceHours=2)
    await code(tenant, camp["id"], code="GRACE-1")
    tenant.backend.clock.advance(minutes=90)
    assert (await tenant.get(f"/api/v1/campaigns/{camp['id']}")).json()["status"] == "expired"
    assert (await tenant.get("/api/v1/codes/GRACE-1")).json()["status"] == "active"  # redeemable in the grace period
    tenant.backend.clock.advance(minutes=120)
    assert (await tenant.get("/api/v1/codes/GRACE-1")).json()["status"] == "expired"
    assert await _statuses(tenant, camp, "expired") == ["GRACE-1"]
    assert await _statuses(tenant, camp, "active,created") == []


async def test_reserved_follows_live_holds_and_redeemed_codes_cannot_be_deactivated(tenant: Tenant) -> None:
    camp = await campaign(tenant, reward=FIVER)
    await tenant.post(f"/api/v1/campaigns/{camp['id']}/codes/import", {"codes": ["ONE-A", "ONE-B"]})
    await _hold(tenant, camp, "ONE-A", ttl_minutes=10)
    assert (await tenant.get("/api/v1/codes/ONE-A")).json()["status"] == "reserved"
    assert await _statuses(tenant, camp, "reserved") == ["ONE-A"]
    assert await _statuses(tenant, camp, "created") == ["ONE-B"]
    tenant.backend.clock.advance(minutes=11)  # the hold lapsed; no expiry job ran
    assert (await tenant.get("/api/v1/codes/ONE-A")).json()["status"] == "active"
    assert await _statuses(tenant, camp, "reserved") == []
    assert await _statuses(tenant, camp, "active") == ["ONE-A"]

    await _hold(tenant, camp, "ONE-B", cart_id="cart_x2")
    async with transaction(tenant.backend.runtime.db) as conn:
        await RedemptionStore().confirm(conn, app_id=tenant.app_id, cart_id="cart_x2", order_id="ord_x2",
                                        now=tenant.backend.clock.now())
    assert (await tenant.get("/api/v1/codes/ONE-B")).json()["status"] == "redeemed"
    assert await _statuses(tenant, camp, "redeemed") == ["ONE-B"]
    assert_envelope(await tenant.post("/api/v1/codes/ONE-B/deactivate"), 409, "code_redeemed")
    assert (await tenant.get("/api/v1/codes/ONE-B")).json()["status"] == "redeemed"


async def test_unknown_code_status_filter_is_a_validation_error(tenant: Tenant) -> None:
    camp = await campaign(tenant, reward=FIVER)
    bad = await tenant.get(f"/api/v1/campaigns/{camp['id']}/codes", params={"status": "active,bogus"})
    assert_envelope(bad, 400, "validation_error", "status")


# ---------------------------------------------------------------- refusals


async def test_refusals_at_validate_and_apply_are_recorded_as_rejected_redemptions(tenant: Tenant) -> None:
    camp = await campaign(tenant, reward=FIVER, rules={"minSubtotal": {"EUR": 5000}})
    await code(tenant, camp["id"], code="BIG-ONLY")
    body = {"code": "BIG-ONLY", "currency": "EUR", "lineItems": [{"unitPrice": 1000}], "customerEmail": "ana@example.com"}
    assert (await tenant.post("/api/v1/vouchers/validate", body)).json()["valid"] is False
    assert (await tenant.post("/api/v1/vouchers/validate", body)).json()["valid"] is False  # within the minute
    assert (await tenant.post("/api/v1/vouchers/validate", {**body, "code": "NO-SUCH"})).json()["valid"] is False
    rows = await _rejected(tenant)
    assert len(rows) == 1, rows
    assert rows[0]["reason"] == "minimum_not_met" and rows[0]["campaignId"] == camp["id"]
    assert rows[0]["code"] == "BIG-ONLY" and rows[0]["customer"] == "ana@example.com" and rows[0]["cartId"] is None

    variant = await tenant.variant({"EUR": 1000})
    cart = await tenant.cart(lineItems=[{"variantId": variant}])
    refused = await tenant.post(f"/api/v1/carts/{cart['id']}/discount-codes", {"code": "big-only"})
    assert assert_envelope(refused, 422, "discount_invalid")["details"]["reason"] == "minimum_not_met"
    rows = await _rejected(tenant)
    assert [r["cartId"] for r in rows] == [None, cart["id"]] and rows[1]["currency"] == "EUR"
    # A rejected row is no use: the campaign's counters did not move.
    stats = (await tenant.get(f"/api/v1/campaigns/{camp['id']}/stats")).json()
    assert stats["uses"] == 0 and stats["reservedUses"] == 0

    # Refused when a cart is created with it: recorded without a cart (none was made), a minute on.
    tenant.backend.clock.advance(minutes=2)
    made = await tenant.post("/api/v1/carts", {"currency": "EUR", "lineItems": [{"variantId": variant}],
                                               "discountCodes": ["BIG-ONLY"], "customerEmail": "cy@example.com"})
    assert assert_envelope(made, 422, "discount_invalid")["details"]["reason"] == "minimum_not_met"
    rows = await _rejected(tenant)
    assert len(rows) == 3 and rows[2]["cartId"] is None and rows[2]["customer"] == "cy@example.com"

    tenant.backend.clock.advance(minutes=2)
    await tenant.post("/api/v1/vouchers/validate", body)
    assert len(await _rejected(tenant)) == 4
    # Retention: refusals older than the setting (30 days) go (this application's, as the job does for all).
    tenant.backend.clock.advance(minutes=31 * 24 * 60)
    retention = timedelta(days=tenant.backend.runtime.settings.promotions_rejected_retention_days)
    async with transaction(tenant.backend.runtime.db) as conn:
        purged = await RedemptionStore().purge_rejected(conn, before=tenant.backend.clock.now() - retention,
                                                        app_id=tenant.app_id, limit=2)
    assert purged == 4 and await _rejected(tenant) == []


# ---------------------------------------------------------------- campaigns: archive, delete


async def test_archive_hides_and_switches_off_unarchive_leaves_it_off(tenant: Tenant) -> None:
    camp = await campaign(tenant, reward=FIVER)
    other = await campaign(tenant, reward=FIVER, name="Other")
    await code(tenant, camp["id"], code="ARCH-1")
    archived = (await tenant.post(f"/api/v1/campaigns/{camp['id']}/archive")).json()
    assert archived["archived"] is True and archived["active"] is False and archived["archivedAt"]
    assert [c["id"] for c in (await tenant.get("/api/v1/campaigns")).json()["data"]] == [other["id"]]
    assert [c["id"] for c in (await tenant.get("/api/v1/campaigns", params={"archived": "true"})).json()["data"]] == [
        camp["id"]]
    validated = (await tenant.post("/api/v1/vouchers/validate", {"code": "ARCH-1", "currency": "EUR",
                                                                 "lineItems": [{"unitPrice": 3000}]})).json()
    assert validated["valid"] is False and validated["reason"] == "code_inactive"
    assert_envelope(await tenant.post(f"/api/v1/campaigns/{camp['id']}/activate"), 409, "campaign_archived")
    back = (await tenant.post(f"/api/v1/campaigns/{camp['id']}/unarchive")).json()
    assert back["archived"] is False and back["active"] is False and back["status"] == "inactive"
    assert (await tenant.post(f"/api/v1/campaigns/{camp['id']}/activate")).json()["active"] is True


async def test_delete_only_without_redemptions(tenant: Tenant) -> None:
    camp = await campaign(tenant, reward=FIVER, rules={"minSubtotal": {"EUR": 5000}})
    await code(tenant, camp["id"], code="GONE-1")
    await tenant.post("/api/v1/vouchers/validate", {"code": "GONE-1", "currency": "EUR",
                                                    "lineItems": [{"unitPrice": 100}]})
    assert len(await _rejected(tenant)) == 1  # refusals do not keep a campaign alive
    assert (await tenant.delete(f"/api/v1/campaigns/{camp['id']}")).status_code == 204
    assert_envelope(await tenant.get(f"/api/v1/campaigns/{camp['id']}"), 404, "campaign_not_found")
    assert_envelope(await tenant.get("/api/v1/codes/GONE-1"), 404, "code_not_found")
    assert await _rejected(tenant) == []

    used = await campaign(tenant, reward=FIVER)
    await code(tenant, used["id"], code="KEPT-1")
    await _hold(tenant, used, "KEPT-1")
    assert_envelope(await tenant.delete(f"/api/v1/campaigns/{used['id']}"), 409, "campaign_has_redemptions")
    assert (await tenant.get("/api/v1/codes/KEPT-1")).status_code == 200
    assert_envelope(await tenant.delete("/api/v1/campaigns/camp_nope"), 404, "campaign_not_found")


# ---------------------------------------------------------------- groups


async def test_campaign_groups_crud_and_membership(tenant: Tenant) -> None:
    made = [(await tenant.post("/api/v1/campaign-groups", {"name": f"Season {i}", "metadata": {"n": i}})).json()
            for i in range(3)]
    assert all(g["id"].startswith("cgrp_") and g["campaigns"] == 0 for g in made)
    first = await tenant.get("/api/v1/campaign-groups", params={"limit": 2})
    second = await tenant.get("/api/v1/campaign-groups", params={"limit": 2, "cursor": first.json()["nextCursor"]})
    assert [g["id"] for g in first.json()["data"] + second.json()["data"]] == [g["id"] for g in reversed(made)]
    assert second.json()["nextCursor"] is None

    group = made[0]
    inside = await campaign(tenant, reward=FIVER, groupId=group["id"])
    outside = await campaign(tenant, reward=FIVER)
    assert inside["groupId"] == group["id"] and outside["groupId"] is None
    assert (await tenant.get(f"/api/v1/campaign-groups/{group['id']}")).json()["campaigns"] == 1
    listed = (await tenant.get("/api/v1/campaigns", params={"group": group["id"]})).json()["data"]
    assert [c["id"] for c in listed] == [inside["id"]]
    # At most one group: moving it is a PATCH; null takes it out.
    moved = (await tenant.patch(f"/api/v1/campaigns/{inside['id']}", {"groupId": made[1]["id"]})).json()
    assert moved["groupId"] == made[1]["id"]
    assert (await tenant.get(f"/api/v1/campaign-groups/{group['id']}")).json()["campaigns"] == 0
    assert_envelope(await tenant.patch(f"/api/v1/campaigns/{inside['id']}", {"groupId": "cgrp_nope"}), 404,
                    "campaign_group_not_found", "groupId")
    assert_envelope(await tenant.post("/api/v1/campaigns", {"name": "x", "reward": FIVER, "groupId": "cgrp_nope"}),
                    404, "campaign_group_not_found", "groupId")

    renamed = (await tenant.patch(f"/api/v1/campaign-groups/{made[1]['id']}", {"name": "Winter"})).json()
    assert renamed["name"] == "Winter" and renamed["metadata"] == {"n": 1} and renamed["campaigns"] == 1
    assert (await tenant.delete(f"/api/v1/campaign-groups/{made[1]['id']}")).status_code == 204
    assert (await tenant.get(f"/api/v1/campaigns/{inside['id']}")).json()["groupId"] is None
    assert_envelope(await tenant.get(f"/api/v1/campaign-groups/{made[1]['id']}"), 404, "campaign_group_not_found")
    assert_envelope(await tenant.post("/api/v1/campaign-groups", {"name": ""}), 422, "validation_error", "name")
    assert_envelope(await tenant.post("/api/v1/campaign-groups", {"name": "x", "colour": "red"}), 422,
                    "validation_error", "colour")


# ---------------------------------------------------------------- list filters and sorts


async def _ids(tenant: Tenant, **params: Any) -> list[str]:
    out, cursor = [], None
    while True:
        response = await tenant.get("/api/v1/campaigns", params={**params, "limit": 2,
                                                                  **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        out += [c["id"] for c in response.json()["data"]]
        cursor = response.json()["nextCursor"]
        if not cursor:
            return out


async def test_campaign_list_filters(tenant: Tenant) -> None:
    clock = tenant.backend.clock
    now = clock.now()
    promo = await campaign(tenant, name="Summer auto", trigger="automatic",
                           reward={"type": "percent_off", "percent": 5})
    clock.advance(minutes=1)
    codes = await campaign(tenant, name="Summer codes", reward=FIVER)
    await code(tenant, codes["id"], code="FINDME-42")
    clock.advance(minutes=1)
    gift = await campaign(tenant, name="Gift cards", reward={"type": "gift_card"}, currency="EUR")
    clock.advance(minutes=1)
    later = await campaign(tenant, name="Later", reward=FIVER, startsAt=_iso(clock.now() + timedelta(days=1)))
    ending = await campaign(tenant, name="Ending", reward=FIVER, endsAt=_iso(clock.now() + timedelta(minutes=30)))
    off = await campaign(tenant, name="Off", reward=FIVER, active=False)
    clock.advance(minutes=31)
    assert [promo["type"], codes["type"], gift["type"]] == ["promotion", "discount_codes", "gift_cards"]

    assert await _ids(tenant, type="gift_cards") == [gift["id"]]
    assert await _ids(tenant, type="promotion") == [promo["id"]]
    assert await _ids(tenant, status="scheduled") == [later["id"]]
    assert await _ids(tenant, status="expired") == [ending["id"]]
    assert await _ids(tenant, status="inactive") == [off["id"]]
    assert await _ids(tenant, status="active") == [promo["id"], codes["id"], gift["id"]]
    assert await _ids(tenant, active="false") == [off["id"]]
    assert await _ids(tenant, q="summer") == [promo["id"], codes["id"]]
    assert await _ids(tenant, q="findme-42") == [codes["id"]]  # a code's text finds its campaign
    assert await _ids(tenant, q="100%_") == []  # LIKE wildcards are text
    assert await _ids(tenant, createdFrom=_iso(now + timedelta(minutes=1)),
                      createdTo=_iso(now + timedelta(minutes=2))) == [codes["id"]]
    clock.advance(minutes=1)
    mark = clock.now()
    await tenant.patch(f"/api/v1/campaigns/{codes['id']}", {"name": "Summer codes!"})
    assert await _ids(tenant, updatedFrom=_iso(mark)) == [codes["id"]]
    assert codes["id"] not in await _ids(tenant, updatedTo=_iso(mark))

    for param, value in (("type", "coupon"), ("status", "running"), ("sort", "name"), ("createdFrom", "yesterday"),
                         ("updatedTo", "2026-13-01")):
        assert_envelope(await tenant.get("/api/v1/campaigns", params={param: value}), 400, "validation_error", param)
    assert_envelope(await tenant.get("/api/v1/campaigns", params={"active": "maybe"}), 400, "validation_error")


async def test_campaign_sorts_page_correctly_in_both_directions(tenant: Tenant) -> None:
    clock = tenant.backend.clock
    made = []
    for i in range(5):
        made.append((await campaign(tenant, name=f"C{i}", reward=FIVER))["id"])
    for cid in (made[3], made[0], made[4]):  # updated in another order than created
        clock.advance(minutes=1)
        await tenant.patch(f"/api/v1/campaigns/{cid}", {"priority": 1})
    assert await _ids(tenant) == made
    assert await _ids(tenant, sort="createdAt") == made
    assert await _ids(tenant, sort="-createdAt") == made[::-1]
    by_update = [made[1], made[2], made[3], made[0], made[4]]
    assert await _ids(tenant, sort="updatedAt") == by_update
    assert await _ids(tenant, sort="-updatedAt") == by_update[::-1]
    page = (await tenant.get("/api/v1/campaigns", params={"limit": 2, "sort": "updatedAt"})).json()
    assert page["nextCursor"]
    other_sort = await tenant.get("/api/v1/campaigns", params={"limit": 2, "sort": "-updatedAt",
                                                               "cursor": page["nextCursor"]})
    assert_envelope(other_sort, 400, "validation_error", "cursor")
    assert_envelope(await tenant.get("/api/v1/campaigns", params={"cursor": "bm90LWEtY3Vyc29y"}), 400,
                    "validation_error", "cursor")


# ---------------------------------------------------------------- settings


async def test_allow_multiple_percentage_basket_per_application(tenant: Tenant) -> None:
    assert (await tenant.get("/api/v1/promotion-settings")).json() == {"allowMultiplePercentageBasket": False}
    for text in ("TENOFF", "FIVEOFF"):
        camp = await campaign(tenant, name=text, reward={"type": "percent_off", "percent": 10 if text == "TENOFF" else 5})
        await code(tenant, camp["id"], code=text)
    variant = await tenant.variant({"EUR": 10000})
    cart = await tenant.cart(lineItems=[{"variantId": variant}])
    assert (await tenant.post(f"/api/v1/carts/{cart['id']}/discount-codes", {"code": "TENOFF"})).status_code == 200
    refused = await tenant.post(f"/api/v1/carts/{cart['id']}/discount-codes", {"code": "FIVEOFF"})
    assert assert_envelope(refused, 422, "discount_invalid")["details"]["reason"] == "percentage_already_applied"

    updated = await tenant.put("/api/v1/promotion-settings", {"allowMultiplePercentageBasket": True})
    assert updated.status_code == 200 and updated.json() == {"allowMultiplePercentageBasket": True}
    applied = await tenant.post(f"/api/v1/carts/{cart['id']}/discount-codes", {"code": "FIVEOFF"})
    assert applied.status_code == 200, applied.text
    assert applied.json()["discountTotal"] == 1000 + 450  # 5 % of what the 10 % left
    assert_envelope(await tenant.put("/api/v1/promotion-settings", {"allowMultiplePercentageBasket": "yes"}), 422,
                    "validation_error", "allowMultiplePercentageBasket")


# ---------------------------------------------------------------- codes: externalId, metadata, bulk assignment


async def test_codes_carry_external_id_and_metadata(tenant: Tenant) -> None:
    camp = await campaign(tenant, reward=FIVER)
    made = (await code(tenant, camp["id"], code="EXT-1", externalId="crm-77", metadata={"source": "crm"}))["codes"][0]
    assert made["externalId"] == "crm-77" and made["metadata"] == {"source": "crm"}
    patched = (await tenant.patch("/api/v1/codes/ext-1", {"metadata": {"source": "pos"}, "externalId": None})).json()
    assert patched["metadata"] == {"source": "pos"} and patched["externalId"] is None
    assert (await tenant.get("/api/v1/codes/EXT-1")).json()["metadata"] == {"source": "pos"}
    assert_envelope(await tenant.post(f"/api/v1/campaigns/{camp['id']}/codes", {"count": 2, "externalId": "x"}), 422,
                    "validation_error", "externalId")
    too_big = {f"k{i}": i for i in range(60)}
    assert_envelope(await tenant.patch("/api/v1/codes/EXT-1", {"metadata": too_big}), 422, "metadata_too_large")
    assert_envelope(await tenant.patch("/api/v1/codes/EXT-1", {"colour": "red"}), 422, "validation_error", "colour")


async def test_assign_many_codes_all_or_nothing(tenant: Tenant) -> None:
    camp = await campaign(tenant, reward=FIVER)
    await tenant.post(f"/api/v1/campaigns/{camp['id']}/codes/import", {"codes": ["AS-1", "AS-2", "AS-3"]})
    as3 = (await tenant.get("/api/v1/codes/AS-3")).json()["id"]
    done = await tenant.post("/api/v1/codes/assign", {"assignments": [
        {"code": "as-1", "customer": "ana@example.com"}, {"code": as3, "customer": "cus_bo"}]})
    assert done.status_code == 200, done.text
    assert [(c["code"], c["status"], c["assignedTo"]) for c in done.json()["data"]] == [
        ("AS-1", "assigned", "ana@example.com"), ("AS-3", "assigned", "cus_bo")]

    missing = await tenant.post("/api/v1/codes/assign", {"assignments": [
        {"code": "AS-2", "customer": "cy@example.com"}, {"code": "NOPE-9", "customer": "dee@example.com"}]})
    assert assert_envelope(missing, 404, "code_not_found", "assignments[1].code")["details"] == {"index": 1}
    assert (await tenant.get("/api/v1/codes/AS-2")).json()["assignedTo"] is None  # nothing was assigned
    twice = await tenant.post("/api/v1/codes/assign", {"assignments": [
        {"code": "AS-2", "customer": "a@example.com"}, {"code": "as-2", "customer": "b@example.com"}]})
    assert_envelope(twice, 422, "validation_error", "assignments[1].code")
    await tenant.post("/api/v1/codes/AS-2/deactivate")
    dead = await tenant.post("/api/v1/codes/assign", {"assignments": [{"code": "AS-2", "customer": "a@example.com"}]})
    assert_envelope(dead, 409, "code_not_usable", "assignments[0].code")
    assert_envelope(await tenant.post("/api/v1/codes/assign", {"assignments": []}), 422, "validation_error",
                    "assignments")


async def test_keyset_pages_stay_exact_when_many_campaigns_share_a_time(tenant: Tenant) -> None:
    """Five campaigns made at the same instant: the id breaks the tie, in each direction, page by page."""
    from kassa_contract.promotions import CreateCampaign
    from kassa_promotions.store.campaigns import CampaignStore

    store, at = CampaignStore(), tenant.backend.clock.now()
    async with transaction(tenant.backend.runtime.db) as conn:
        made = [(await store.create(conn, tenant.app_id, CreateCampaign(name=f"T{i}", reward=FIVER), at)).id
                for i in range(5)]
    assert await _ids(tenant, sort="createdAt") == sorted(made)
    assert await _ids(tenant, sort="-createdAt") == sorted(made, reverse=True)
    assert await _ids(tenant, sort="-updatedAt") == sorted(made, reverse=True)


async def test_only_a_refused_code_pays_for_recording_it(tenant: Tenant) -> None:
    """The common path (a code that applies, a validation that passes) writes no redemption row and
    costs what it cost before; a refusal adds its INSERT … SELECT (and, at a cart, the cart's read)."""
    camp = await campaign(tenant, reward=FIVER, rules={"minSubtotal": {"EUR": 2000}})
    await code(tenant, camp["id"], code="COST-1")
    counter = tenant.backend.counter
    good = {"code": "COST-1", "currency": "EUR", "lineItems": [{"unitPrice": 3000}]}
    await tenant.post("/api/v1/vouchers/validate", good)  # the pricing config is cached from here on
    with counter:
        assert (await tenant.post("/api/v1/vouchers/validate", good)).json()["valid"]
    ok_validate = list(counter.statements)
    with counter:
        assert not (await tenant.post("/api/v1/vouchers/validate", {**good, "lineItems": [{"unitPrice": 100}]})
                    ).json()["valid"]
    bad_validate = list(counter.statements)
    assert not [s for s in ok_validate if "promo_redemptions" in s], ok_validate
    inserts = [s for s in bad_validate if "INSERT INTO promo_redemptions" in s]
    assert len(inserts) == 1 and len(bad_validate) == len(ok_validate) + 1, (ok_validate, bad_validate)

    cheap, dear = await tenant.variant({"EUR": 100}), await tenant.variant({"EUR": 3000})
    applies, refused = await tenant.cart(lineItems=[{"variantId": dear}]), await tenant.cart(lineItems=[{"variantId": cheap}])
    with counter:
        assert (await tenant.post(f"/api/v1/carts/{applies['id']}/discount-codes", {"code": "COST-1"})).status_code == 200
    ok_apply = list(counter.statements)
    assert not [s for s in ok_apply if "promo_redemptions" in s], ok_apply
    with counter:
        response = await tenant.post(f"/api/v1/carts/{refused['id']}/discount-codes", {"code": "COST-1"})
    bad_apply = list(counter.statements)
    assert_envelope(response, 422, "discount_invalid")
    assert len([s for s in bad_apply if "INSERT INTO promo_redemptions" in s]) == 1
    assert len(bad_apply) <= len(ok_apply) + 2, (ok_apply, bad_apply)


async def test_a_group_deleted_while_campaigns_join_it_leaves_none_dangling(pg_tenant: Tenant) -> None:
    """Concurrent on PostgreSQL: each join either lands (and the delete takes it out again) or is a 404;
    never a 500, never a campaign pointing at a deleted group."""
    for _ in range(5):
        group = (await pg_tenant.post("/api/v1/campaign-groups", {"name": "Racing"})).json()
        joins = [pg_tenant.post("/api/v1/campaigns", {"name": "Join", "reward": FIVER, "groupId": group["id"]})
                 for _ in range(4)]
        *answers, gone = await asyncio.gather(*joins, pg_tenant.delete(f"/api/v1/campaign-groups/{group['id']}"))
        assert gone.status_code == 204
        for answer in answers:
            assert answer.status_code in (201, 404), answer.text
            if answer.status_code == 404:
                assert_envelope(answer, 404, "campaign_group_not_found", "groupId")
        listed = (await pg_tenant.get("/api/v1/campaigns", params={"group": group["id"]})).json()["data"]
        assert listed == []
