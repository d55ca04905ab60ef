"""A customer's vouchers: generic codes of live campaigns they qualify for, codes assigned to them with
uses left; nothing expired, inactive or closed to them."""

from __future__ import annotations

import uuid
from datetime import timedelta

from tests.conftest import Tenant
from tests.support.campaigns import campaign, code
from tests.support.envelopes import assert_envelope

REWARD = {"type": "fixed_off", "amounts": {"EUR": 500}}


def _code() -> str:
    return f"C{uuid.uuid4().hex[:8].upper()}"


async def test_the_codes_a_customer_may_use_now(tenant: Tenant) -> None:
    email = f"v.{uuid.uuid4().hex[:6]}@example.com"
    customer = (await tenant.post("/api/v1/customers", {"email": email})).json()
    path = f"/api/v1/customers/{customer['id']}/vouchers"

    welcome = await campaign(tenant, name="Welcome", reward=REWARD)
    generic = (await code(tenant, welcome["id"], code=_code()))["codes"][0]["code"]
    vip = await campaign(tenant, name="VIP", reward=REWARD, rules={"segments": ["vip"]})
    vip_code = (await code(tenant, vip["id"], code=_code()))["codes"][0]["code"]
    personal = await campaign(tenant, name="Personal", reward=REWARD)
    mine = (await code(tenant, personal["id"], count=1, assignedTo=customer["id"]))["codes"][0]["code"]
    by_email = (await code(tenant, personal["id"], count=1, assignedTo=email.upper()))["codes"][0]["code"]
    await code(tenant, personal["id"], count=1, assignedTo="someone@example.com")
    await code(tenant, personal["id"], count=2)  # unique, unassigned: nobody's yet
    withdrawn = (await code(tenant, personal["id"], count=1, assignedTo=customer["id"]))["codes"][0]["code"]
    assert (await tenant.post(f"/api/v1/codes/{withdrawn}/deactivate")).status_code == 200
    ends = (tenant.backend.clock.now() + timedelta(hours=1)).isoformat()
    short = await campaign(tenant, name="Flash", reward=REWARD, endsAt=ends)
    flash = (await code(tenant, short["id"], code=_code()))["codes"][0]["code"]
    paused = await campaign(tenant, name="Paused", reward=REWARD)
    await code(tenant, paused["id"], code=_code())
    await tenant.post(f"/api/v1/campaigns/{paused['id']}/deactivate")

    listed = {v["code"]: v for v in (await tenant.get(path)).json()["data"]}
    assert set(listed) == {generic, mine, by_email, flash}
    assert listed[generic]["kind"] == "generic" and listed[generic]["campaignName"] == "Welcome"
    assert listed[mine]["kind"] == "unique" and listed[mine]["remainingUses"] == 1
    assert listed[flash]["expiresAt"] is not None

    await tenant.post(f"/api/v1/customers/{customer['id']}/segments", {"add": ["vip"]})
    tenant.backend.clock.advance(hours=2)  # the flash campaign ends
    listed = {v["code"] for v in (await tenant.get(path)).json()["data"]}
    assert listed == {generic, vip_code, mine, by_email}

    assert_envelope(await tenant.get("/api/v1/customers/cus_nope/vouchers"), 404, "customer_not_found")


async def test_a_code_past_its_own_expiry_is_not_listed(tenant: Tenant) -> None:
    """A code's own validity counts as much as its campaign's: an expired code is not offered, and a
    code that ends before its campaign shows its own end."""
    customer = (await tenant.post("/api/v1/customers", {"email": f"x.{uuid.uuid4().hex[:6]}@example.com"})).json()
    path = f"/api/v1/customers/{customer['id']}/vouchers"
    now = tenant.backend.clock.now()
    campaign_ends = now + timedelta(days=30)
    personal = await campaign(tenant, name="Personal", reward=REWARD, endsAt=campaign_ends.isoformat())
    soon = now + timedelta(hours=2)
    lasting = (await code(tenant, personal["id"], count=1, assignedTo=customer["id"],
                          expiresAt=soon.isoformat()))["codes"][0]["code"]
    lapsed = (await code(tenant, personal["id"], count=1, assignedTo=customer["id"],
                         expiresAt=(now - timedelta(minutes=1)).isoformat()))["codes"][0]["code"]
    generic = (await code(tenant, personal["id"], code=_code()))["codes"][0]["code"]

    listed = {v["code"]: v for v in (await tenant.get(path)).json()["data"]}
    assert lapsed not in listed
    assert set(listed) == {lasting, generic}
    assert listed[lasting]["expiresAt"].startswith(soon.isoformat()[:16])
    assert listed[generic]["expiresAt"].startswith(campaign_ends.isoformat()[:16])

    tenant.backend.clock.advance(hours=3)
    assert {v["code"] for v in (await tenant.get(path)).json()["data"]} == {generic}
