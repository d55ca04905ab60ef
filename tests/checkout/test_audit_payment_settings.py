"""Payment settings in the audit log: the change is recorded, the Stripe keys and webhook secret never
(docs/audit-log.md)."""

from __future__ import annotations

from typing import Any

import msgspec
import sqlalchemy as sa
from kassa_platform.tables import audit_events, outbox_events

from tests.support.localstripe import LocalStripe
from tests.support.stripe_shop import StripeShop


async def test_stripe_keys_never_reach_the_audit_log(stripe_kassa: Any, localstripe: LocalStripe) -> None:
    shop = await StripeShop.open(stripe_kassa, localstripe)
    secrets = [localstripe.api_key, shop.webhook_secret]
    # A second change: a new webhook secret, the keys kept.
    rotated = "whsec_" + "R0tatedWebhookSecretForAudit00"
    again = await shop.t.put("/api/v1/payment-settings", {"provider": "stripe", "webhookSecret": rotated,
                                                          "captureMethod": "manual"})
    assert again.status_code == 200, again.text
    secrets.append(rotated)

    listed = (await shop.t.get("/api/v1/audit-log", params={"resourceType": "payment_settings"})).json()["data"]
    assert [e["action"] for e in listed] == ["payment_settings.updated"] * 2
    first, second = listed[1]["changes"], listed[0]["changes"]
    assert first["before"]["provider"] == "test" and first["after"]["provider"] == "stripe"
    assert first["after"]["secretKeyLast4"] == localstripe.api_key[-4:]
    assert second == {"before": {"captureMethod": "automatic", "webhookSecretLast4": shop.webhook_secret[-4:]},
                      "after": {"captureMethod": "manual", "webhookSecretLast4": rotated[-4:]}}

    async with stripe_kassa.backend.runtime.db() as conn:
        rows = (await conn.execute(sa.select(audit_events).where(audit_events.c.app_id == shop.t.app_id))).all()
        events = (await conn.execute(sa.select(outbox_events.c.payload).where(
            outbox_events.c.app_id == shop.t.app_id, outbox_events.c.type == "audit.entry.created"))).scalars().all()
    texts = [msgspec.json.encode(list(r._mapping.values())).decode() for r in rows] + [e.decode() for e in events]
    assert len(texts) >= 4
    for secret in secrets:
        assert len(secret) >= 20
        for text in texts:
            # (localstripe's keys share their tail with its public publishable key: the whole secret is searched)
            assert secret not in text, (secret, text)
