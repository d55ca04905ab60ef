"""Promotions through the cart service: campaigns, codes, validation, discounts on carts."""

from __future__ import annotations

from tests.conftest import ADDRESS_DE, Tenant
from tests.support.campaigns import campaign, code
from tests.support.envelopes import assert_envelope


async def test_campaign_crud_activate_and_stats(tenant: Tenant) -> None:
    made = await campaign(tenant, reward={"type": "percent_off", "percent": 10, "maxDiscount": {"EUR": 500}},
                          rules={"minSubtotal": {"EUR": 2000}}, priority=5, usageLimit=100, budget=10_000)
    assert made["id"].startswith("camp_") and made["trigger"] == "code" and made["active"] is True
    assert made["reward"]["type"] == "percent_off" and made["rules"]["minSubtotal"] == {"EUR": 2000}
    assert (await tenant.get(f"/api/v1/campaigns/{made['id']}")).json() == made
    patched = (await tenant.patch(f"/api/v1/campaigns/{made['id']}", {"name": "Renamed", "priority": 1})).json()
    assert patched["name"] == "Renamed" and patched["priority"] == 1 and patched["reward"] == made["reward"]
    off = await tenant.post(f"/api/v1/campaigns/{made['id']}/deactivate")
    assert off.status_code == 200 and off.json()["active"] is False
    assert [c["id"] for c in (await tenant.get("/api/v1/campaigns", params={"active": "false"})).json()["data"]] == [made["id"]]
    assert (await tenant.post(f"/api/v1/campaigns/{made['id']}/activate")).json()["active"] is True
    stats = (await tenant.get(f"/api/v1/campaigns/{made['id']}/stats")).json()
    assert stats == {"campaignId": made["id"], "uses": 0, "reservedUses": 0, "usesLeft": 100, "discountGranted": 0,
                     "discountReserved": 0, "budgetLeft": 10_000, "codes": 0}
    assert_envelope(await tenant.get("/api/v1/campaigns/camp_nope"), 404, "campaign_not_found")


async def test_campaign_definitions_are_validated(tenant: Tenant) -> None:
    bad_type = await tenant.post("/api/v1/campaigns", {"name": "x", "reward": {"type": "bogus"}})
    assert_envelope(bad_type, 422, "validation_error", "reward.type")
    bad_percent = await tenant.post("/api/v1/campaigns", {"name": "x", "reward": {"type": "percent_off", "percent": 120}})
    assert_envelope(bad_percent, 422, "validation_error", "reward.percent")
    window = await tenant.post("/api/v1/campaigns", {"name": "x", "reward": {"type": "percent_off", "percent": 5},
                                                     "startsAt": "2030-01-02T00:00:00Z", "endsAt": "2030-01-01T00:00:00Z"})
    assert_envelope(window, 422, "validation_error", "endsAt")
    reader = await tenant.scoped_key(["promotions:read"])
    assert_envelope(await tenant.post("/api/v1/campaigns", {"name": "x", "reward": {"type": "percent_off", "percent": 5}},
                                      key=reader), 403, "forbidden")


async def test_generic_and_unique_codes(tenant: Tenant) -> None:
    camp = await campaign(tenant, reward={"type": "fixed_off", "amounts": {"EUR": 500}})
    generic = await code(tenant, camp["id"], code="Summer-25")
    assert generic["created"] == 1 and generic["codes"][0]["status"] == "active"
    assert (await tenant.get("/api/v1/codes/summer-25")).json()["code"] == "Summer-25"  # case-insensitive
    assert_envelope(await tenant.post(f"/api/v1/campaigns/{camp['id']}/codes", {"code": "SUMMER-25"}), 409, "code_taken")
    batch = await code(tenant, camp["id"], count=250, prefix="VIP-", pattern="####-####")
    assert batch["created"] == 250
    listed, cursor = [], None
    while True:
        page = (await tenant.get(f"/api/v1/campaigns/{camp['id']}/codes",
                                 params={"limit": 100, **({"cursor": cursor} if cursor else {})})).json()
        listed += page["data"]
        cursor = page["nextCursor"]
        if not cursor:
            break
    texts = [c["code"] for c in listed]
    assert len(texts) == 251 and len(set(t.upper() for t in texts)) == 251
    unique = [c for c in listed if c["code"].startswith("VIP-")]
    assert all(len(c["code"]) == 13 and c["code"][8] == "-" and c["usageLimit"] == 1 for c in unique)
    first = unique[0]["code"]
    assert (await tenant.post(f"/api/v1/codes/{first}/distribute")).json()["status"] == "distributed"
    assigned = (await tenant.post(f"/api/v1/codes/{first}/assign", {"customer": "ana@example.com"})).json()
    assert assigned["status"] == "assigned" and assigned["assignedTo"] == "ana@example.com"
    assert (await tenant.post(f"/api/v1/codes/{first}/deactivate")).json()["status"] == "deactivated"
    assert_envelope(await tenant.post(f"/api/v1/codes/{first}/distribute"), 409, "code_not_usable")
    assert_envelope(await tenant.get("/api/v1/codes/NOPE-1"), 404, "code_not_found")


