"""API versions end to end: every operation the shipped change touches answers in each version's
shape, and webhooks go to two endpoints on two versions, each signed over its own rendered body.

The change of 2026-12-07 renamed `connector` to `provider` on payments and payment methods (and the
`payment` of payment events); an application pinned to the first version must see no difference.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from kassa_contract.versions import FIRST_VERSION, LATEST_VERSION, VERSIONS
from kassa_platform.tables import audit_events
from svix.webhooks import Webhook, WebhookVerificationError

from tests.conftest import ADDRESS_DE
from tests.support.cards import OK_CARD
from tests.webhooks.conftest import Merchant, Webhooks, make_merchant
from tests.webhooks.receiver import Receiver

PROVIDER_FIELD = {FIRST_VERSION: "connector", LATEST_VERSION: "provider"}


async def _paid_session(merchant: Merchant) -> str:
    """A completed checkout (the checkout app answers on the backend's own client)."""
    product = await merchant.product({"EUR": 1500})
    cart = await merchant.cart(lineItems=[{"variantId": product["variants"][0]["id"], "quantity": 1}])
    checkout = merchant.backend.client
    session = await checkout.post("/api/v1/checkout/sessions", json={"cartId": cart["id"]}, headers=merchant.headers())
    assert session.status_code == 201, session.text
    done = await checkout.post(f"/api/v1/checkout-sessions/{session.json()['id']}/complete", headers=merchant.headers(),
                               json={"shippingAddress": ADDRESS_DE, "paymentMethod": OK_CARD})
    assert done.status_code == 200, done.text
    return session.json()["id"]


def _only_field(obj: dict[str, Any], version: str) -> None:
    """`obj` names its provider the way `version` does, and only that way."""
    wanted = PROVIDER_FIELD[version]
    other = PROVIDER_FIELD[LATEST_VERSION if version == FIRST_VERSION else FIRST_VERSION]
    assert obj[wanted] == "test" and other not in obj, (version, obj)


@pytest.mark.parametrize("version", VERSIONS)
async def test_every_touched_operation_answers_in_the_version_asked(webhooks: Webhooks, merchant: Merchant,
                                                                   version: str) -> None:
    session_id = await _paid_session(merchant)
    await webhooks.relay()
    asked = {"Kassa-Version": version}
    checkout = merchant.backend.client

    payments = await checkout.get(f"/api/v1/checkout-sessions/{session_id}/payments", headers=merchant.headers(**asked))
    assert payments.status_code == 200 and payments.headers["kassa-version"] == version
    _only_field(payments.json()["data"][0], version)
    # The hidden alias of the same operation answers the same way.
    alias = await checkout.get(f"/api/v1/checkout/sessions/{session_id}/payments", headers=merchant.headers(**asked))
    assert alias.json() == payments.json()

    methods = await checkout.get("/api/v1/payment-methods", headers=merchant.headers(**asked))
    assert methods.status_code == 200 and methods.headers["kassa-version"] == version
    for method in methods.json()["data"]:
        _only_field(method, version)

    listed = await merchant.get("/api/v1/events?type=payment.captured", headers=asked)
    assert listed.status_code == 200 and listed.headers["kassa-version"] == version
    [event] = listed.json()["data"]
    assert event["apiVersion"] == version
    _only_field(event["data"]["payment"], version)
    one = await merchant.get(f"/api/v1/events/{event['id']}", headers=asked)
    assert one.json() == event

    # Operations the change does not touch answer the same body in every version (only the header differs).
    session = await checkout.get(f"/api/v1/checkout-sessions/{session_id}", headers=merchant.headers(**asked))
    newest = await checkout.get(f"/api/v1/checkout-sessions/{session_id}",
                                headers=merchant.headers(**{"Kassa-Version": LATEST_VERSION}))
    assert session.json() == newest.json() and session.headers["kassa-version"] == version


async def test_an_application_pinned_to_the_first_version_sees_no_difference(webhooks: Webhooks) -> None:
    merchant = await make_merchant(webhooks, api_version=FIRST_VERSION)
    session_id = await _paid_session(merchant)
    checkout = merchant.backend.client
    pinned = await checkout.get(f"/api/v1/checkout-sessions/{session_id}/payments", headers=merchant.headers())
    assert pinned.headers["kassa-version"] == FIRST_VERSION
    _only_field(pinned.json()["data"][0], FIRST_VERSION)
    # A request may ask for another version in its header, whatever the pin.
    newest = await checkout.get(f"/api/v1/checkout-sessions/{session_id}/payments",
                                headers=merchant.headers(**{"Kassa-Version": LATEST_VERSION}))
    _only_field(newest.json()["data"][0], LATEST_VERSION)
    application = (await merchant.get("/api/v1/application")).json()
    assert (application["apiVersion"], application["latestApiVersion"], application["apiVersions"]) == (
        FIRST_VERSION, LATEST_VERSION, list(VERSIONS))


async def test_webhooks_to_two_endpoints_on_two_versions_are_each_signed_over_their_own_body(
        webhooks: Webhooks, merchant: Merchant) -> None:
    old, new = await Receiver().start(), await Receiver().start()
    try:
        old_endpoint = await merchant.endpoint(old, enabledEvents=["payment.*"], apiVersion=FIRST_VERSION)
        new_endpoint = await merchant.endpoint(new, enabledEvents=["payment.*"])
        assert (old_endpoint["apiVersion"], new_endpoint["apiVersion"]) == (FIRST_VERSION, LATEST_VERSION)
        await _paid_session(merchant)
        await webhooks.run()
        await old.wait_for(1)
        await new.wait_for(1)
        bodies = {}
        for receiver, endpoint, version in ((old, old_endpoint, FIRST_VERSION), (new, new_endpoint, LATEST_VERSION)):
            [got] = receiver.received
            # svix checks the signature over the exact bytes this endpoint received.
            Webhook(endpoint["secret"]).verify(got.body, got.headers)
            event = json.loads(got.body)
            assert (event["type"], event["apiVersion"]) == ("payment.captured", version)
            _only_field(event["data"]["payment"], version)
            bodies[version] = got.body
        assert bodies[FIRST_VERSION] != bodies[LATEST_VERSION]
        # One endpoint's signature does not verify the other's body: each signed its own rendering.
        with pytest.raises(WebhookVerificationError):
            Webhook(old_endpoint["secret"]).verify(bodies[LATEST_VERSION], old.received[0].headers)

        # An endpoint's version moves in place; the next event arrives in the new shape.
        moved = await merchant.patch(f"/api/v1/webhook-endpoints/{old_endpoint['id']}",
                                     {"apiVersion": LATEST_VERSION})
        assert moved.status_code == 200 and moved.json()["apiVersion"] == LATEST_VERSION
        await _paid_session(merchant)
        await webhooks.run()
        await old.wait_for(2)
        _only_field(json.loads(old.received[1].body)["data"]["payment"], LATEST_VERSION)
    finally:
        await old.stop()
        await new.stop()


async def test_an_unknown_version_is_refused_in_the_envelope(merchant: Merchant) -> None:
    for bad in ("2020-01-01", "latest", "2026-12-07x", ""):
        response = await merchant.get("/api/v1/application", headers={"Kassa-Version": bad})
        assert response.status_code == 400, bad
        error = response.json()["error"]
        assert error["code"] == "api_version_invalid" and error["details"]["versions"] == list(VERSIONS)
        assert all(v in error["message"] for v in VERSIONS)
    endpoint = await merchant.post("/api/v1/webhook-endpoints", {"url": "https://example.com/hook",
                                                                  "enabledEvents": ["*"], "apiVersion": "2001-01-01"})
    assert endpoint.status_code == 400 and endpoint.json()["error"]["code"] == "api_version_invalid"
    assert endpoint.json()["error"]["field"] == "apiVersion"


async def test_the_pin_moves_forward_only_and_each_move_is_audited(webhooks: Webhooks) -> None:
    merchant = await make_merchant(webhooks, api_version=FIRST_VERSION)
    back = await merchant.post("/api/v1/application/upgrade-version", {"version": "2001-01-01"})
    assert back.status_code == 400 and back.json()["error"]["code"] == "api_version_invalid"

    moved = await merchant.post("/api/v1/application/upgrade-version", {"version": LATEST_VERSION})
    assert moved.status_code == 200 and moved.json()["apiVersion"] == LATEST_VERSION
    # The next request of the same key gets the new pin (the key's cached principal was dropped).
    after = await merchant.get("/api/v1/application")
    assert after.headers["kassa-version"] == LATEST_VERSION
    again = await merchant.post("/api/v1/application/upgrade-version", {"version": LATEST_VERSION})
    assert again.status_code == 200  # the same version again: a retried upgrade succeeds

    refused = await merchant.post("/api/v1/application/upgrade-version", {"version": FIRST_VERSION})
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "api_version_downgrade"
    assert refused.json()["error"]["field"] == "version"

    async with merchant.backend.runtime.db() as conn:
        rows = (await conn.execute(sa.select(audit_events).where(audit_events.c.app_id == merchant.app_id))).all()
    assert [(r.action, r.changes) for r in rows] == [
        ("application.api_version_upgraded", {"before": {"apiVersion": FIRST_VERSION},
                                              "after": {"apiVersion": LATEST_VERSION}})]
    assert rows[0].actor_type == "key" and rows[0].actor_id.startswith("key_")


async def test_new_endpoints_take_the_applications_pin(webhooks: Webhooks) -> None:
    merchant = await make_merchant(webhooks, api_version=FIRST_VERSION)
    receiver = await Receiver().start()
    try:
        assert (await merchant.endpoint(receiver))["apiVersion"] == FIRST_VERSION
    finally:
        await receiver.stop()
