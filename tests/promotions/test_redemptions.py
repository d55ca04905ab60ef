"""RedemptionStore: two-step redemption (reserve → confirm), release, expiry, cancellation, and
the limits under concurrency. Campaign and code rows are inserted directly; every test has its
own application id because the databases are shared."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from kassa_contract.errors import KassaError
from kassa_platform.db import transaction
from kassa_platform.ids import new_id
from kassa_promotions.model import AppliedDiscount, GiftCardSpend
from kassa_promotions.store.redemptions import (
    BUDGET_CLAMPED,
    GIFT_CARD_CLAMPED,
    SUPERSEDED,
    RedemptionStore,
    ReservationRequest,
    ReserveResult,
)
from kassa_promotions.store.tables import campaigns, codes, redemptions

from tests.conftest import Backend

store = RedemptionStore()
TTL = timedelta(minutes=15)


# ---------------------------------------------------------------------------------- helpers


async def make_campaign(b: Backend, app_id: str, *, usage_limit: int | None = None, budget: int | None = None,
                        trigger: str = "code", active: bool = True, name: str = "Spring sale") -> str:
    cid = new_id("camp")
    now = b.clock.now()
    async with transaction(b.runtime.db) as conn:
        await conn.execute(sa.insert(campaigns).values(
            id=cid, app_id=app_id, name=name, trigger=trigger, definition={"reward": {"type": "fixed_off"}},
            active=active, usage_limit=usage_limit, budget=budget, created_at=now, updated_at=now))
    return cid


async def make_code(b: Backend, app_id: str, campaign_id: str, *, usage_limit: int | None = None,
                    balance: int | None = None, status: str = "active", assigned_to: str | None = None) -> str:
    cid = new_id("vch")
    text = cid[-10:].upper()
    now = b.clock.now()
    async with transaction(b.runtime.db) as conn:
        await conn.execute(sa.insert(codes).values(
            id=cid, app_id=app_id, campaign_id=campaign_id, code=text, code_key=text, status=status,
            usage_limit=usage_limit, balance=balance, assigned_to=assigned_to, created_at=now, updated_at=now))
    return cid


async def row(b: Backend, table: sa.Table, ident: str) -> Any:
    async with transaction(b.runtime.db) as conn:
        return (await conn.execute(sa.select(table).where(table.c.id == ident))).one()


def req(campaign_id: str, code_id: str | None = None, amount: int = 500, gift: bool = False) -> ReservationRequest:
    return ReservationRequest(campaign_id=campaign_id, code_id=code_id, code=code_id and code_id[-10:].upper(),
                              amount=amount, gift_card=gift)


async def reserve(b: Backend, app_id: str, cart_id: str, *requests: ReservationRequest,
                  ttl: timedelta = TTL, customer: str | None = "cus_1") -> ReserveResult:
    async with transaction(b.runtime.db) as conn:
        return await store.reserve(conn, app_id=app_id, cart_id=cart_id, customer=customer, currency="EUR",
                                   requests=list(requests), now=b.clock.now(), ttl=ttl)


async def confirm(b: Backend, app_id: str, cart_id: str, order_id: str) -> list:
    async with transaction(b.runtime.db) as conn:
        return await store.confirm(conn, app_id=app_id, cart_id=cart_id, order_id=order_id, now=b.clock.now())


async def release(b: Backend, app_id: str, cart_id: str) -> int:
    async with transaction(b.runtime.db) as conn:
        return await store.release(conn, app_id=app_id, cart_id=cart_id, now=b.clock.now())


async def cancel(b: Backend, app_id: str, order_id: str) -> list:
    async with transaction(b.runtime.db) as conn:
        return await store.cancel_order(conn, app_id=app_id, order_id=order_id, now=b.clock.now())


async def counters(b: Backend, campaign_id: str, code_id: str | None = None) -> dict[str, Any]:
    c = await row(b, campaigns, campaign_id)
    out: dict[str, Any] = {"uses": c.uses, "reserved_uses": c.reserved_uses, "granted": c.granted,
                           "reserved_amount": c.reserved_amount}
    if code_id:
        k = await row(b, codes, code_id)
        out |= {"code_uses": k.uses, "code_reserved": k.reserved_uses, "balance": k.balance, "status": k.status}
    return out


# ---------------------------------------------------------------------------------- the two steps


async def test_reserve_confirm_and_idempotent_confirm(backend: Backend) -> None:
    app = new_id("app")
    camp = await make_campaign(backend, app, usage_limit=10, budget=10_000)
    code = await make_code(backend, app, camp, usage_limit=5)

    result = await reserve(backend, app, "cart_a", req(camp, code, 500))
    (out,) = result.outcomes
    assert out.granted and out.amount == 500 and not out.clamped and result.all_granted
    assert result.expires_at == (await row(backend, redemptions, out.redemption_id)).expires_at
    assert await counters(backend, camp, code) == {
        "uses": 0, "reserved_uses": 1, "granted": 0, "reserved_amount": 500,
        "code_uses": 0, "code_reserved": 1, "balance": None, "status": "active"}

    confirmed = await confirm(backend, app, "cart_a", "ord_1")
    assert [(r.id, r.status, r.order_id, r.amount) for r in confirmed] == [
        (out.redemption_id, "confirmed", "ord_1", 500)]
    after = await counters(backend, camp, code)
    assert after == {"uses": 1, "reserved_uses": 0, "granted": 500, "reserved_amount": 0,
                     "code_uses": 1, "code_reserved": 0, "balance": None, "status": "active"}

    again = await confirm(backend, app, "cart_a", "ord_1")
    assert again == confirmed
    assert await counters(backend, camp, code) == after


async def test_release_gives_everything_back_and_is_idempotent(backend: Backend) -> None:
    app = new_id("app")
    camp = await make_campaign(backend, app, usage_limit=3, budget=2_000)
    code = await make_code(backend, app, camp, usage_limit=1)
    gift_camp = await make_campaign(backend, app, name="Gift cards")
    gift = await make_code(backend, app, gift_camp, balance=5_000)

    result = await reserve(backend, app, "cart_r", req(camp, code, 700), req(gift_camp, gift, 1_200, gift=True))
    assert [o.granted for o in result.outcomes] == [True, True]
    assert (await counters(backend, gift_camp, gift))["balance"] == 3_800

    assert await release(backend, app, "cart_r") == 2
    assert await counters(backend, camp, code) == {
        "uses": 0, "reserved_uses": 0, "granted": 0, "reserved_amount": 0,
        "code_uses": 0, "code_reserved": 0, "balance": None, "status": "active"}
    assert (await counters(backend, gift_camp, gift))["balance"] == 5_000
    async with transaction(backend.runtime.db) as conn:
        rows, _ = await store.list(conn, app_id=app, limit=10)
    assert {(r.status, r.reason) for r in rows} == {("released", "released")}

    assert await release(backend, app, "cart_r") == 0
    assert (await counters(backend, camp))["reserved_uses"] == 0


async def test_reservations_expire_after_ttl_and_confirm_retakes_them(backend: Backend) -> None:
    app = new_id("app")
    camp = await make_campaign(backend, app, usage_limit=5, budget=5_000)
    code = await make_code(backend, app, camp, usage_limit=1)
    (out,) = (await reserve(backend, app, "cart_t", req(camp, code, 400), ttl=timedelta(minutes=10))).outcomes

    async with transaction(backend.runtime.db) as conn:
        await store.expire(conn, now=backend.clock.now())
    assert (await row(backend, redemptions, out.redemption_id)).status == "reserved"

    backend.clock.advance(minutes=11)
    async with transaction(backend.runtime.db) as conn:
        assert await store.expire(conn, now=backend.clock.now(), limit=2) >= 1
    red = await row(backend, redemptions, out.redemption_id)
    assert (red.status, red.reason) == ("released", "expired")
    assert await counters(backend, camp, code) == {
        "uses": 0, "reserved_uses": 0, "granted": 0, "reserved_amount": 0,
        "code_uses": 0, "code_reserved": 0, "balance": None, "status": "active"}

    # The order is placed anyway: the lapsed reservation is taken again under the same limits.
    confirmed = await confirm(backend, app, "cart_t", "ord_t")
    assert [(r.id, r.status, r.reason) for r in confirmed] == [(out.redemption_id, "confirmed", None)]
    assert await counters(backend, camp, code) == {
        "uses": 1, "reserved_uses": 0, "granted": 400, "reserved_amount": 0,
        "code_uses": 1, "code_reserved": 0, "balance": None, "status": "redeemed"}


async def test_confirm_after_expiry_fails_when_the_use_is_gone(backend: Backend) -> None:
    app = new_id("app")
    camp = await make_campaign(backend, app, budget=1_000)
    code = await make_code(backend, app, camp, usage_limit=1)
    other = await make_campaign(backend, app, name="Other")
    (out, _) = (await reserve(backend, app, "cart_x", req(camp, code, 300), req(other, None, 100))).outcomes
    async with transaction(backend.runtime.db) as conn:
        assert await store.release(conn, app_id=app, cart_id="cart_x", now=backend.clock.now(), reason="abandoned") == 2
    assert (await reserve(backend, app, "cart_y", req(camp, code, 300))).all_granted  # someone else takes the code

    with pytest.raises(KassaError) as err:
        await confirm(backend, app, "cart_x", "ord_x")
    assert (err.value.code, err.value.status) == ("redemption_expired", 409)
    # Nothing was confirmed, not even the redemption that would still have fit.
    red = await row(backend, redemptions, out.redemption_id)
    assert (red.status, red.order_id, red.reason) == ("released", None, "abandoned")
    assert await counters(backend, other) == {"uses": 0, "reserved_uses": 0, "granted": 0, "reserved_amount": 0}
    assert (await counters(backend, camp, code))["code_reserved"] == 1


async def test_re_reserving_a_cart_does_not_double_count(backend: Backend) -> None:
    app = new_id("app")
    camp = await make_campaign(backend, app, usage_limit=1, budget=1_000)
    code = await make_code(backend, app, camp, usage_limit=1)

    first = await reserve(backend, app, "cart_rr", req(camp, code, 600))
    second = await reserve(backend, app, "cart_rr", req(camp, code, 800))  # the cart changed: reserve again
    assert second.released == 1 and second.all_granted and second.outcomes[0].amount == 800
    assert await counters(backend, camp, code) == {
        "uses": 0, "reserved_uses": 1, "granted": 0, "reserved_amount": 800,
        "code_uses": 0, "code_reserved": 1, "balance": None, "status": "reserved"}
    old = await row(backend, redemptions, first.outcomes[0].redemption_id)
    assert (old.status, old.reason) == ("released", SUPERSEDED)

    # Another cart cannot get the single use this cart holds.
    assert not (await reserve(backend, app, "cart_other", req(camp, code, 100))).outcomes[0].granted

    # Confirming takes only the latest reservation, never the superseded one.
    confirmed = await confirm(backend, app, "cart_rr", "ord_rr")
    assert [r.id for r in confirmed] == [second.outcomes[0].redemption_id]
    assert (await counters(backend, camp))["granted"] == 800


async def test_cancel_order_gives_back_uses_budget_and_gift_card_value(backend: Backend) -> None:
    app = new_id("app")
    camp = await make_campaign(backend, app, usage_limit=10, budget=5_000)
    code = await make_code(backend, app, camp, usage_limit=2)
    gift_camp = await make_campaign(backend, app, name="Gift cards")
    gift = await make_code(backend, app, gift_camp, balance=2_500)
    auto = await make_campaign(backend, app, trigger="automatic", budget=1_000, name="Welcome")

    await reserve(backend, app, "cart_c", req(camp, code, 900), req(auto, None, 250),
                  req(gift_camp, gift, 2_500, gift=True))
    confirmed = await confirm(backend, app, "cart_c", "ord_c")
    assert len(confirmed) == 3
    assert await counters(backend, gift_camp, gift) == {
        "uses": 1, "reserved_uses": 0, "granted": 2_500, "reserved_amount": 0,
        "code_uses": 1, "code_reserved": 0, "balance": 0, "status": "redeemed"}

    cancelled = await cancel(backend, app, "ord_c")
    assert sorted(r.id for r in cancelled) == sorted(r.id for r in confirmed)
    assert {(r.status, r.reason) for r in cancelled} == {("cancelled", "cancelled")}
    zero = {"uses": 0, "reserved_uses": 0, "granted": 0, "reserved_amount": 0}
    assert await counters(backend, camp, code) == {**zero, "code_uses": 0, "code_reserved": 0, "balance": None,
                                                   "status": "active"}
    assert await counters(backend, auto) == zero
    assert await counters(backend, gift_camp, gift) == {**zero, "code_uses": 0, "code_reserved": 0, "balance": 2_500,
                                                        "status": "active"}

    assert await cancel(backend, app, "ord_c") == cancelled  # idempotent
    assert await counters(backend, camp) == zero
    # Confirming the cancelled order again changes nothing either.
    assert await confirm(backend, app, "cart_c", "ord_c") == []
    assert await counters(backend, camp) == zero


async def test_budget_that_cannot_cover_the_amount_grants_what_is_left(backend: Backend) -> None:
    app = new_id("app")
    auto = await make_campaign(backend, app, trigger="automatic", budget=1_000, name="Summer")

    assert (await reserve(backend, app, "cart_1", req(auto, None, 700))).all_granted
    clamped = await reserve(backend, app, "cart_2", req(auto, None, 500))
    (out,) = clamped.outcomes
    assert (out.granted, out.clamped, out.requested, out.amount, out.reason) == (True, True, 500, 300, BUDGET_CLAMPED)
    assert out.message == '"Summer" has almost run out: a discount of 3.00 EUR instead of 5.00 EUR applies'
    assert not clamped.all_granted and clamped.amount == 300
    red = await row(backend, redemptions, out.redemption_id)
    assert (red.status, red.amount, red.reason) == ("reserved", 300, BUDGET_CLAMPED)

    (gone,) = (await reserve(backend, app, "cart_3", req(auto, None, 100))).outcomes
    assert (gone.granted, gone.reason) == (False, "budget_exhausted")
    assert gone.message == '"Summer" is no longer available: the offer has run out'
    assert await counters(backend, auto) == {"uses": 0, "reserved_uses": 2, "granted": 0, "reserved_amount": 1_000}

    # Released budget is available again; a zero amount always fits.
    await release(backend, app, "cart_2")
    assert (await reserve(backend, app, "cart_3", req(auto, None, 300))).all_granted
    assert (await reserve(backend, app, "cart_4", req(auto, None, 0))).all_granted


async def test_gift_card_partial_spend_keeps_the_rest(backend: Backend) -> None:
    app = new_id("app")
    gift_camp = await make_campaign(backend, app, name="Gift cards")
    gift = await make_code(backend, app, gift_camp, balance=5_000)

    spend = ReservationRequest.from_discount(
        AppliedDiscount(campaign_id=gift_camp, code="GIFT", name="Gift cards", reward_type="gift_card", amount=2_000,
                        lines={}, gift_card=GiftCardSpend(spent=2_000, balance_left=3_000)), gift)
    assert spend.gift_card and spend.amount == 2_000
    assert (await reserve(backend, app, "cart_g1", spend)).all_granted
    await confirm(backend, app, "cart_g1", "ord_g1")
    after = await counters(backend, gift_camp, gift)
    assert (after["balance"], after["status"], after["code_uses"]) == (3_000, "active", 1)

    # The card ran lower than the cart was priced with: it pays what is left, and says so.
    (out,) = (await reserve(backend, app, "cart_g2", req(gift_camp, gift, 4_000, gift=True))).outcomes
    assert (out.granted, out.clamped, out.amount, out.reason) == (True, True, 3_000, GIFT_CARD_CLAMPED)
    assert out.message == "This gift card had only 30.00 EUR left, so 30.00 EUR of 40.00 EUR is paid with it"
    held = await counters(backend, gift_camp, gift)
    assert (held["balance"], held["status"], held["reserved_amount"]) == (0, "reserved", 3_000)

    (empty,) = (await reserve(backend, app, "cart_g3", req(gift_camp, gift, 100, gift=True))).outcomes
    assert (empty.granted, empty.reason, empty.message) == (
        False, "gift_card_empty", "This gift card has no balance left")

    await confirm(backend, app, "cart_g2", "ord_g2")
    done = await counters(backend, gift_camp, gift)
    assert (done["balance"], done["status"], done["granted"]) == (0, "redeemed", 5_000)
    (empty,) = (await reserve(backend, app, "cart_g4", req(gift_camp, gift, 100, gift=True))).outcomes
    assert empty.reason == "gift_card_empty"


async def test_rejections_are_recorded_with_their_reason_and_undo_earlier_steps(backend: Backend) -> None:
    app = new_id("app")
    camp = await make_campaign(backend, app, usage_limit=100, budget=10_000)
    used_up = await make_code(backend, app, camp, usage_limit=1)
    deactivated = await make_code(backend, app, camp, status="deactivated")
    limited = await make_campaign(backend, app, trigger="automatic", usage_limit=1, name="First hundred")
    off = await make_campaign(backend, app, trigger="automatic", active=False, name="Old offer")
    gift_camp = await make_campaign(backend, app, name="Gift cards")
    empty_gift = await make_code(backend, app, gift_camp, balance=0)
    wrong_campaign = await make_code(backend, app, gift_camp)

    await reserve(backend, app, "cart_0", req(camp, used_up, 100), req(limited, None, 100))
    await confirm(backend, app, "cart_0", "ord_0")
    before = await counters(backend, camp)

    result = await reserve(backend, app, "cart_j", req(camp, used_up, 100), req(camp, deactivated, 100),
                           req(limited, None, 100), req(off, None, 100), req(gift_camp, empty_gift, 100, gift=True),
                           req(camp, wrong_campaign, 100), req(camp, None, 50))
    assert [(o.granted, o.reason) for o in result.outcomes] == [
        (False, "code_usage_limit_reached"), (False, "code_inactive"), (False, "usage_limit_reached"),
        (False, "code_inactive"), (False, "gift_card_empty"), (False, "code_inactive"), (True, None)]
    assert [o.message for o in result.outcomes[:4]] == [
        "This code has already been used", "This code is not active", '"First hundred" has reached its usage limit',
        '"Old offer" is not active']
    # The campaign use taken before each code failed was given back: only the last request holds one.
    assert await counters(backend, camp) == {**before, "reserved_uses": 1, "reserved_amount": 50}
    assert (await counters(backend, gift_camp))["reserved_uses"] == 0

    async with transaction(backend.runtime.db) as conn:
        rejected, _ = await store.list(conn, app_id=app, status="rejected", limit=20)
    assert [(r.reason, r.amount, r.cart_id, r.customer, r.expires_at) for r in rejected] == [
        (o.reason, 100, "cart_j", "cus_1", None) for o in result.outcomes[:6]]
    assert all(r.message for r in rejected)


async def test_single_use_code_status_transitions(backend: Backend) -> None:
    app = new_id("app")
    camp = await make_campaign(backend, app)
    code = await make_code(backend, app, camp, usage_limit=1, status="active")

    async def status() -> str:
        return (await row(backend, codes, code)).status

    await reserve(backend, app, "cart_s", req(camp, code, 100))
    assert await status() == "reserved"
    (other,) = (await reserve(backend, app, "cart_s2", req(camp, code, 100))).outcomes
    assert (other.granted, other.reason, other.message) == (
        False, "code_usage_limit_reached", "This code has reached its usage limit")
    await confirm(backend, app, "cart_s", "ord_s")
    assert await status() == "redeemed"
    (other,) = (await reserve(backend, app, "cart_s2", req(camp, code, 100))).outcomes
    assert other.message == "This code has already been used"
    await cancel(backend, app, "ord_s")
    assert await status() == "active"
    assert (await reserve(backend, app, "cart_s3", req(camp, code, 100))).all_granted

    # An assigned code goes back to `assigned` when its reservation is released.
    assigned = await make_code(backend, app, camp, usage_limit=1, status="assigned", assigned_to="cus_9")
    await reserve(backend, app, "cart_s4", req(camp, assigned, 100))
    assert (await row(backend, codes, assigned)).status == "reserved"
    await release(backend, app, "cart_s4")
    assert (await row(backend, codes, assigned)).status == "assigned"

    # A multi-use code: `reserved` only while open reservations hold all that is left, `active` once used.
    multi = await make_code(backend, app, camp, usage_limit=2, status="created")
    await reserve(backend, app, "cart_m1", req(camp, multi, 100))
    assert (await row(backend, codes, multi)).status == "created"
    await reserve(backend, app, "cart_m2", req(camp, multi, 100))
    assert (await row(backend, codes, multi)).status == "reserved"
    await confirm(backend, app, "cart_m1", "ord_m1")
    assert (await row(backend, codes, multi)).status == "reserved"
    await release(backend, app, "cart_m2")
    assert (await row(backend, codes, multi)).status == "active"


async def test_list_filters_and_paginates(backend: Backend) -> None:
    app = new_id("app")
    a = await make_campaign(backend, app, trigger="automatic", name="A")
    b = await make_campaign(backend, app, trigger="automatic", usage_limit=2, name="B")
    start = backend.clock.now()
    for i in range(3):
        await reserve(backend, app, f"cart_l{i}", req(a, None, 100), req(b, None, 100))
    backend.clock.advance(minutes=1)
    middle = backend.clock.now()
    await reserve(backend, app, "cart_l3", req(a, None, 100))
    await confirm(backend, app, "cart_l0", "ord_l0")

    async def listed(**kw: Any) -> list:
        async with transaction(backend.runtime.db) as conn:
            rows, _ = await store.list(conn, app_id=app, limit=100, **kw)
        return rows

    assert len(await listed()) == 7
    assert len(await listed(campaign_id=b)) == 3
    assert [r.cart_id for r in await listed(campaign_id=b, status="rejected")] == ["cart_l2"]
    assert len(await listed(status="confirmed")) == 2
    assert [r.cart_id for r in await listed(created_from=middle)] == ["cart_l3"]
    assert len(await listed(created_from=start, created_to=middle)) == 6
    assert await listed(campaign_id=a, status="cancelled") == []

    seen, cursor = [], None
    while True:
        async with transaction(backend.runtime.db) as conn:
            page, cursor = await store.list(conn, app_id=app, limit=3, cursor=cursor)
        seen.extend(page)
        assert len(page) <= 3
        if cursor is None:
            break
    assert [r.id for r in seen] == [r.id for r in await listed()] == sorted(r.id for r in seen)

    async with transaction(backend.runtime.db) as conn:
        with pytest.raises(KassaError):
            await store.list(conn, app_id=app, limit=10, cursor="not-a-cursor")
        with pytest.raises(KassaError):
            await store.list(conn, app_id=app, limit=10, status="bogus")
        with pytest.raises(KassaError):
            await store.list(conn, app_id=app, limit=0)


async def test_reserve_validates_its_input(backend: Backend) -> None:
    app = new_id("app")
    camp = await make_campaign(backend, app)
    with pytest.raises(KassaError):
        await reserve(backend, app, "cart_v", req(camp, None, -1))
    with pytest.raises(KassaError):
        await reserve(backend, app, "cart_v", req(camp, None, 100, gift=True))
    with pytest.raises(KassaError):
        await reserve(backend, app, "cart_v", req(camp, None, 100), ttl=timedelta(0))


# ---------------------------------------------------------------------------------- concurrency (PostgreSQL)


async def _reserve_concurrently(b: Backend, app_id: str, carts: int,
                                requests_of: Callable[[int], list[ReservationRequest]]) -> list[ReserveResult]:
    async def one(i: int) -> ReserveResult:
        async with transaction(b.runtime.db) as conn:
            return await store.reserve(conn, app_id=app_id, cart_id=f"cart_{i}", customer=None, currency="EUR",
                                       requests=requests_of(i), now=b.clock.now(), ttl=TTL)

    return await asyncio.gather(*(one(i) for i in range(carts)))


async def test_code_limit_holds_under_concurrency(pg_backend: Backend) -> None:
    app = new_id("app")
    camp = await make_campaign(pg_backend, app)
    code = await make_code(pg_backend, app, camp, usage_limit=7)
    results = await _reserve_concurrently(pg_backend, app, 50, lambda i: [req(camp, code, 100)])
    outcomes = [r.outcomes[0] for r in results]
    assert sum(o.granted for o in outcomes) == 7
    assert {o.reason for o in outcomes if not o.granted} == {"code_usage_limit_reached"}
    assert await counters(pg_backend, camp, code) == {
        "uses": 0, "reserved_uses": 7, "granted": 0, "reserved_amount": 700,
        "code_uses": 0, "code_reserved": 7, "balance": None, "status": "reserved"}


async def test_budget_holds_under_concurrency(pg_backend: Backend) -> None:
    app = new_id("app")
    auto = await make_campaign(pg_backend, app, trigger="automatic", budget=1_000)
    results = await _reserve_concurrently(pg_backend, app, 50, lambda i: [req(auto, None, 100)])
    outcomes = [r.outcomes[0] for r in results]
    granted = [o for o in outcomes if o.granted]
    assert len(granted) == 10 and all(o.amount == 100 and not o.clamped for o in granted)
    assert {o.reason for o in outcomes if not o.granted} == {"budget_exhausted"}
    assert (await counters(pg_backend, auto))["reserved_amount"] == 1_000


async def test_clamped_budget_never_overshoots_under_concurrency(pg_backend: Backend) -> None:
    app = new_id("app")
    auto = await make_campaign(pg_backend, app, trigger="automatic", budget=1_000)
    results = await _reserve_concurrently(pg_backend, app, 40, lambda i: [req(auto, None, 70 + i)])
    total = sum(o.amount for r in results for o in r.outcomes)
    assert total == 1_000 == (await counters(pg_backend, auto))["reserved_amount"]
    assert sum(o.clamped for r in results for o in r.outcomes) <= 1


async def test_carts_taking_campaigns_in_opposite_orders_do_not_deadlock(pg_backend: Backend) -> None:
    app = new_id("app")
    a = await make_campaign(pg_backend, app, usage_limit=20, name="A")
    b = await make_campaign(pg_backend, app, usage_limit=20, name="B")
    code_a = await make_code(pg_backend, app, a)
    code_b = await make_code(pg_backend, app, b)

    def requests(i: int) -> list[ReservationRequest]:
        pair = [req(a, code_a, 10), req(b, code_b, 10)]
        return pair if i % 2 else pair[::-1]

    results = await _reserve_concurrently(pg_backend, app, 30, requests)
    assert sum(o.granted for r in results for o in r.outcomes) == 40
    assert (await counters(pg_backend, a, code_a))["code_reserved"] == 20
    assert (await counters(pg_backend, b, code_b))["reserved_uses"] == 20

    # Release and confirm concurrently too: every counter ends where it must.
    async def settle(i: int) -> None:
        async with transaction(pg_backend.runtime.db) as conn:
            if i % 3:
                await store.confirm(conn, app_id=app, cart_id=f"cart_{i}", order_id=f"ord_{i}",
                                    now=pg_backend.clock.now())
            else:
                await store.release(conn, app_id=app, cart_id=f"cart_{i}", now=pg_backend.clock.now())

    await asyncio.gather(*(settle(i) for i in range(30)))
    async with transaction(pg_backend.runtime.db) as conn:
        confirmed, _ = await store.list(conn, app_id=app, campaign_id=a, status="confirmed", limit=100)
    ca = await counters(pg_backend, a, code_a)
    n = len(confirmed)
    assert (ca["reserved_uses"], ca["code_reserved"], ca["uses"], ca["code_uses"]) == (0, 0, n, n)
    assert ca["granted"] == 10 * len(confirmed)


async def test_concurrent_expiry_releases_each_reservation_once(pg_backend: Backend) -> None:
    app = new_id("app")
    camp = await make_campaign(pg_backend, app, usage_limit=100, budget=100_000)
    code = await make_code(pg_backend, app, camp)
    at = pg_backend.clock.now() + TTL + timedelta(minutes=1)  # after the reservations below expire
    async with transaction(pg_backend.runtime.db) as conn:  # leftovers of other tests expire first
        await store.expire(conn, now=at)

    await _reserve_concurrently(pg_backend, app, 40, lambda i: [req(camp, code, 100)])
    assert (await counters(pg_backend, camp))["reserved_uses"] == 40

    async def expire() -> int:
        async with transaction(pg_backend.runtime.db) as conn:
            return await store.expire(conn, now=at, limit=7)

    counts = await asyncio.gather(expire(), expire())
    assert sum(counts) == 40
    assert await counters(pg_backend, camp, code) == {
        "uses": 0, "reserved_uses": 0, "granted": 0, "reserved_amount": 0,
        "code_uses": 0, "code_reserved": 0, "balance": None, "status": "active"}
