"""@kassa/webhooks' verifyWebhook on real deliveries from Kassa, and on the same payloads tampered
with or re-signed, compared with the official svix library's verdict on each."""

from __future__ import annotations

import base64
import contextlib
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kassa_webhooks import jobs
from svix.webhooks import Webhook, WebhookVerificationError

from tests.conftest import Tenant
from tests.sdk_js.conftest import RunNode, passed
from tests.support.served import KassaWeb
from tests.webhooks.receiver import Receiver


async def deliver(kassa: KassaWeb, receiver: Receiver, count: int) -> None:
    """Relay the outbox and deliver now (the fixture's server runs no outbox waker), until `count` arrived."""
    ctx = kassa.backend.runtime.job_context()
    for _ in range(5):
        await jobs.relay_outbox(ctx)
        await jobs.deliver_webhooks(ctx)
        with contextlib.suppress(TimeoutError):
            await receiver.wait_for(count, timeout=2)
            return
    raise AssertionError(f"{len(receiver.ok())} of {count} deliveries arrived")


def svix_verdict(body: str, headers: dict[str, str], secrets: list[str], now: datetime) -> str:
    """svix checks the timestamp against its own clock: cases off the clock are re-signed by svix."""
    for secret in secrets:
        try:
            Webhook(secret).verify(body, headers)
            return "ok"
        except WebhookVerificationError:
            continue
    return "error"


def signed(secret: str, event_id: str, at: datetime, body: str) -> dict[str, str]:
    return {"webhook-id": event_id, "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": Webhook(secret).sign(event_id, at, body)}


async def test_verify_webhook_agrees_with_svix_on_real_deliveries(js_build: Path, js_tenant: Tenant, kassa: KassaWeb,
                                                                  run_node: RunNode, tmp_path: Path) -> None:
    receiver = await Receiver().start()
    try:
        endpoint = (await js_tenant.post("/api/v1/webhook-endpoints", {
            "url": receiver.url, "enabledEvents": ["cart.*", "webhook_endpoint.test"]})).json()
        secret = endpoint["secret"]
        receiver.secrets.append(secret)
        cart = await js_tenant.cart()
        await js_tenant.patch(f"/api/v1/carts/{cart['id']}", {"customerEmail": "ada@example.com"})
        await js_tenant.post(f"/api/v1/webhook-endpoints/{endpoint['id']}/test")
        await deliver(kassa, receiver, 3)
        # A rotation: the next deliveries carry two signatures, the new secret's and the old one's.
        rotated = (await js_tenant.post(f"/api/v1/webhook-endpoints/{endpoint['id']}/rotate-secret",
                                        {"overlapHours": 1})).json()
        new_secret = rotated["secret"]
        receiver.secrets.append(new_secret)
        await js_tenant.post(f"/api/v1/webhook-endpoints/{endpoint['id']}/test")
        await deliver(kassa, receiver, 4)
    finally:
        await receiver.stop()

    now = datetime.now(UTC)
    now_ms = int(now.timestamp() * 1000)
    cases: list[dict[str, Any]] = []

    def case(name: str, body: str, headers: dict[str, str], secrets: list[str], *, at: datetime = now,
             reason: str | None = None) -> None:
        cases.append({"name": name, "body": body, "headers": headers, "secrets": secrets,
                      "now": int(at.timestamp() * 1000), "svix": svix_verdict(body, headers, secrets, at),
                      "reason": reason})

    deliveries = receiver.ok()
    assert len(deliveries) >= 4 and all(d.verified for d in deliveries)
    types = {d.event["type"] for d in deliveries}
    assert {"cart.created", "cart.updated", "webhook_endpoint.test"} <= types
    for i, got in enumerate(deliveries):
        headers = {k: v for k, v in got.headers.items() if k.startswith("webhook-")}
        body = got.body.decode()
        secrets = [new_secret] if i == len(deliveries) - 1 else [secret]
        case(f"delivery {i} ({got.event['type']})", body, headers, secrets)
        case(f"delivery {i}, body changed", body.replace('"version"', '"Version"'), headers, secrets,
             reason="no_matching_signature")
        case(f"delivery {i}, another secret", body, headers, ["whsec_" + base64.b64encode(os.urandom(24)).decode()],
             reason="no_matching_signature")
        case(f"delivery {i}, no signature header", body, {k: v for k, v in headers.items() if k != "webhook-signature"},
             secrets, reason="missing_headers")
    last = deliveries[-1]
    assert len(last.headers["webhook-signature"].split(" ")) == 2, "signed with both secrets during the overlap"
    last_headers = {k: v for k, v in last.headers.items() if k.startswith("webhook-")}
    case("rotation: the old secret still verifies", last.body.decode(), last_headers, [secret])
    # Re-signed by svix at other times: within the tolerance, too old, from the future.
    body = deliveries[0].body.decode()
    event_id = deliveries[0].event["id"]
    for name, delta, reason in (("signed 4 minutes ago", -240, None), ("signed 6 minutes ago", -360, "timestamp_too_old"),
                                ("signed 6 minutes ahead", 360, "timestamp_too_new")):
        at = now + timedelta(seconds=delta)
        headers = signed(secret, event_id, at, body)
        cases.append({"name": name, "body": body, "headers": headers, "secrets": [secret], "now": now_ms,
                      "svix": svix_verdict(body, headers, [secret], now), "reason": reason})
    assert [c["svix"] for c in cases[-3:]] == ["ok", "error", "error"]

    path = tmp_path / "cases.json"
    path.write_text(json.dumps(cases))
    output = await run_node(js_build / "packages" / "webhooks" / "test" / "verify.test.js", tenant=js_tenant,
                            env={"KASSA_WEBHOOK_CASES": str(path)})
    assert passed(output) == 2, output
