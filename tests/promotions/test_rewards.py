"""Every reward, on small carts whose right answer can be worked out by hand."""

from __future__ import annotations

from decimal import Decimal

from kassa_promotions import (
    Bundle,
    BuyXGetY,
    Customer,
    FixedOff,
    FixedPerUnit,
    GiftCard,
    PercentOff,
    Rules,
    ShippingOff,
    UnitSplit,
)

from .helpers import applied, camp, cart, code, eur, items, line, reason, rejected, run


def test_percent_off_basket_rounds_once_and_spreads_by_largest_remainder() -> None:
    c = cart(line("a", 1000, 3), line("b", 499))
    result = run(c, camp(reward=PercentOff(percent=Decimal(10))))
    d = applied(result, "camp_1")
    assert d.amount == 350  # 10% of 34.99 = 3.499 -> 3.50, half-even on the whole, not per line
    assert d.lines == {"a": 300, "b": 50}
    assert result.line_discounts == {"a": 300, "b": 50}
    assert result.lines[0].unit_splits == (UnitSplit(quantity=3, unit_discount=100),)
    assert not d.clamped


def test_percent_off_is_capped_per_voucher_and_says_so() -> None:
    c = cart(line("a", 6000), line("b", 4000))
    d = applied(run(c, camp(reward=PercentOff(percent=Decimal(50), max_discount=eur(2000)))), "camp_1")
    assert d.amount == 2000
    assert d.lines == {"a": 1200, "b": 800}
    assert d.clamped and d.note == "capped at 20.00 EUR"


def test_percent_off_matching_items_only_touches_them() -> None:
    c = cart(line("shoe", 5000, cats=("shoes",)), line("sock", 500, cats=("socks",)))
    result = run(c, camp(reward=PercentOff(percent=Decimal("12.5")), items=items(categories={"shoes"})))
    assert applied(result, "camp_1").lines == {"shoe": 625}


def test_fixed_off_basket_spreads_and_never_exceeds_the_basket() -> None:
    c = cart(line("a", 300), line("b", 200), line("c", 100))
    assert applied(run(c, camp(reward=FixedOff(amounts=eur(100)))), "camp_1").lines == {"a": 50, "b": 33, "c": 17}
    big = applied(run(c, camp(reward=FixedOff(amounts=eur(10_000)))), "camp_1")
    assert big.amount == 600 and big.lines == {"a": 300, "b": 200, "c": 100}


def test_fixed_off_matching_items_by_product_variant_and_category_with_excludes() -> None:
    c = cart(line("a", 1000, product="p1"), line("b", 1000, variant="v2"), line("c", 1000, cats=("x",)),
             line("d", 1000, product="p4", cats=("x",)), line("e", 1000))
    matcher = items(product_ids={"p1"}, variant_ids={"v2"}, categories={"x"}, exclude_product_ids={"p4"})
    d = applied(run(c, camp(reward=FixedOff(amounts=eur(300)), items=matcher)), "camp_1")
    assert d.lines == {"a": 100, "b": 100, "c": 100}
    excluded_variant = items(categories={"x"}, exclude_variant_ids={"v9"}, exclude_categories={"y"})
    c2 = cart(line("a", 1000, cats=("x",), variant="v9"), line("b", 1000, cats=("x", "y")),
              line("c", 800, cats=("x",)))
    d2 = applied(run(c2, camp(reward=FixedOff(amounts=eur(300)), items=excluded_variant)), "camp_1")
    assert d2.lines == {"c": 300}


def test_fixed_per_unit_counts_units_and_stops_at_the_line_price() -> None:
    c = cart(line("a", 1000, 3, cats=("x",)), line("b", 150, 2, cats=("x",)), line("c", 999))
    d = applied(run(c, camp(reward=FixedPerUnit(amounts=eur(200)), items=items(categories={"x"}))), "camp_1")
    assert d.lines == {"a": 600, "b": 300}


def test_buy_two_get_one_once_frees_the_cheapest() -> None:
    c = cart(line("a", 1000, 4), line("b", 700, 2), line("c", 500, 1))
    d = applied(run(c, camp(reward=BuyXGetY(buy=2, get=1, max_applications=1))), "camp_1")
    assert d.lines == {"c": 500}


