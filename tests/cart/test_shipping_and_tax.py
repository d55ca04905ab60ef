"""Shipping methods and tax, through the API, on both databases."""

from __future__ import annotations

from tests.conftest import ADDRESS_DE, Tenant
from tests.support.envelopes import assert_envelope

ADDRESS_FR = {"addressLine1": "1 Rue de Rivoli", "city": "Paris", "countryCode": "FR"}
ADDRESS_US_CA = {"addressLine1": "1 Market St", "city": "San Francisco", "countryCode": "US", "region": "CA"}


async def _method(tenant: Tenant, **body) -> dict:  # type: ignore[no-untyped-def]
    response = await tenant.post("/api/v1/shipping-methods", {"name": "Standard", "prices": {"EUR": 500}, **body})
    assert response.status_code == 201, response.text
    return response.json()


async def _rate(tenant: Tenant, country: str, rate: str, **body) -> dict:  # type: ignore[no-untyped-def]
    response = await tenant.post("/api/v1/tax-rates", {"countryCode": country, "rate": rate, "name": f"{country} tax",
                                                       **body})
    assert response.status_code == 201, response.text
    return response.json()


async def test_shipping_method_crud(tenant: Tenant) -> None:
    method = await _method(tenant, freeAbove={"EUR": 5000}, countries=["FR", "DE", "DE"])
    assert method["countries"] == ["DE", "FR"] and method["active"] is True
    assert (await tenant.get(f"/api/v1/shipping-methods/{method['id']}")).json() == method
    updated = (await tenant.patch(f"/api/v1/shipping-methods/{method['id']}", {"name": "Express", "countries": None})).json()
    assert updated["name"] == "Express" and updated["countries"] is None
    assert [m["id"] for m in (await tenant.get("/api/v1/shipping-methods")).json()["data"]] == [method["id"]]
    assert (await tenant.delete(f"/api/v1/shipping-methods/{method['id']}")).status_code == 204
    assert_envelope(await tenant.get(f"/api/v1/shipping-methods/{method['id']}"), 404, "shipping_method_not_found")
    assert_envelope(await tenant.post("/api/v1/shipping-methods", {"name": "x", "prices": {}, "countries": ["XX"]}),
                    422, "validation_error", "countries[0]")


async def test_cart_options_flat_free_above_and_restricted(tenant: Tenant) -> None:
    flat = await _method(tenant, name="Flat")
    free = await _method(tenant, name="Free over 50", prices={"EUR": 700}, freeAbove={"EUR": 5000})
    await _method(tenant, name="France only", countries=["FR"])
    await _method(tenant, name="USD only", prices={"USD": 100})
    await _method(tenant, name="Off", active=False)
    variant = await tenant.variant({"EUR": 2000})
    cart = await tenant.cart(lineItems=[{"variantId": variant}])
    options = (await tenant.get(f"/api/v1/carts/{cart['id']}/shipping-methods")).json()["data"]
    # Without an address only unrestricted methods are offered.
    assert {o["name"]: o["amount"] for o in options} == {"Flat": 500, "Free over 50": 700}
    await tenant.patch(f"/api/v1/carts/{cart['id']}", {"shippingAddress": ADDRESS_FR})
    await tenant.patch(f"/api/v1/carts/{cart['id']}/line-items/{cart['lineItems'][0]['id']}", {"quantity": 3})
    options = (await tenant.get(f"/api/v1/carts/{cart['id']}/shipping-methods")).json()["data"]
    assert {o["name"]: o["amount"] for o in options} == {"Flat": 500, "Free over 50": 0, "France only": 500}
    assert [o["amount"] for o in options] == sorted(o["amount"] for o in options)
    chosen = await tenant.put(f"/api/v1/carts/{cart['id']}/shipping-method", {"shippingMethodId": free["id"]})
    assert chosen.status_code == 200
    body = chosen.json()
    assert body["shippingMethod"]["id"] == free["id"] and body["shippingTotal"] == 0 and body["total"] == 6000
    # Back under the threshold the method costs again, and the cart says so in its totals.
    body = (await tenant.patch(f"/api/v1/carts/{cart['id']}/line-items/{cart['lineItems'][0]['id']}",
                               {"quantity": 1})).json()
    assert body["shippingTotal"] == 700 and body["total"] == 2700
    flat_chosen = (await tenant.put(f"/api/v1/carts/{cart['id']}/shipping-method", {"shippingMethodId": flat["id"]})).json()
    assert flat_chosen["shippingTotal"] == 500
    options = (await tenant.get(f"/api/v1/carts/{cart['id']}/shipping-methods")).json()["data"]
    assert [o["name"] for o in options if o["selected"]] == ["Flat"]