async def test_import_codes_from_json_and_csv(tenant: Tenant) -> None:
    camp = await campaign(tenant, reward={"type": "fixed_off", "amounts": {"EUR": 100}})
    imported = await tenant.post(f"/api/v1/campaigns/{camp['id']}/codes/import", {"codes": ["IMP-1", "IMP-2"]})
    assert imported.status_code == 201 and imported.json()["created"] == 2
    csv_body = b"code\nCSV-1\ncsv-2\n\nCSV-3,extra column\n"
    from_csv = await tenant.post(f"/api/v1/campaigns/{camp['id']}/codes/import", content=csv_body,
                                 headers={"content-type": "text/csv"})
    assert from_csv.status_code == 201 and from_csv.json()["created"] == 3
    assert (await tenant.get("/api/v1/codes/CSV-2")).json()["status"] == "created"
    # A CSV's codes meet the same limits as JSON's, and a file that is not text is refused, not a 500.
    for bad in (b"code\nhas a space\n", b"code\n" + b"X" * 500 + b"\n", b"\xff\xfe\x00bad"):
        refused = await tenant.post(f"/api/v1/campaigns/{camp['id']}/codes/import", content=bad,
                                    headers={"content-type": "text/csv"})
        assert_envelope(refused, 422, "validation_error")
    dup = await tenant.post(f"/api/v1/campaigns/{camp['id']}/codes/import", {"codes": ["imp-1"]})
    assert_envelope(dup, 409, "code_taken")
    twice = await tenant.post(f"/api/v1/campaigns/{camp['id']}/codes/import", {"codes": ["X-100", "x-100"]})
    assert_envelope(twice, 409, "code_taken")


async def test_code_on_a_cart_and_a_reason_when_it_stops_applying(tenant: Tenant) -> None:
    camp = await campaign(tenant, reward={"type": "percent_off", "percent": 10}, rules={"minSubtotal": {"EUR": 3000}})
    await code(tenant, camp["id"], code="TENOFF")
    variant = await tenant.variant({"EUR": 2000})
    cart = await tenant.cart(lineItems=[{"variantId": variant}])
    refused = await tenant.post(f"/api/v1/carts/{cart['id']}/discount-codes", {"code": "tenoff"})
    err = assert_envelope(refused, 422, "discount_invalid", "code")
    assert err["details"]["reason"] == "minimum_not_met" and "10.00 EUR" in err["message"]
    unknown = await tenant.post(f"/api/v1/carts/{cart['id']}/discount-codes", {"code": "NOPE"})
    assert assert_envelope(unknown, 422, "discount_invalid")["details"]["reason"] == "code_not_found"
    line = cart["lineItems"][0]["id"]
    await tenant.patch(f"/api/v1/carts/{cart['id']}/line-items/{line}", {"quantity": 2})
    applied = (await tenant.post(f"/api/v1/carts/{cart['id']}/discount-codes", {"code": "tenoff"})).json()
    assert applied["discounts"] == [{"code": "TENOFF", "campaignId": camp["id"], "name": "Promo", "amount": 400,
                                     "applied": True, "reason": None, "message": None}]
    assert applied["discountTotal"] == 400 and applied["total"] == 3600
    assert applied["lineItems"][0]["discountAllocations"] == [{"campaignId": camp["id"], "code": "TENOFF", "amount": 400}]
    # The code shows as issued. Below the minimum again it stays on the cart, marked not applied, with its reason.
    shrunk = (await tenant.patch(f"/api/v1/carts/{cart['id']}/line-items/{line}", {"quantity": 1})).json()
    assert shrunk["discountTotal"] == 0
    assert shrunk["discounts"][0]["applied"] is False and shrunk["discounts"][0]["reason"] == "minimum_not_met"
    removed = (await tenant.delete(f"/api/v1/carts/{cart['id']}/discount-codes/TENOFF")).json()
    assert removed["discounts"] == []
    assert_envelope(await tenant.delete(f"/api/v1/carts/{cart['id']}/discount-codes/TENOFF"), 404,
                    "discount_code_not_on_cart")


