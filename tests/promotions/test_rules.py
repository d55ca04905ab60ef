"""Every rule, on both paths: it lets the campaign apply, or rejects it with its reason."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import msgspec
import pytest
from kassa_promotions import (
    Customer,
    FixedOff,
    ItemMatcher,
    PercentOff,
    Rules,
    ShippingOff,
)

from .helpers import (
    NOW,
    applied,
    camp,
    cart,
    code,
    eur,
    items,
    line,
    reason,
    rejected,
    run,
)

C = cart(line("a", 3000, 2, product="p1", cats=("shoes",)), line("b", 1000, product="p2", cats=("socks",)))


def applies(result, campaign_id: str = "camp_1") -> bool:  # type: ignore[no-untyped-def]
    return any(d.campaign_id == campaign_id for d in result.discounts)


# ---------------------------------------------------------------- active window


def test_window_not_started_active_and_expired() -> None:
    c = camp(starts_at=NOW + timedelta(hours=1), ends_at=NOW + timedelta(days=1))
    assert reason(run(C, c), "camp_1") == "not_started"
    assert applies(run(C, c, now=NOW + timedelta(hours=1)))  # start is inclusive
    assert reason(run(C, c, now=NOW + timedelta(days=1)), "camp_1") == "expired"  # end is exclusive
    r = rejected(run(C, codes=(code(c, "LATE"),), now=NOW + timedelta(days=2)), "camp_1")
    assert (r.reason, r.message) == ("expired", "This code has expired")


def test_codes_keep_working_for_the_grace_period_automatic_offers_do_not() -> None:
    c = camp(ends_at=NOW - timedelta(hours=2), redemption_grace_hours=3)
    assert applies(run(C, codes=(code(c, "GRACE"),)))
    assert reason(run(C, codes=(code(c, "GRACE"),), now=NOW + timedelta(hours=1)), "camp_1") == "expired"
    assert reason(run(C, c), "camp_1") == "expired"


# ---------------------------------------------------------------- basket value and quantity


def test_minimum_basket_value_pass_and_reject_with_the_amount_missing() -> None:
    assert applies(run(C, codes=(code(camp(rules=Rules(min_subtotal=eur(7000))), "MIN"),)))
    r = rejected(run(C, codes=(code(camp(rules=Rules(min_subtotal=eur(8250))), "MIN"),)), "camp_1")
    assert (r.reason, r.message) == ("minimum_not_met", "Spend 12.50 EUR more to use this code")
    auto = rejected(run(C, camp(rules=Rules(min_subtotal=eur(8250)))), "camp_1")
    assert auto.message == 'Spend 12.50 EUR more to get "Offer 1"'


def test_minimum_is_measured_on_matching_items_after_earlier_discounts() -> None:
    shoes = items(categories={"shoes"})
    later = camp("camp_2", FixedOff(amounts=eur(100)), items=shoes, rules=Rules(min_subtotal=eur(6000)))
    assert applies(run(C, later), "camp_2")  # shoes: 60.00 exactly
    earlier = camp("camp_1", FixedOff(amounts=eur(100)), priority=5)
    result = run(C, earlier, later)
    assert applies(result, "camp_1")
    assert reason(result, "camp_2") == "minimum_not_met"  # 86 of the 100 landed on the shoes


def test_maximum_basket_value() -> None:
    assert applies(run(C, camp(rules=Rules(max_subtotal=eur(7000)))))
    r = rejected(run(C, codes=(code(camp(rules=Rules(max_subtotal=eur(6999))), "MAX"),)), "camp_1")
    assert (r.reason, r.message) == ("maximum_exceeded", "This code is only valid on orders up to 69.99 EUR")


def test_minimum_quantity_of_matching_items() -> None:
    shoes = items(categories={"shoes"})
    assert applies(run(C, camp(items=shoes, rules=Rules(min_quantity=2))))
    r = rejected(run(C, camp(items=shoes, rules=Rules(min_quantity=4))), "camp_1")
    assert (r.reason, r.message) == ("min_quantity_not_met", 'Add 2 more qualifying items to get "Offer 1"')


def test_code_for_items_not_in_the_cart() -> None:
    c = camp(items=items(product_ids={"p9"}))
    r = rejected(run(C, codes=(code(c, "P9"),)), "camp_1")
    assert (r.reason, r.message) == ("no_matching_items", "None of the items in your cart qualify for this code")


# ---------------------------------------------------------------- currency


def test_campaign_limited_to_one_currency() -> None:
    usd = camp(currency="USD")
    assert applies(run(cart(line("a", 1000), currency="USD"), usd))
    r = rejected(run(C, codes=(code(usd, "USD"),)), "camp_1")
    assert (r.reason, r.message) == ("currency_mismatch", "This code can't be used when paying in EUR")


def test_fixed_amounts_are_per_currency() -> None:
    fixed = camp(reward=FixedOff(amounts={"EUR": 500, "JPY": 700}))
    assert applied(run(cart(line("a", 5000), currency="JPY"), fixed), "camp_1").amount == 700
    assert applied(run(C, fixed), "camp_1").amount == 500
    usd = cart(line("a", 5000), currency="USD")
    assert reason(run(usd, codes=(code(fixed, "F"),)), "camp_1") == "currency_mismatch"
    capped = camp(reward=PercentOff(percent=Decimal(10), max_discount={"USD": 100}))
    assert reason(run(C, codes=(code(capped, "CAP"),)), "camp_1") == "currency_mismatch"


def test_automatic_campaign_in_another_currency_is_not_even_a_candidate() -> None:
    result = run(C, camp(reward=ShippingOff(amounts={"USD": 500})))
    assert result.discounts == () and result.rejected == ()


# ---------------------------------------------------------------- customer


@pytest.mark.parametrize(("rules", "customer", "ok"), [
    (Rules(emails=frozenset({"Ana@Example.com"})), Customer(email="ana@example.COM"), True),
    (Rules(emails=frozenset({"ana@example.com"})), Customer(email="bob@example.com"), False),
    (Rules(emails=frozenset({"ana@example.com"})), Customer(), False),
    (Rules(customer_ids=frozenset({"cus_1"})), Customer(id="cus_1"), True),
    (Rules(customer_ids=frozenset({"cus_1"}), emails=frozenset({"bob@x.io"})), Customer(email="bob@x.io"), True),
    (Rules(customer_ids=frozenset({"cus_1"})), Customer(id="cus_2"), False),
    (Rules(exclude_customer_ids=frozenset({"cus_1"})), Customer(id="cus_1"), False),
    (Rules(exclude_customer_ids=frozenset({"cus_1"})), Customer(id="cus_2"), True),
    (Rules(exclude_emails=frozenset({"staff@shop.io"})), Customer(email="STAFF@shop.io"), False),
    (Rules(segments=frozenset({"vip", "gold"})), Customer(segments=frozenset({"gold"})), True),
    (Rules(segments=frozenset({"vip"})), Customer(), False),  # segments fail closed
    (Rules(exclude_segments=frozenset({"staff"})), Customer(segments=frozenset({"staff", "vip"})), False),
    (Rules(exclude_segments=frozenset({"staff"})), Customer(segments=frozenset({"vip"})), True),
])
def test_customer_include_and_exclude(rules: Rules, customer: Customer, ok: bool) -> None:
    result = run(C, camp(rules=rules), customer=customer)
    if ok:
        assert applies(result)
    else:
        r = rejected(result, "camp_1")
        assert (r.reason, r.message) == ("customer_not_eligible", '"Offer 1" is not available for your account')


def test_first_order_only() -> None:
    c = camp(rules=Rules(first_order_only=True))
    assert applies(run(C, c, customer=Customer(id="cus_1", is_first_order=True)))
    r = rejected(run(C, codes=(code(c, "WELCOME"),), customer=Customer(id="cus_1")), "camp_1")
    assert (r.reason, r.message) == ("not_first_order", "This code is only valid on your first order")


def test_code_assigned_to_a_customer() -> None:
    mine = code(camp(), "FOR-ANA", assigned_to="cus_ana")
    assert applies(run(C, codes=(mine,), customer=Customer(id="cus_ana")))
    by_email = code(camp(), "FOR-ANA", assigned_to="ana@example.com")
    assert applies(run(C, codes=(by_email,), customer=Customer(email="Ana@Example.com")))
    r = rejected(run(C, codes=(mine,), customer=Customer(id="cus_bob")), "camp_1")
    assert (r.reason, r.message) == ("assigned_to_other_customer", "This code belongs to another customer")
    assert rejected(run(C, codes=(mine,)), "camp_1").message == "Sign in to use this code"


def test_code_bound_to_a_cart() -> None:
    """A recovery incentive is minted for one cart: on that cart it applies, on any other (or none) it does not."""
    bound = code(camp(), "BACK-1", bound_cart_id="cart_a")
    assert applies(run(msgspec.structs.replace(C, id="cart_a"), codes=(bound,)))
    for other in (msgspec.structs.replace(C, id="cart_b"), C):
        r = rejected(run(other, codes=(bound,)), "camp_1")
        assert (r.reason, r.message) == ("bound_to_other_cart",
                                         "This code was made for another cart and works on that cart only")


# ---------------------------------------------------------------- limits and budget


def test_per_customer_limit() -> None:
    c = camp(rules=Rules(per_customer_limit=2))
    assert applies(run(C, c, customer=Customer(id="cus_1", usage={"camp_1": 1})))
    r = rejected(run(C, codes=(code(c, "TWICE"),), customer=Customer(id="cus_1", usage={"camp_1": 2})), "camp_1")
    assert r.reason == "customer_limit_reached"


def test_total_usage_limit_of_campaign_and_of_code() -> None:
    assert applies(run(C, camp(remaining_uses=1)))
    assert reason(run(C, camp(remaining_uses=0)), "camp_1") == "usage_limit_reached"
    assert reason(run(C, codes=(code(camp(), "X", remaining_uses=0),)), "camp_1") == "usage_limit_reached"
    used = rejected(run(C, codes=(code(camp(), "X", status="redeemed"),)), "camp_1")
    assert (used.reason, used.message) == ("usage_limit_reached", "This code has already been used")


def test_code_status() -> None:
    for status in ("created", "distributed", "assigned", "reserved", "active"):
        assert applies(run(C, codes=(code(camp(), "X", status=status),))), status
    assert reason(run(C, codes=(code(camp(), "X", status="deactivated"),)), "camp_1") == "code_inactive"
    assert reason(run(C, codes=(code(camp(active=False), "X"),)), "camp_1") == "code_inactive"
    assert reason(run(C, codes=(code(camp(), "X", status="expired"),)), "camp_1") == "expired"


def test_budget_exhausted_total_or_per_period() -> None:
    assert reason(run(C, camp(remaining_budget=0)), "camp_1") == "budget_exhausted"
    r = rejected(run(C, codes=(code(camp(remaining_budget=5000, remaining_period_budget=0), "B"),)), "camp_1")
    assert (r.reason, r.message) == ("budget_exhausted", "This code is no longer available: the offer has run out")


def test_budget_grants_what_is_left_and_says_so() -> None:
    result = run(C, camp(reward=FixedOff(amounts=eur(1000)), remaining_budget=5000, remaining_period_budget=300))
    d = applied(result, "camp_1")
    assert d.amount == 300 and sum(d.lines.values()) == 300
    assert d.clamped and d.note == "budget nearly exhausted"
    assert result.discount_total == 300


def test_budget_and_cap_together() -> None:
    c = camp(reward=PercentOff(percent=Decimal(50), max_discount=eur(2000)), remaining_budget=1500)
    d = applied(run(C, c), "camp_1")
    assert d.amount == 1500 and d.note == "capped at 20.00 EUR; budget nearly exhausted"


def test_budget_clamps_shipping_too() -> None:
    c = cart(line("a", 1000), shipping=800)
    d = applied(run(c, camp(reward=ShippingOff(percent=Decimal(100)), remaining_budget=500)), "camp_1")
    assert d.shipping == 500 and d.clamped


def test_duplicate_code_and_code_for_an_offer_already_applied() -> None:
    c = camp()
    result = run(C, codes=(code(c, "DUP"), code(c, "DUP")))
    assert applies(result) and rejected(result, "camp_1").message == "This code is already applied"
    both = run(C, c, codes=(code(c, "AGAIN"),))
    assert applied(both, "camp_1").code is None and reason(both, "camp_1") == "already_applied"


def test_rule_free_campaign_applies() -> None:
    assert applies(run(C, camp(items=ItemMatcher())))


def test_now_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError):
        run(C, camp(), now=NOW.replace(tzinfo=None))
