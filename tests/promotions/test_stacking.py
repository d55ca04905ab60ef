"""Order, stacking modes and the percentage basket voucher policy (seed 1.6.6)."""

from __future__ import annotations

from decimal import Decimal

from kassa_promotions import FixedOff, GiftCard, PercentOff, Rules

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

C = cart(line("a", 6000), line("b", 4000))


def pct(n: int, **kw: object) -> PercentOff:
    return PercentOff(percent=Decimal(n), **kw)  # type: ignore[arg-type]


def order(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [d.campaign_id for d in result.discounts]


# ---------------------------------------------------------------- order


def test_higher_priority_goes_first_and_later_discounts_see_what_is_left() -> None:
    result = run(C, camp("camp_1", FixedOff(amounts=eur(1000))), camp("camp_2", pct(50), priority=1))
    assert order(result) == ["camp_2", "camp_1"]
    assert applied(result, "camp_2").amount == 5000 and applied(result, "camp_1").amount == 1000


def test_same_priority_goes_by_created_at_then_id() -> None:
    result = run(C, camp("camp_b", FixedOff(amounts=eur(1))), camp("camp_a", FixedOff(amounts=eur(1))),
                 camp("camp_0", FixedOff(amounts=eur(1)), created_minutes=5))
    assert order(result) == ["camp_a", "camp_b", "camp_0"]


def test_a_line_never_goes_below_zero() -> None:
    c = cart(line("a", 500))
    result = run(c, camp("camp_1", FixedOff(amounts=eur(400)), priority=1), camp("camp_2", FixedOff(amounts=eur(400))))
    assert applied(result, "camp_2").amount == 100 and result.line_discounts == {"a": 500}
    assert reason(run(c, camp("camp_1", FixedOff(amounts=eur(900)), priority=1), camp("camp_2", pct(10))),
                  "camp_2") == "nothing_to_discount"


# ---------------------------------------------------------------- exclusive


def test_exclusive_that_applies_first_excludes_everything_after_it() -> None:
    big = camp("camp_big", pct(30), name="Big sale", stacking="exclusive", priority=10)
    result = run(C, big, camp("camp_2", FixedOff(amounts=eur(100))), codes=(code(camp("camp_3"), "TEN"),))
    assert order(result) == ["camp_big"]
    r2, r3 = rejected(result, "camp_2"), rejected(result, "camp_3")
    assert (r2.reason, r2.message) == ("excluded_by_exclusive", '"Offer 2" can\'t be combined with "Big sale"')
    assert (r3.reason, r3.message) == ("excluded_by_exclusive", 'This code can\'t be combined with "Big sale"')


def test_exclusive_after_something_applied_is_itself_rejected_and_the_rest_continue() -> None:
    first = camp("camp_1", FixedOff(amounts=eur(100)), priority=10)
    excl = camp("camp_2", pct(30), stacking="exclusive", priority=5)
    later = camp("camp_3", FixedOff(amounts=eur(100)))
    result = run(C, first, later, codes=(code(excl, "EXCL"),))
    assert order(result) == ["camp_1", "camp_3"]
    r = rejected(result, "camp_2")
    assert (r.reason, r.message) == ("excluded_by_exclusive",
                                     'This code can\'t be combined with "Offer 1", which already applies')


def test_exclusive_that_does_not_qualify_blocks_nothing() -> None:
    excl = camp("camp_1", pct(30), stacking="exclusive", priority=10, rules=Rules(min_subtotal=eur(50_000)))
    result = run(C, excl, camp("camp_2", FixedOff(amounts=eur(100))))
    assert reason(result, "camp_1") == "minimum_not_met" and order(result) == ["camp_2"]


def test_own_standing_reason_beats_the_stacking_reason() -> None:
    excl = camp("camp_1", pct(30), stacking="exclusive", priority=10)
    result = run(C, excl, codes=(code(camp("camp_2"), "OLD", status="expired"),))
    assert reason(result, "camp_2") == "expired"


def test_gift_cards_are_neither_blocked_nor_blocking() -> None:
    excl = camp("camp_1", pct(10), stacking="exclusive")
    gift = camp("camp_gift", GiftCard(), trigger="code")
    result = run(C, excl, codes=(code(gift, "GC", balance=500),))
    assert order(result) == ["camp_1", "camp_gift"]


# ---------------------------------------------------------------- stop


def test_stop_that_applied_stops_later_ones_but_keeps_earlier_ones() -> None:
    first = camp("camp_1", FixedOff(amounts=eur(100)), priority=10)
    stop = camp("camp_2", pct(10), name="Stopper", stacking="stop", priority=5)
    result = run(C, first, stop, camp("camp_3", FixedOff(amounts=eur(100))))
    assert order(result) == ["camp_1", "camp_2"]
    r = rejected(result, "camp_3")
    assert (r.reason, r.message) == ("stopped_by_earlier", '"Offer 3" can\'t be combined with "Stopper"')


def test_stop_that_did_not_apply_lets_evaluation_continue() -> None:
    stop = camp("camp_1", pct(10), stacking="stop", priority=5, rules=Rules(min_quantity=10))
    result = run(C, stop, camp("camp_2", FixedOff(amounts=eur(100))))
    assert reason(result, "camp_1") == "min_quantity_not_met" and order(result) == ["camp_2"]


def test_stackable_combines_with_everything() -> None:
    result = run(C, *(camp(f"camp_{i}", FixedOff(amounts=eur(100))) for i in range(5)))
    assert len(result.discounts) == 5 and result.discount_total == 500


# ---------------------------------------------------------------- percentage basket vouchers


def test_multiple_percentages_apply_largest_delivered_first_each_on_what_is_left() -> None:
    result = run(C, camp("camp_1", pct(10)), camp("camp_2", pct(20)), allow_multiple=True)
    assert order(result) == ["camp_2", "camp_1"]
    assert applied(result, "camp_2").amount == 2000 and applied(result, "camp_1").amount == 800


def test_multiple_percentages_order_by_cap_aware_delivered_and_each_keeps_its_cap() -> None:
    result = run(C, camp("camp_1", pct(10)), camp("camp_2", pct(20, max_discount=eur(500))), allow_multiple=True)
    assert order(result) == ["camp_1", "camp_2"]  # 10% delivers 100.00, capped 20% only 5.00
    second = applied(result, "camp_2")
    assert applied(result, "camp_1").amount == 1000 and second.amount == 500 and second.clamped


def test_multiple_percentages_priority_first_then_delivered_then_created() -> None:
    result = run(C, camp("camp_1", pct(10), priority=1), camp("camp_2", pct(20)), allow_multiple=True)
    assert order(result) == ["camp_1", "camp_2"]
    assert applied(result, "camp_2").amount == 1800
    same = run(C, camp("camp_1", pct(10), created_minutes=1), camp("camp_2", pct(10)), allow_multiple=True)
    assert order(same) == ["camp_2", "camp_1"]


def test_percentages_reorder_among_their_own_slots_only() -> None:
    result = run(C, camp("camp_1", pct(10)), camp("camp_2", FixedOff(amounts=eur(100)), created_minutes=1),
                 camp("camp_3", pct(20), created_minutes=2), allow_multiple=True)
    assert order(result) == ["camp_3", "camp_2", "camp_1"]
    assert [d.amount for d in result.discounts] == [2000, 100, 790]


def test_single_percentage_only_the_best_applies_and_the_others_say_why() -> None:
    result = run(C, camp("camp_1", pct(10)), camp("camp_2", pct(20), name="Twenty"),
                 codes=(code(camp("camp_3", pct(15)), "FIFTEEN"),))
    assert order(result) == ["camp_2"]
    r = rejected(result, "camp_3")
    assert r.reason == "percentage_already_applied"
    assert r.message == 'Only one percentage discount can apply to an order, and "Twenty" already does'
    assert reason(result, "camp_1") == "percentage_already_applied"


def test_single_percentage_falls_back_when_the_best_does_not_qualify() -> None:
    best = camp("camp_2", pct(20), rules=Rules(segments=frozenset({"vip"})))
    result = run(C, camp("camp_1", pct(10)), best)
    assert order(result) == ["camp_1"] and reason(result, "camp_2") == "customer_not_eligible"


def test_percentage_on_matching_items_is_not_a_basket_voucher() -> None:
    shoes = camp("camp_2", pct(20), items=items(product_ids={"prod_a"}))
    result = run(C, camp("camp_1", pct(10)), shoes)
    assert sorted(order(result)) == ["camp_1", "camp_2"]


def test_evaluation_is_pure() -> None:
    cs = (camp("camp_1", pct(10)), camp("camp_2", FixedOff(amounts=eur(100)), stacking="stop"))
    assert run(C, *cs) == run(C, *cs) == run(C, *reversed(cs), now=NOW)