async def test_discount_codes_on_create_and_tax_after_discount(tenant: Tenant) -> None:
    await tenant.post("/api/v1/tax-rates", {"countryCode": "DE", "rate": "19", "name": "VAT"})
    camp = await campaign(tenant, reward={"type": "fixed_off", "amounts": {"EUR": 1000}})
    await code(tenant, camp["id"], code="TENNER")
    variant = await tenant.variant({"EUR": 5000})
    cart = await tenant.cart(lineItems=[{"variantId": variant}], discountCodes=["tenner"], shippingAddress=ADDRESS_DE)
    assert cart["discountTotal"] == 1000 and cart["taxTotal"] == 760  # 19% of 4000
    assert cart["total"] == 5000 - 1000 + 760
    bad = await tenant.post("/api/v1/carts", {"currency": "EUR", "discountCodes": ["NOPE"]})
    assert_envelope(bad, 422, "discount_invalid", "discountCodes[0]")


async def test_automatic_campaigns_apply_without_a_code(tenant: Tenant) -> None:
    shoes = await tenant.product({"EUR": 8000}, categories=["shoes"])
    socks = await tenant.product({"EUR": 500}, categories=["socks"])
    auto = await campaign(tenant, trigger="automatic", name="Shoe sale",
                          reward={"type": "percent_off", "percent": 25}, items={"categories": ["shoes"]})
    cart = await tenant.cart(lineItems=[{"variantId": shoes["variants"][0]["id"]}, {"variantId": socks["variants"][0]["id"]}])
    assert cart["discountTotal"] == 2000 and cart["lineItems"][0]["discountTotal"] == 2000
    assert cart["lineItems"][1]["discountTotal"] == 0
    assert cart["discounts"][0]["campaignId"] == auto["id"] and cart["discounts"][0]["code"] is None
    await tenant.post(f"/api/v1/campaigns/{auto['id']}/deactivate")
    after = (await tenant.patch(f"/api/v1/carts/{cart['id']}", {"customerEmail": "x@example.com"})).json()
    assert after["discountTotal"] == 0 and after["discounts"] == []


async def test_validate_a_code_without_reserving(tenant: Tenant) -> None:
    camp = await campaign(tenant, reward={"type": "percent_off", "percent": 20, "maxDiscount": {"EUR": 300}},
                          usageLimit=1)
    await code(tenant, camp["id"], code="CAPPED")
    body = {"code": "capped", "currency": "EUR", "lineItems": [{"id": "a", "unitPrice": 1000, "quantity": 2},
                                                               {"id": "b", "unitPrice": 500}]}
    result = (await tenant.post("/api/v1/vouchers/validate", body)).json()
    assert result["valid"] is True and result["discountTotal"] == 300
    assert sum(line["amount"] for line in result["discounts"][0]["lines"]) == 300 and result["discounts"][0]["clamped"]
    again = (await tenant.post("/api/v1/vouchers/validate", body)).json()
    assert again["valid"] is True  # nothing was reserved
    usd = (await tenant.post("/api/v1/vouchers/validate", {**body, "currency": "USD"})).json()
    assert usd["valid"] is False and usd["reason"] == "currency_mismatch"  # its cap has no USD amount
    missing = (await tenant.post("/api/v1/vouchers/validate", {**body, "code": "NOPE"})).json()
    assert missing == {"valid": False, "code": "NOPE", "discountTotal": 0, "discounts": [], "reason": "code_not_found",
                       "message": "This code does not exist"}
