"""Endpoints: create, list, get, update, delete; URL rules; the secret shown once; rotation."""

from __future__ import annotations

import base64

import pytest
from kassa_contract.errors import KassaError
from kassa_webhooks.endpoint_secrets import check_secret, generate_secret, obfuscate
from kassa_webhooks.endpoints import matches
from svix.webhooks import Webhook

from tests.support.envelopes import assert_envelope
from tests.webhooks.conftest import Merchant, Webhooks, make_merchant
from tests.webhooks.receiver import Receiver

PATH = "/api/v1/webhook-endpoints"


async def test_create_shows_the_secret_once_then_obfuscated(merchant: Merchant, receiver: Receiver) -> None:
    created = await merchant.endpoint(receiver, enabledEvents=["cart.*", "order.created"], description="ERP")
    assert created["id"].startswith("we_") and created["url"] == receiver.url
    assert created["enabledEvents"] == ["cart.*", "order.created"] and created["disabled"] is False
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 24
    Webhook(secret)  # svix accepts it as it is
    got = (await merchant.get(f"{PATH}/{created['id']}")).json()
    assert got["secret"] == "whsec_********" + secret[-4:]
    assert {**got, "secret": secret} == created
    listed = (await merchant.get(PATH)).json()
    assert [e["id"] for e in listed["data"]] == [created["id"]] and listed["data"][0]["secret"] == got["secret"]


async def test_update_disable_enable_and_delete(merchant: Merchant, receiver: Receiver) -> None:
    created = await merchant.endpoint(receiver)
    path = f"{PATH}/{created['id']}"
    changed = (await merchant.patch(path, {"enabledEvents": ["cart.updated"], "description": None,
                                           "orderedDelivery": True, "maxConcurrency": 3})).json()
    assert changed["enabledEvents"] == ["cart.updated"] and changed["orderedDelivery"] is True
    assert changed["maxConcurrency"] == 3 and changed["updatedAt"] >= created["updatedAt"]
    off = (await merchant.patch(path, {"disabled": True})).json()
    assert off["disabled"] is True and off["disabledReason"] == "manual" and off["disabledAt"]
    on = (await merchant.patch(path, {"disabled": False})).json()
    assert on["disabled"] is False and on["disabledReason"] is None
    assert (await merchant.delete(path)).status_code == 204
    assert_envelope(await merchant.get(path), 404, "webhook_endpoint_not_found")
    assert (await merchant.get(PATH)).json()["data"] == []


async def test_validation_errors_name_the_field(merchant: Merchant) -> None:
    bad_event = await merchant.post(PATH, {"url": "https://example.com/h", "enabledEvents": ["Cart Updated"]})
    assert_envelope(bad_event, 422, "validation_error", "enabledEvents[0]")
    assert_envelope(await merchant.post(PATH, {"url": "https://example.com/h", "enabledEvents": []}), 422,
                    "validation_error", "enabledEvents")
    unknown = await merchant.post(PATH, {"url": "https://example.com/h", "enabledEvents": ["*"], "events": ["x"]})
    assert_envelope(unknown, 422, "validation_error", "events")
    weak = await merchant.post(PATH, {"url": "https://example.com/h", "enabledEvents": ["*"],
                                      "secret": "whsec_" + base64.b64encode(b"short").decode()})
    assert_envelope(weak, 422, "webhook_secret_invalid", "secret")


async def test_url_rules(webhooks: Webhooks) -> None:
    live = await make_merchant(webhooks, environment="live")
    webhooks.module.config.allow_private_apps.discard(live.app_id)
    body = {"enabledEvents": ["*"]}
    assert_envelope(await live.post(PATH, {"url": "http://example.com/h", **body}), 422, "webhook_url_invalid", "url")
    assert (await live.post(PATH, {"url": "https://example.com/h", **body})).status_code == 201
    for private in ("https://127.0.0.1/h", "https://10.1.2.3/h", "https://[::1]/h", "https://169.254.169.254/x",
                    "https://localhost/h", "https://[::ffff:192.168.0.1]/h"):
        assert_envelope(await live.post(PATH, {"url": private, **body}), 422, "webhook_url_invalid", "url")
    assert_envelope(await live.post(PATH, {"url": "https://user:pw@example.com/h", **body}), 422,
                    "webhook_url_invalid", "url")
    assert_envelope(await live.post(PATH, {"url": "ftp://example.com/h", **body}), 422, "webhook_url_invalid", "url")
    test_mode = await make_merchant(webhooks)
    assert (await test_mode.post(PATH, {"url": "http://example.com/h", **body})).status_code == 201


async def test_the_scope_is_required(merchant: Merchant) -> None:
    key = await merchant.scoped_key(["carts:read"])
    denied = await merchant.get(PATH, key=key)
    assert_envelope(denied, 403, "forbidden")
    assert (await merchant.get(PATH, key=await merchant.scoped_key(["webhooks:manage"]))).status_code == 200
    assert_envelope(await merchant.get(PATH, key=merchant.publishable_key), 403, "forbidden")


async def test_another_application_sees_nothing(webhooks: Webhooks, merchant: Merchant, receiver: Receiver) -> None:
    created = await merchant.endpoint(receiver)
    other = await make_merchant(webhooks)
    assert_envelope(await other.get(f"{PATH}/{created['id']}"), 404, "webhook_endpoint_not_found")
    assert_envelope(await other.delete(f"{PATH}/{created['id']}"), 404, "webhook_endpoint_not_found")


async def test_rotation_returns_the_new_secret_once(merchant: Merchant, receiver: Receiver) -> None:
    created = await merchant.endpoint(receiver)
    rotated = await merchant.post(f"{PATH}/{created['id']}/rotate-secret", {"overlapHours": 2})
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new.startswith("whsec_") and new != created["secret"]
    assert (await merchant.get(f"{PATH}/{created['id']}")).json()["secret"] == "whsec_********" + new[-4:]
    assert_envelope(await merchant.post(f"{PATH}/{created['id']}/rotate-secret", {"overlapHours": 1000}), 422,
                    "validation_error", "overlapHours")


def test_secret_helpers() -> None:
    secret = generate_secret()
    assert check_secret(secret) == secret
    assert obfuscate(secret) == "whsec_********" + secret[-4:]
    # A short secret shows nothing of itself; a long one at most its last 4 characters.
    assert obfuscate("whsec_abc") == "whsec_********"
    assert obfuscate("whsec_" + "a" * 15) == "whsec_********"
    for bad in ("abc", "whsec_!!!", "whsec_" + base64.b64encode(b"x" * 23).decode(),
                "whsec_" + base64.b64encode(b"x" * 65).decode()):
        with pytest.raises(KassaError):
            check_secret(bad)


def test_event_patterns() -> None:
    assert matches(["cart.updated"], "cart.updated") and not matches(["cart.updated"], "cart.created")
    assert matches(["cart.*"], "cart.abandoned") and not matches(["cart.*"], "cartx.created")
    assert not matches(["cart.*"], "order.created") and matches(["*"], "order.created")
