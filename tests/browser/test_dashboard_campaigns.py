"""The dashboard's Campaigns and codes page in a real Chromium against a real Kassa: a 10,000-code CSV
imported in parts with its progress and its one refused row, a campaign made through the form that
then discounts a cart, what a viewer may not do, axe-core and the screenshots for the docs."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import expect

from tests.support.dashboard import axe_check, merchant_with_orders, open_page, shoot, signed_in
from tests.support.served import KassaWeb

# Records every value the import's <progress> takes (polled: the element appears only once it starts).
WATCH_PROGRESS = """() => { window.seenProgress = []; window.setInterval(() => {
    const bar = document.getElementById('import-progress');
    if (!bar) return;
    const seen = window.seenProgress, v = [bar.value, bar.max];
    if (!seen.length || seen[seen.length - 1][0] !== v[0]) seen.push(v); }, 5); }"""


async def code_campaign(tenant: Any, name: str = "Spring codes") -> dict[str, Any]:
    made = await tenant.post("/api/v1/campaigns", {"name": name, "trigger": "code",
                                                   "reward": {"type": "percent_off", "percent": 15}})
    assert made.status_code == 201, made.text
    return made.json()


async def test_a_csv_of_10000_codes_imports_in_parts_and_reports_its_one_bad_row(browser: Any, kassa: KassaWeb) -> None:
    merchant, _ = await merchant_with_orders(kassa, [])
    tenant = merchant.tenant
    campaign = await code_campaign(tenant)
    taken = await tenant.post(f"/api/v1/campaigns/{campaign['id']}/codes", {"code": "SPRING-TAKEN"})
    assert taken.status_code == 201, taken.text
    codes = [f"SPRING-{i:05d}" for i in range(10_000)]
    codes[4321] = "spring-taken"  # exists already (codes match case-insensitively): line 4323 of the file
    csv = ("code,note\n" + "".join(f"{c},batch 7\n" for c in codes)).encode()
    async with signed_in(browser, kassa, await merchant.person("developer")) as page:
        await open_page(page, kassa, f"/campaigns/{campaign['id']}", "Spring codes")
        await page.evaluate(WATCH_PROGRESS)
        await page.get_by_label("CSV file", exact=True).set_input_files(files=[{"name": "codes.csv", "mimeType": "text/csv",
                                                                    "buffer": csv}])
        await page.get_by_role("button", name="Import", exact=True).click()
        finished = page.get_by_role("status").filter(has_text="Import finished")
        await expect(finished).to_have_text("Import finished: 9,999 codes imported, 1 refused.", timeout=60_000)
        bar = page.get_by_role("progressbar", name="Import progress")
        await expect(bar).to_have_attribute("value", "10")
        await expect(bar).to_have_attribute("max", "10")
        seen = await page.evaluate("() => window.seenProgress")
        assert seen[-1] == [10, 10] and any(0 < value < 10 for value, _ in seen), seen  # it moved, part by part
        refused = page.get_by_role("table", name="Refused rows").locator("tbody tr")
        await expect(refused).to_have_count(1)
        await expect(refused.locator("td")).to_have_text(["4323", "spring-taken", "The code SPRING-TAKEN exists already"])
        await axe_check(page, "import report")
        await shoot(page, "campaign-import", 1280)
        assert page.script_errors == []
    stats = (await tenant.get(f"/api/v1/campaigns/{campaign['id']}/stats")).json()
    assert stats["codes"] == 10_000  # the one made before and 9,999 of the file
    assert (await tenant.get("/api/v1/codes/SPRING-09999")).status_code == 200


async def test_a_campaign_made_through_the_form_discounts_a_cart(browser: Any, kassa: KassaWeb) -> None:
    merchant, _ = await merchant_with_orders(kassa, [])
    tenant = merchant.tenant
    async with signed_in(browser, kassa, merchant.team.owner) as page:
        await open_page(page, kassa, "/campaigns", "Campaigns and codes")
        await page.get_by_role("button", name="New campaign").click()
        await expect(page.get_by_role("heading", level=1, name="New campaign")).to_be_visible()
        await page.get_by_label("Name").fill("Coffee week")
        await page.get_by_label("Automatically, without a code").check()
        await page.get_by_label("Percentage off").check()
        await page.get_by_label("Percentage", exact=True).fill("10")
        await page.get_by_role("group", name="Minimum subtotal, per currency").get_by_role(
            "button", name="Add a currency").click()
        await page.get_by_label("Currency").fill("EUR")
        await page.get_by_label("Amount (EUR)").fill("30.00")
        await page.get_by_label("Only these categories").fill("coffee, tea")
        await axe_check(page, "campaign form")
        await page.get_by_role("button", name="Save").click()
        await expect(page.get_by_role("heading", level=1, name="Coffee week")).to_be_visible()
        await expect(page.locator(".page-head .badge")).to_have_text("Active")
        await expect(page.get_by_role("region", name="Codes")).to_have_count(0)  # automatic: no codes
        assert page.script_errors == []
    [made] = (await tenant.get("/api/v1/campaigns", params={"q": "Coffee week"})).json()["data"]
    assert (made["trigger"], made["reward"]["type"], float(made["reward"]["percent"])) == ("automatic", "percent_off", 10)
    assert made["rules"]["minSubtotal"] == {"EUR": 3000} and sorted(made["items"]["categories"]) == ["coffee", "tea"]
    coffee = (await tenant.product({"EUR": 2450}, categories=["coffee"]))["variants"][0]["id"]
    cart = await tenant.cart(lineItems=[{"variantId": coffee, "quantity": 2}])
    assert cart["discountTotal"] == 490  # 10 % of 49.00
    small = await tenant.cart(lineItems=[{"variantId": coffee, "quantity": 1}])
    assert small["discountTotal"] == 0  # under the minimum subtotal


async def test_a_viewer_reads_campaigns_and_stats_but_gets_no_controls(browser: Any, kassa: KassaWeb) -> None:
    merchant, _ = await merchant_with_orders(kassa, [])
    campaign = await code_campaign(merchant.tenant, "Read only")
    await merchant.tenant.post(f"/api/v1/campaigns/{campaign['id']}/codes", {"count": 3})
    async with signed_in(browser, kassa, await merchant.person("viewer")) as page:
        await open_page(page, kassa, "/campaigns", "Campaigns and codes")
        await expect(page.get_by_role("button", name="New campaign")).to_have_count(0)
        await page.get_by_role("link", name="Read only").click()
        await expect(page.get_by_role("heading", level=1, name="Read only")).to_be_visible()
        await expect(page.get_by_role("region", name="Statistics")).to_contain_text("Codes3")
        await expect(page.get_by_role("region", name="Codes").locator("tbody tr")).to_have_count(3)
        for name in ("Edit campaign", "Switch off", "Archive", "Generate", "Import"):
            await expect(page.get_by_role("button", name=name, exact=True)).to_have_count(0)
        await open_page(page, kassa, "/campaigns/new", "Not available")


async def test_switching_off_and_archiving_and_the_filters(browser: Any, kassa: KassaWeb) -> None:
    merchant, _ = await merchant_with_orders(kassa, [])
    first = await code_campaign(merchant.tenant, "Alpha codes")
    await code_campaign(merchant.tenant, "Beta codes")
    async with signed_in(browser, kassa, await merchant.person("developer")) as page:
        await open_page(page, kassa, f"/campaigns/{first['id']}", "Alpha codes")
        await page.get_by_role("button", name="Switch off").click()
        await expect(page.get_by_role("status").filter(has_text="switched")).to_have_text("Campaign switched off.")
        await expect(page.locator(".page-head .badge")).to_have_text("Switched off")
        await open_page(page, kassa, "/campaigns", "Campaigns and codes")
        rows = page.locator("table tbody tr")
        await expect(rows).to_have_count(2)
        await page.get_by_label("Status", exact=True).select_option(label="Switched off")
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text("Alpha codes")
        await open_page(page, kassa, f"/campaigns/{first['id']}", "Alpha codes")
        await page.get_by_role("button", name="Archive").click()
        await expect(page.locator(".page-head .badge")).to_have_text("Archived")
        await open_page(page, kassa, "/campaigns", "Campaigns and codes")
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text("Beta codes")
        await page.get_by_label("Archived only").check()
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text("Alpha codes")
    assert (await merchant.tenant.get(f"/api/v1/campaigns/{first['id']}")).json()["archived"] is True


@pytest.mark.parametrize("width", [1280, 375])
async def test_the_campaign_pages_pass_axe_and_are_pictured(browser: Any, kassa: KassaWeb, width: int) -> None:
    merchant, _ = await merchant_with_orders(kassa, [])
    campaign = await code_campaign(merchant.tenant, "Spring codes")
    await merchant.tenant.post(f"/api/v1/campaigns/{campaign['id']}/codes", {"count": 5, "prefix": "SPR-"})
    await merchant.tenant.post("/api/v1/campaigns", {"name": "Free shipping over 50", "trigger": "automatic",
                                                     "reward": {"type": "shipping_off", "percent": 100},
                                                     "rules": {"minSubtotal": {"EUR": 5000}}})
    pages = [("/campaigns", "Campaigns and codes", "campaigns"), (f"/campaigns/{campaign['id']}", "Spring codes", "campaign"),
             ("/campaigns/new", "New campaign", "campaign-form")]
    async with signed_in(browser, kassa, merchant.team.owner, width=width) as page:
        for path, heading, name in pages:
            await open_page(page, kassa, path, heading)
            await page.wait_for_load_state("networkidle")
            await axe_check(page, f"{name} at {width}px")
            await shoot(page, name, width)
        await open_page(page, kassa, f"/campaigns/{campaign['id']}/edit", "Edit Spring codes")
        await expect(page.get_by_label("Percentage", exact=True)).to_have_value("15")
        assert page.script_errors == []


async def test_rows_the_file_itself_gets_wrong_are_reported_in_german_too(browser: Any, kassa: KassaWeb) -> None:
    merchant, _ = await merchant_with_orders(kassa, [])
    campaign = await code_campaign(merchant.tenant, "Herbst")
    csv = "code\nHERBST-1\n\"HERBST-2\"\nno spaces allowed\n\nherbst-1\nHERBST-3,ignored\n".encode()
    async with signed_in(browser, kassa, await merchant.person("developer"), locale="de-DE") as page:
        await open_page(page, kassa, f"/campaigns/{campaign['id']}", "Herbst")
        await page.get_by_label("CSV-Datei", exact=True).set_input_files(files=[{"name": "c.csv", "mimeType": "text/csv",
                                                                               "buffer": csv}])
        await page.get_by_role("button", name="Importieren", exact=True).click()
        await expect(page.get_by_role("status").filter(has_text="Import beendet")).to_have_text(
            "Import beendet: 3 Codes importiert, 2 abgelehnt.")
        await expect(page.get_by_role("progressbar", name="Fortschritt des Imports")).to_have_attribute("value", "1")
        rows = page.get_by_role("table", name="Abgelehnte Zeilen").locator("tbody tr")
        await expect(rows).to_have_count(2)
        await expect(rows.nth(0).locator("td")).to_have_text(["4", "no spaces allowed", re.compile("^Ein Code hat 3 bis 64")])
        await expect(rows.nth(1).locator("td")).to_have_text(["6", "herbst-1", "Schon in Zeile 2 der Datei."])
        await axe_check(page, "import report in German")
    listed = (await merchant.tenant.get(f"/api/v1/campaigns/{campaign['id']}/codes")).json()["data"]
    assert sorted(c["code"] for c in listed) == ["HERBST-1", "HERBST-2", "HERBST-3"]


async def test_editing_in_the_form_keeps_what_only_the_api_sets(browser: Any, kassa: KassaWeb) -> None:
    merchant, _ = await merchant_with_orders(kassa, [])
    tenant = merchant.tenant
    made = (await tenant.post("/api/v1/campaigns", {
        "name": "Loyal", "trigger": "code", "reward": {"type": "percent_off", "percent": 5, "maxDiscount": {"EUR": 2000}},
        "items": {"categories": ["coffee"], "excludeCategories": ["gift"]},
        "rules": {"minSubtotal": {"EUR": 2000}, "perCustomerLimit": 1}})).json()
    bogo = (await tenant.post("/api/v1/campaigns", {"name": "Two for one", "trigger": "automatic",
                                                    "reward": {"type": "buy_x_get_y", "buy": 1}})).json()
    async with signed_in(browser, kassa, await merchant.person("developer")) as page:
        await open_page(page, kassa, f"/campaigns/{made['id']}/edit", "Edit Loyal")
        await expect(page.get_by_label("Amount (EUR)")).to_have_value("20.00")
        await expect(page.get_by_label("With a code the shopper enters")).to_be_disabled()
        await page.get_by_label("Name").fill("Loyal customers")
        await page.get_by_label("Percentage", exact=True).fill("7.5")
        await page.get_by_label("Only customers in these segments").fill("vip")
        await page.get_by_role("button", name="Save").click()
        await expect(page.get_by_role("heading", level=1, name="Loyal customers")).to_be_visible()
        await open_page(page, kassa, f"/campaigns/{bogo['id']}/edit", "Edit Two for one")
        await expect(page.get_by_text("This campaign's reward (buy_x_get_y) is set through the API")).to_be_visible()
        await page.get_by_label("Name").fill("Buy one get one")
        await page.get_by_role("button", name="Save").click()
        await expect(page.get_by_role("heading", level=1, name="Buy one get one")).to_be_visible()
        assert page.script_errors == []
    after = (await tenant.get(f"/api/v1/campaigns/{made['id']}")).json()
    assert float(after["reward"]["percent"]) == 7.5 and after["reward"]["maxDiscount"] == {"EUR": 2000}
    assert (after["items"]["categories"], after["items"]["excludeCategories"]) == (["coffee"], ["gift"])
    assert after["rules"]["perCustomerLimit"] == 1 and after["rules"]["minSubtotal"] == {"EUR": 2000}
    assert after["rules"]["segments"] == ["vip"]
    assert (await tenant.get(f"/api/v1/campaigns/{bogo['id']}")).json()["reward"]["type"] == "buy_x_get_y"
