"""A hold follows its payment: the single-use code a checkout reserved stays reserved while the payment
waits on 3-D Secure (however slow the bank, until the session expires), and is released when the
payment fails or the session expires. No code is left stuck reserved, none is lost to a slow bank."""

from __future__ import annotations

from tests.support.campaigns import campaign, code
from tests.support.cards import DECLINE_CARD, THREE_DS_CARD
from tests.support.envelopes import assert_envelope
from tests.support.shop import Shop


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
