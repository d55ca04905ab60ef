"""Endpoint secrets are stored sealed; deliveries still verify with svix; a secret from before
sealing keeps signing; one that this deployment cannot open is never used to send unsigned."""

from __future__ import annotations

import sqlalchemy as sa
from kassa_platform.sealing import PREFIX, Sealer
from kassa_webhooks.config import SEALING_PURPOSE
from kassa_webhooks.tables import webhook_secrets

from tests.webhooks.conftest import Merchant
from tests.webhooks.receiver import Receiver

PATH = "/api/v1/webhook-endpoints"


async def stored_secrets(merchant: Merchant, endpoint_id: str) -> list[str]:
    async with merchant.backend.runtime.db() as conn:
        return list((await conn.execute(sa.select(webhook_secrets.c.secret)
                                        .where(webhook_secrets.c.endpoint_id == endpoint_id))).scalars())


async def overwrite_secrets(merchant: Merchant, endpoint_id: str, stored: str) -> None:
    async with merchant.backend.runtime.db.begin() as conn:
        await conn.execute(sa.update(webhook_secrets).where(webhook_secrets.c.endpoint_id == endpoint_id)
                           .values(secret=stored))


async def test_secrets_are_stored_sealed_and_deliveries_verify(merchant: Merchant, receiver: Receiver) -> None:
    created = await merchant.endpoint(receiver)
    [stored] = await stored_secrets(merchant, created["id"])
    assert stored.startswith(PREFIX) and created["secret"] not in stored and created["secret"][6:] not in stored
    rotated = (await merchant.post(f"{PATH}/{created['id']}/rotate-secret", {})).json()["secret"]
    assert all(s.startswith(PREFIX) and rotated not in s for s in await stored_secrets(merchant, created["id"]))
    receiver.secrets[:] = [rotated]  # the receiver verifies with the new secret alone
    event = await merchant.emit()
    await merchant.wh.run()
    assert receiver.event_ids == {event}


async def test_a_secret_stored_before_sealing_still_signs(merchant: Merchant, receiver: Receiver) -> None:
    created = await merchant.endpoint(receiver)
    await overwrite_secrets(merchant, created["id"], created["secret"])  # as rows written before sealing
    event = await merchant.emit()
    await merchant.wh.run()
    assert receiver.event_ids == {event}
    shown = (await merchant.get(f"{PATH}/{created['id']}")).json()["secret"]
    assert shown == "whsec_********" + created["secret"][-4:]


async def test_a_secret_this_deployment_cannot_open_is_never_used_to_send_unsigned(
        merchant: Merchant, receiver: Receiver) -> None:
    created = await merchant.endpoint(receiver)
    # Sealed under another signing key (the deployment's key was changed since).
    await overwrite_secrets(merchant, created["id"], Sealer("a former signing key", SEALING_PURPOSE)
                            .seal(created["secret"]))
    event = await merchant.emit()
    await merchant.wh.run()
    assert receiver.received == []  # nothing went out unsigned
    [delivery] = await merchant.deliveries(event_id=event)
    assert delivery.status == "pending" and delivery.last_error.startswith("no_signing_secret")
    assert (await merchant.get(f"{PATH}/{created['id']}")).json()["secret"] == "whsec_********"

    rotated = (await merchant.post(f"{PATH}/{created['id']}/rotate-secret", {})).json()["secret"]
    receiver.secrets[:] = [rotated]
    merchant.backend.clock.advance(seconds=60)  # past the first retry
    await merchant.wh.deliver()
    assert receiver.event_ids == {event}
