"""A hold follows its payment: the single-use code a checkout reserved stays reserved while the payment
waits on 3-D Secure (however slow the bank, until the session expires), and is released when the
payment fails or the session expires. No code is left stuck reserved, none is lost to a slow bank.
With the test connector, and with Stripe (localstripe)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import ADDRESS_DE
from tests.support.campaigns import campaign, code
from tests.support.cards import DECLINE_CARD, THREE_DS_CARD
from tests.support.envelopes import assert_envelope
from tests.support.localstripe import LocalStripe
from tests.support.served import KassaWeb
from tests.support.shop import Shop
from tests.support.stripe_shop import THREE_D_SECURE, StripeShop


async def _code_session(shop: Shop, text: str, **session: object) -> tuple[dict, dict]:
    camp = await campaign(shop.t, reward={"type": "fixed_off", "amounts": {"EUR": 300}})
    await code(shop.t, camp["id"], code=text, usageLimit=1)
    cart = await shop.cart(discountCodes=[text])
    return camp, await shop.session(cart["id"], **session)


async def _code_state(shop: Shop, text: str) -> tuple[str, int, int]:
    c = (await shop.t.get(f"/api/v1/codes/{text}")).json()
    return c["status"], c["uses"], c["reservedUses"]


async def _run_jobs(shop: Shop) -> None:
    runner = shop.backend.runtime.runner
    assert runner is not None
    for job in ("expire_redemptions", "expire_redemption_holds", "expire_checkout_sessions"):
        await runner.run_cron(job)


async def test_the_hold_outlasts_a_slow_3ds_challenge(shop: Shop) -> None:
    _camp, session = await _code_session(shop, "SLOWBANK", expiresInMinutes=1440)
    assert_envelope(await shop.complete(session["id"], THREE_DS_CARD), 402, "payment_action_required")
    assert await _code_state(shop, "SLOWBANK") == ("reserved", 0, 1)
    # Three hours in the bank's challenge: the session is open, so the code stays held for it.
    shop.backend.clock.advance(hours=3)
    await _run_jobs(shop)
    assert await _code_state(shop, "SLOWBANK") == ("reserved", 0, 1)
    done = await shop.complete(session["id"], {**THREE_DS_CARD, "actionResult": "approved"})
    assert done.status_code == 200, done.text
    assert await _code_state(shop, "SLOWBANK") == ("redeemed", 1, 0)


async def test_a_failed_payment_releases_the_hold(shop: Shop) -> None:
    _camp, session = await _code_session(shop, "DECLINED1")
    assert_envelope(await shop.complete(session["id"], DECLINE_CARD), 402, "payment_declined")
    assert await _code_state(shop, "DECLINED1") == ("active", 0, 0)
    # A failed 3-D Secure challenge too.
    assert_envelope(await shop.complete(session["id"], THREE_DS_CARD), 402, "payment_action_required")
    assert await _code_state(shop, "DECLINED1") == ("reserved", 0, 1)
    failed = await shop.complete(session["id"], {**THREE_DS_CARD, "actionResult": "declined"})
    assert_envelope(failed, 402, "payment_declined")
    assert await _code_state(shop, "DECLINED1") == ("active", 0, 0)


async def test_an_expired_session_releases_the_hold_of_a_waiting_payment(shop: Shop) -> None:
    _camp, session = await _code_session(shop, "ABANDON3DS", expiresInMinutes=30)
    assert_envelope(await shop.complete(session["id"], THREE_DS_CARD), 402, "payment_action_required")
    assert await _code_state(shop, "ABANDON3DS") == ("reserved", 0, 1)
    shop.backend.clock.advance(minutes=31)
    await _run_jobs(shop)
    seen = (await shop.t.get(f"/api/v1/checkout/sessions/{session['id']}")).json()
    assert seen["status"] == "expired"
    assert await _code_state(shop, "ABANDON3DS") == ("active", 0, 0)


# ---------------------------------------------------------------- the same with Stripe (localstripe)


@pytest.fixture(scope="module")
async def slow_bank_kassa(localstripe: Any, testrun_uid: str) -> AsyncIterator[KassaWeb]:
    """Kassa with Stripe on a database and a clock of its own (the tests move the clock by hours)."""
    from tests.conftest import worker_id
    from tests.support.served import serve_kassa

    async with serve_kassa(f"kassa_holds_{testrun_uid[:8]}_{worker_id()}", stripe_api_base=localstripe.url,
                           stripe_js_url=localstripe.js_url) as web:
        yield web


async def test_with_stripe_the_hold_outlasts_3ds_and_a_refusal_releases_it(slow_bank_kassa: KassaWeb,
                                                                             localstripe: LocalStripe) -> None:
    shop = await StripeShop.open(slow_bank_kassa, localstripe)
    for text in ("STRIPESLOW", "STRIPENO"):
        camp = await campaign(shop.t, reward={"type": "fixed_off", "amounts": {"EUR": 300}})
        await code(shop.t, camp["id"], code=text, usageLimit=1)

    async def session_with(text: str) -> dict[str, Any]:
        cart = await shop.t.cart(lineItems=[{"variantId": shop.variant}], shippingAddress=ADDRESS_DE,
                                 discountCodes=[text])
        response = await shop.t.post("/api/v1/checkout/sessions", {"cartId": cart["id"], "expiresInMinutes": 1440})
        assert response.status_code == 201, response.text
        return response.json()

    async def state(text: str) -> tuple[str, int, int]:
        c = (await shop.t.get(f"/api/v1/codes/{text}")).json()
        return c["status"], c["uses"], c["reservedUses"]

    slow, refused = await session_with("STRIPESLOW"), await session_with("STRIPENO")
    waiting = [await shop.pay_card(s["id"], THREE_D_SECURE) for s in (slow, refused)]
    assert [w.json()["error"]["code"] for w in waiting] == ["payment_action_required"] * 2
    assert [await state(t) for t in ("STRIPESLOW", "STRIPENO")] == [("reserved", 0, 1)] * 2
    slow_bank_kassa.backend.clock.advance(hours=3)
    runner = slow_bank_kassa.backend.runtime.runner
    assert runner is not None
    for job in ("expire_redemptions", "expire_redemption_holds", "expire_checkout_sessions"):
        await runner.run_cron(job)
    assert [await state(t) for t in ("STRIPESLOW", "STRIPENO")] == [("reserved", 0, 1)] * 2

    intents = [w.json()["error"]["details"]["nextAction"]["paymentIntentId"] for w in waiting]
    await localstripe.authenticate(intents[0], success=True)
    done = await shop.complete(slow["id"], {"actionResult": "approved"})
    assert done.status_code == 200, done.text
    assert await state("STRIPESLOW") == ("redeemed", 1, 0)
    await localstripe.authenticate(intents[1], success=False)
    no = await shop.complete(refused["id"], {"actionResult": "approved"})
    assert no.status_code == 402 and no.json()["error"]["code"] == "payment_declined", no.text
    assert await state("STRIPENO") == ("active", 0, 0)
