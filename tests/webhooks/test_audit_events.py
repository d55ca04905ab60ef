"""`audit.entry.created`: each audit entry is an event, delivered and signed like every event, only to
endpoints that name it (docs/audit-log.md)."""

from __future__ import annotations

from tests.webhooks.conftest import Merchant, Webhooks
from tests.webhooks.receiver import Receiver


async def test_an_endpoint_that_names_audit_events_gets_each_entry_signed_and_one_on_star_does_not(
        webhooks: Webhooks, merchant: Merchant) -> None:
    siem, esp = await Receiver().start(), await Receiver().start()
    try:
        subscribed = await merchant.endpoint(siem, enabledEvents=["audit.*"])
        await merchant.endpoint(esp)  # "*"
        key = (await merchant.post("/api/v1/api-keys", {"scopes": ["orders:read"], "name": "ERP"})).json()
        rolled = await merchant.post(f"/api/v1/api-keys/{key['id']}/roll", {})
        assert rolled.status_code == 200, rolled.text
        await webhooks.run()

        events = [r.event for r in siem.ok()]
        assert len(siem.received) == len(events)  # every one verified with the endpoint's secret
        assert {e["type"] for e in events} == {"audit.entry.created"}
        by_action = {e["data"]["action"]: e["data"] for e in events}
        # The ESP endpoint's creation and the key's creation and roll (the SIEM endpoint was created
        # before it existed: no endpoint could receive that one).
        assert set(by_action) >= {"webhook_endpoint.created", "api_key.created", "api_key.rolled"}
        roll = by_action["api_key.rolled"]
        assert roll["resourceId"] == key["id"] and roll["actor"]["type"] == "key"
        assert roll["changes"]["after"]["replacedBy"] == rolled.json()["id"]
        listed = (await merchant.get("/api/v1/audit-log", params={"action": "api_key.rolled"})).json()["data"]
        assert [e["id"] for e in listed] == [roll["id"]]  # the event's data is the entry the API shows
        for secret in (key["secret"], rolled.json()["secret"], subscribed["secret"]):
            assert all(secret not in r.body.decode() for r in siem.received)
        assert not [r for r in esp.received if r.event["type"].startswith("audit.")]
    finally:
        await siem.stop()
        await esp.stop()