async def test_selection_errors(tenant: Tenant) -> None:
    fr_only = await _method(tenant, name="France only", countries=["FR"])
    cart = await tenant.cart(shippingAddress=ADDRESS_DE)
    path = f"/api/v1/carts/{cart['id']}/shipping-method"
    assert_envelope(await tenant.put(path, {"shippingMethodId": fr_only["id"]}), 422, "shipping_method_unavailable",
                    "shippingMethodId")
    assert_envelope(await tenant.put(path, {"shippingMethodId": "shm_nope"}), 404, "shipping_method_not_found")
    assert_envelope(await tenant.put(path, {}), 422, "validation_error", "shippingMethodId")
    assert (await tenant.get(f"/api/v1/carts/{cart['id']}")).json()["shippingMethod"] is None


async def test_method_that_stops_applying_is_cleared_and_the_cart_says_why(tenant: Tenant) -> None:
    fr_only = await _method(tenant, name="France only", countries=["FR"])
    cart = await tenant.cart(shippingAddress=ADDRESS_FR)
    chosen = (await tenant.put(f"/api/v1/carts/{cart['id']}/shipping-method", {"shippingMethodId": fr_only["id"]})).json()
    assert chosen["shippingTotal"] == 500 and chosen["notices"] == []
    moved = (await tenant.patch(f"/api/v1/carts/{cart['id']}", {"shippingAddress": ADDRESS_DE})).json()
    assert moved["shippingMethod"] is None and moved["shippingTotal"] == 0
    assert moved["notices"][0]["code"] == "shipping_method_cleared" and "DE" in moved["notices"][0]["message"]
    assert (await tenant.get(f"/api/v1/carts/{cart['id']}")).json()["notices"] == moved["notices"]
    # A method deleted by the merchant is cleared at the next change too.
    anywhere = await _method(tenant, name="Anywhere")
    await tenant.put(f"/api/v1/carts/{cart['id']}/shipping-method", {"shippingMethodId": anywhere["id"]})
    await tenant.delete(f"/api/v1/shipping-methods/{anywhere['id']}")
    after = (await tenant.patch(f"/api/v1/carts/{cart['id']}", {"customerEmail": "a@b.co"})).json()
    assert after["shippingMethod"] is None and after["notices"][0]["code"] == "shipping_method_cleared"


async def test_tax_exclusive_per_country_region_and_class(tenant: Tenant) -> None:
    await _rate(tenant, "DE", "19")
    await _rate(tenant, "DE", "7", taxClass="reduced", name="DE reduced")
    await _rate(tenant, "US", "0")
    await _rate(tenant, "US", "7.25", region="CA", name="CA sales tax")
    std, red = await tenant.variant({"EUR": 1000}), await tenant.variant({"EUR": 1000}, tax_class="reduced")
    shipping = await _method(tenant)
    cart = await tenant.cart(lineItems=[{"variantId": std}, {"variantId": red}], shippingAddress=ADDRESS_DE)
    cart = (await tenant.put(f"/api/v1/carts/{cart['id']}/shipping-method", {"shippingMethodId": shipping["id"]})).json()
    # 1000 @19% = 190, 1000 @7% = 70, shipping (class shipping -> standard) 500 @19% = 95.
    assert [li["taxTotal"] for li in cart["lineItems"]] == [190, 70]
    assert cart["shippingMethod"]["taxTotal"] == 95
    assert {t["rate"]: t["amount"] for t in cart["taxLines"]} == {"19": 285, "7": 70}
    assert cart["taxTotal"] == 355 and cart["total"] == 2000 + 500 + 355 and cart["taxesIncluded"] is False
    ca = (await tenant.patch(f"/api/v1/carts/{cart['id']}", {"shippingAddress": ADDRESS_US_CA})).json()
    # No reduced rate in CA: the standard (regional) rate applies to both.
    assert [li["taxRate"] for li in ca["lineItems"]] == ["7.25", "7.25"]
    assert ca["taxTotal"] == 181  # 2500 * 7.25% = 181.25 -> 181
    nowhere = (await tenant.patch(f"/api/v1/carts/{cart['id']}", {"shippingAddress": ADDRESS_FR})).json()
    assert nowhere["taxTotal"] == 0 and nowhere["taxLines"] == []