def test_buy_two_get_one_per_group_frees_the_cheapest_units_overall() -> None:
    c = cart(line("a", 1000, 4), line("b", 700, 2), line("c", 500, 1))  # 7 units: 2 groups of 3
    d = applied(run(c, camp(reward=BuyXGetY(buy=2, get=1))), "camp_1")
    assert d.lines == {"c": 500, "b": 700}


def test_buy_x_get_y_at_a_percentage_and_only_on_matching_items() -> None:
    c = cart(line("a", 1000, 2, cats=("x",)), line("b", 800, 1, cats=("x",)), line("c", 100, 5))
    d = applied(run(c, camp(reward=BuyXGetY(buy=2, get=1, percent=Decimal(50)), items=items(categories={"x"}))),
                "camp_1")
    assert d.lines == {"b": 400}


def test_buy_x_get_y_without_enough_units_says_how_many_to_add() -> None:
    result = run(cart(line("a", 1000, 2)), camp(reward=BuyXGetY(buy=2, get=1)))
    r = rejected(result, "camp_1")
    assert r.reason == "min_quantity_not_met"
    assert r.message == 'Add 1 more qualifying item to get "Offer 1"'


def test_buy_x_get_y_uses_prices_after_earlier_discounts() -> None:
    c = cart(line("a", 1000, 3))
    result = run(c, camp("camp_1", FixedOff(amounts=eur(1)), priority=1), camp("camp_2", BuyXGetY(buy=2)))
    # 2999 left over 3 units: 1000, 1000, 999 -> the 999 unit is free
    assert applied(result, "camp_2").amount == 999
    assert result.line_discounts == {"a": 1000}


MAIN, DRINK, SNACK = items(categories={"main"}), items(categories={"drink"}), items(categories={"snack"})


def meal_deal(**kw: object) -> Bundle:
    return Bundle(groups=(MAIN, DRINK, SNACK), prices=eur(500), **kw)  # type: ignore[arg-type]


def test_meal_deal_takes_the_most_expensive_items_into_the_bundle() -> None:
    c = cart(line("m1", 800, cats=("main",)), line("m2", 700, cats=("main",)), line("d1", 250, cats=("drink",)),
             line("d2", 200, cats=("drink",)), line("s1", 150, cats=("snack",)))
    d = applied(run(c, camp(reward=meal_deal())), "camp_1")
    assert d.amount == 800 + 250 + 150 - 500
    assert set(d.lines) == {"m1", "d1", "s1"} and sum(d.lines.values()) == 700


def test_meal_deal_applies_as_many_times_as_complete_bundles_form() -> None:
    c = cart(line("m", 600, 100, cats=("main",)), line("d", 200, 100, cats=("drink",)),
             line("s", 100, 3, cats=("snack",)))
    assert applied(run(c, camp(reward=meal_deal())), "camp_1").amount == 3 * 400
    assert applied(run(c, camp(reward=meal_deal(max_applications=2))), "camp_1").amount == 2 * 400


def test_meal_deal_with_one_item_fitting_two_groups_still_forms_the_bundle() -> None:
    c = cart(line("m", 600, cats=("main",)), line("x", 200, cats=("drink", "snack")), line("s", 100, cats=("snack",)))
    assert applied(run(c, camp(reward=meal_deal())), "camp_1").amount == 400


def test_meal_deal_one_unit_cannot_fill_two_groups() -> None:
    c = cart(line("m", 800, cats=("main",)), line("x", 250, cats=("drink", "snack")))
    assert rejected(run(c, camp(reward=meal_deal())), "camp_1").reason == "bundle_incomplete"
    two = cart(line("m", 800, cats=("main",)), line("x", 250, 2, cats=("drink", "snack")))
    assert applied(run(two, camp(reward=meal_deal())), "camp_1").amount == 800 + 500 - 500


