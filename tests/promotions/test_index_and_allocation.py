"""The campaign index (which campaigns a cart touches) and the unit-level split of a line."""

from __future__ import annotations

from decimal import Decimal

from kassa_promotions import (
    Bundle,
    FixedOff,
    GiftCard,
    PercentOff,
    ShippingOff,
    UnitSplit,
)
from kassa_promotions.allocation import allocate, unit_splits

from .helpers import applied, camp, cart, eur, items, line, run


def ids(campaigns) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.id for c in campaigns]


def test_index_returns_only_campaigns_that_concern_the_cart() -> None:
    from kassa_promotions import CampaignIndex

    cs = [
        camp("camp_prod", items=items(product_ids={"p1"})),
        camp("camp_other_prod", items=items(product_ids={"p9"})),
        camp("camp_variant", items=items(variant_ids={"v2"})),
        camp("camp_cat", items=items(categories={"shoes"})),
        camp("camp_cat_excluded", items=items(categories={"shoes"}, exclude_product_ids={"p1"})),
        camp("camp_wide"),
        camp("camp_wide_usd", currency="USD"),
        camp("camp_usd_amounts", FixedOff(amounts={"USD": 100})),
        camp("camp_code", trigger="code"),
        camp("camp_inactive", active=False),
        camp("camp_gift", GiftCard()),
        camp("camp_meal", Bundle(groups=(items(categories={"main"}), items(categories={"drink"})), prices=eur(500))),
        camp("camp_meal_elsewhere", Bundle(groups=(items(categories={"x"}),), prices=eur(500))),
        camp("camp_everything_but", items=items(exclude_categories={"socks"})),
    ]
    index = CampaignIndex(cs)
    c = cart(line("a", 1000, product="p1", cats=("shoes",)), line("b", 500, variant="v2", cats=("drink",)))
    assert ids(index.candidates(c)) == ["camp_prod", "camp_variant", "camp_cat", "camp_wide", "camp_meal",
                                        "camp_everything_but"]
    only_socks = cart(line("s", 100, product="p7", cats=("socks",)))
    assert ids(index.candidates(only_socks)) == ["camp_wide"]
    usd = cart(line("s", 100, product="p9"), currency="USD")
    assert ids(index.candidates(usd)) == ["camp_other_prod", "camp_wide", "camp_wide_usd", "camp_usd_amounts",
                                          "camp_everything_but"]


def test_index_result_equals_all_campaigns_result() -> None:
    from kassa_promotions import CampaignIndex, evaluate

    from .helpers import NOW

    cs = [camp("camp_1", PercentOff(percent=Decimal(10)), items=items(categories={"shoes"})),
          camp("camp_2", ShippingOff(percent=Decimal(100))), camp("camp_3", items=items(product_ids={"nope"}))]
    c = cart(line("a", 1000, cats=("shoes",)), shipping=300)
    assert evaluate(c, now=NOW, campaigns=CampaignIndex(cs).candidates(c)) == evaluate(c, now=NOW, campaigns=cs)


def test_unit_split_holds_at_most_two_unit_prices() -> None:
    assert unit_splits(101, 3) == (UnitSplit(quantity=2, unit_discount=34), UnitSplit(quantity=1, unit_discount=33))
    assert unit_splits(99, 3) == (UnitSplit(quantity=3, unit_discount=33),)
    assert unit_splits(0, 2) == (UnitSplit(quantity=2, unit_discount=0),)


def test_line_result_carries_the_unit_split() -> None:
    result = run(cart(line("a", 1000, 3)), camp(reward=FixedOff(amounts=eur(101))))
    assert result.lines[0].unit_splits == (UnitSplit(quantity=2, unit_discount=34),
                                           UnitSplit(quantity=1, unit_discount=33))


def test_allocation_ties_go_to_the_larger_line_then_the_larger_id() -> None:
    assert allocate(1, {"a": 100, "b": 100}) == {"b": 1}
    assert allocate(2, {"a": 100, "b": 100, "c": 100}) == {"b": 1, "c": 1}
    assert allocate(1, {"a": 200, "b": 100, "c": 100}) == {"a": 1}  # exact 0.5/0.25/0.25: the remainder wins
    assert allocate(3, {"x": 0, "y": 5}) == {"y": 3}


def test_allocation_spreads_in_proportion_to_what_is_left() -> None:
    c = cart(line("a", 1000), line("b", 1000))
    result = run(c, camp("camp_1", FixedOff(amounts=eur(500)), items=items(product_ids={"prod_a"}), priority=1),
                 camp("camp_2", FixedOff(amounts=eur(300))))
    assert applied(result, "camp_2").lines == {"a": 100, "b": 200}