async def test_tax_inclusive_prices(tenant: Tenant) -> None:
    await _rate(tenant, "DE", "19")
    settings = await tenant.put("/api/v1/tax-settings", {"pricesIncludeTax": True})
    assert settings.json() == {"pricesIncludeTax": True}
    variant = await tenant.variant({"EUR": 1190})
    cart = await tenant.cart(lineItems=[{"variantId": variant, "quantity": 3}], shippingAddress=ADDRESS_DE)
    assert cart["taxesIncluded"] is True and cart["subtotal"] == 3570
    assert cart["taxTotal"] == 570 and cart["total"] == 3570  # tax is contained, not added
    assert cart["lineItems"][0]["total"] == 3570


async def test_half_even_rounding_per_rate_group(tenant: Tenant) -> None:
    await _rate(tenant, "DE", "10")
    # Three lines of 5 at 10%: exact 0.5 each. Rounded per line that would be 0+0+0 or 1+1+1;
    # per group it is round_half_even(1.5) = 2, apportioned so the lines add up to it.
    lines = [{"sku": f"P{i}", "name": "penny", "unitPrice": 5} for i in range(3)]
    cart = await tenant.cart(lineItems=lines, shippingAddress=ADDRESS_DE)
    assert cart["taxTotal"] == 2 and sum(li["taxTotal"] for li in cart["lineItems"]) == 2
    two = await tenant.cart(lineItems=lines[:1] * 1 + [{"sku": "Q", "name": "q", "unitPrice": 20}],
                            shippingAddress=ADDRESS_DE)
    assert two["taxTotal"] == 2  # 0.5 + 2.0 = 2.5 -> 2 (half to even)


async def test_currency_exponents(tenant: Tenant) -> None:
    await _rate(tenant, "JP", "10")
    await _rate(tenant, "KW", "5")
    yen = await tenant.variant({"JPY": 1999})
    cart = (await tenant.post("/api/v1/carts", {"currency": "JPY", "lineItems": [{"variantId": yen}],
                                                "shippingAddress": {"addressLine1": "1-1", "city": "Tokyo",
                                                                    "countryCode": "JP"}})).json()
    assert cart["taxTotal"] == 200 and cart["total"] == 2199  # 199.9 yen -> 200: no fractional yen
    dinar = await tenant.variant({"KWD": 1234})  # 1.234 KWD
    cart = (await tenant.post("/api/v1/carts", {"currency": "KWD", "lineItems": [{"variantId": dinar}],
                                                "shippingAddress": {"addressLine1": "1", "city": "Kuwait City",
                                                                    "countryCode": "KW"}})).json()
    assert cart["taxTotal"] == 62 and cart["total"] == 1296  # 61.7 fils -> 62


async def test_tax_rate_rules(tenant: Tenant) -> None:
    rate = await _rate(tenant, "AT", "20")
    assert_envelope(await tenant.post("/api/v1/tax-rates", {"countryCode": "AT", "rate": "10", "name": "dup"}), 409,
                    "tax_rate_exists")
    assert_envelope(await tenant.post("/api/v1/tax-rates", {"countryCode": "AT", "rate": "abc", "name": "x"}), 422,
                    "validation_error", "rate")
    assert_envelope(await tenant.post("/api/v1/tax-rates", {"countryCode": "AT", "rate": "101", "name": "x"}), 422,
                    "validation_error", "rate")
    assert [r["id"] for r in (await tenant.get("/api/v1/tax-rates")).json()["data"]] == [rate["id"]]
    assert (await tenant.delete(f"/api/v1/tax-rates/{rate['id']}")).status_code == 204
    assert_envelope(await tenant.delete(f"/api/v1/tax-rates/{rate['id']}"), 404, "tax_rate_not_found")


async def test_config_changes_reach_the_next_cart_change(tenant: Tenant) -> None:
    variant = await tenant.variant({"EUR": 1000})
    cart = await tenant.cart(lineItems=[{"variantId": variant}], shippingAddress=ADDRESS_DE)
    assert cart["taxTotal"] == 0
    await _rate(tenant, "DE", "19")
    after = (await tenant.patch(f"/api/v1/carts/{cart['id']}", {"customerEmail": "t@example.com"})).json()
    assert after["taxTotal"] == 190