def test_meal_deal_incomplete_or_not_cheaper() -> None:
    c = cart(line("m", 800, cats=("main",)), line("d", 250, cats=("drink",)))
    r = rejected(run(c, camp(reward=meal_deal())), "camp_1")
    assert (r.reason, r.message) == ("bundle_incomplete", 'Add 1 more item to complete "Offer 1"')
    cheap = cart(line("m", 200, cats=("main",)), line("d", 100, cats=("drink",)), line("s", 100, cats=("snack",)))
    assert reason(run(cheap, camp(reward=meal_deal())), "camp_1") == "nothing_to_discount"


def test_shipping_free_percentage_and_fixed() -> None:
    c = cart(line("a", 1000), shipping=495)
    free = run(c, camp(reward=ShippingOff(percent=Decimal(100))))
    assert free.shipping_discount == 495 and free.line_discounts == {}
    assert applied(free, "camp_1").shipping == 495
    assert run(c, camp(reward=ShippingOff(percent=Decimal(50)))).shipping_discount == 248  # 247.5 -> half-even 248
    assert run(c, camp(reward=ShippingOff(amounts=eur(300)))).shipping_discount == 300
    assert run(c, camp(reward=ShippingOff(amounts=eur(900)))).shipping_discount == 495


def test_shipping_discount_when_shipping_is_already_free() -> None:
    r = rejected(run(cart(line("a", 1000)), camp(reward=ShippingOff(percent=Decimal(100)))), "camp_1")
    assert (r.reason, r.message) == ("nothing_to_discount", "Shipping is already free")


GIFT = camp("camp_gift", GiftCard(), name="Gift card", trigger="code", currency="EUR")


def test_gift_card_partial_spend_keeps_the_rest() -> None:
    c = cart(line("a", 2000), line("b", 1000), shipping=500)
    result = run(c, camp("camp_1", FixedOff(amounts=eur(500))), codes=(code(GIFT, "GC-1", balance=10_000),))
    d = applied(result, "camp_gift")
    assert d.amount == 3000 and d.gift_card is not None
    assert (d.gift_card.spent, d.gift_card.balance_left) == (3000, 7000)
    assert d.shipping == 500 and sum(d.lines.values()) == 2500
    assert result.discount_total == 3500 and result.gift_card_total == 3000


def test_gift_card_smaller_than_the_order_is_spent_in_full() -> None:
    c = cart(line("a", 2000), shipping=500)
    d = applied(run(c, codes=(code(GIFT, "GC-1", balance=1200),)), "camp_gift")
    assert d.amount == 1200 and d.gift_card is not None and d.gift_card.balance_left == 0
    assert d.lines == {"a": 960} and d.shipping == 240


def test_gift_card_comes_after_every_discount_whatever_its_priority() -> None:
    gift = camp("camp_gift", GiftCard(), trigger="code", priority=100)
    c = cart(line("a", 1000))
    result = run(c, camp("camp_1", PercentOff(percent=Decimal(10))), codes=(code(gift, "GC", balance=5000),))
    assert [d.campaign_id for d in result.discounts] == ["camp_1", "camp_gift"]
    assert applied(result, "camp_1").amount == 100 and applied(result, "camp_gift").amount == 900


def test_two_gift_cards_of_one_campaign_both_spend() -> None:
    c = cart(line("a", 1000))
    result = run(c, codes=(code(GIFT, "GC-B", balance=700), code(GIFT, "GC-A", balance=700)))
    spends = {d.code: d.gift_card for d in result.discounts}
    assert spends["GC-A"].spent == 700 and spends["GC-B"].spent == 300  # type: ignore[union-attr]
    assert spends["GC-B"].balance_left == 400  # type: ignore[union-attr]


def test_empty_gift_card_is_rejected() -> None:
    r = rejected(run(cart(line("a", 1000)), codes=(code(GIFT, "GC", balance=0),)), "camp_gift")
    assert (r.reason, r.message) == ("gift_card_empty", "This gift card has no balance left")


def test_gift_card_obeys_rules_like_any_code() -> None:
    limited = camp("camp_gift", GiftCard(), trigger="code", rules=Rules(first_order_only=True))
    c = cart(line("a", 1000))
    assert reason(run(c, codes=(code(limited, "GC", balance=100),)), "camp_gift") == "not_first_order"
    ok = run(c, codes=(code(limited, "GC", balance=100),), customer=Customer(is_first_order=True))
    assert applied(ok, "camp_gift").amount == 100
