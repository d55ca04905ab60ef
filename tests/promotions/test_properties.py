"""Properties on random carts and campaign sets: parts add up, no line below zero, the result
depends on nothing but the input (not line order, not the index, not a second call)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kassa_promotions import (
    AppliedCode,
    Bundle,
    BuyXGetY,
    Campaign,
    CampaignIndex,
    Cart,
    CartLine,
    Customer,
    EngineOptions,
    Evaluation,
    FixedOff,
    FixedPerUnit,
    GiftCard,
    ItemMatcher,
    PercentOff,
    Rules,
    ShippingOff,
    evaluate,
)
from kassa_promotions.allocation import allocate, unit_splits

from .helpers import NOW, T0

PRODUCTS = [f"p{i}" for i in range(6)]
CATEGORIES = [f"c{i}" for i in range(4)]
CURRENCIES = ["EUR", "USD"]

money = st.integers(min_value=0, max_value=5000)
percents = st.sampled_from([Decimal(5), Decimal(10), Decimal("12.5"), Decimal(33), Decimal(50), Decimal(100)])
# Strategies are built once, at import: building them inside draws makes generation the slow part.
product_sets = st.frozensets(st.sampled_from(PRODUCTS), max_size=2)
category_sets = st.frozensets(st.sampled_from(CATEGORIES), max_size=2)
amounts = st.one_of(st.fixed_dictionaries({"EUR": money}), st.fixed_dictionaries({"EUR": money, "USD": money}),
                    st.fixed_dictionaries({"USD": money}))
maybe_amounts = st.none() | amounts
matchers = st.builds(
    ItemMatcher, product_ids=product_sets, categories=category_sets,
    variant_ids=st.frozensets(st.sampled_from(["v1", "v2"]), max_size=1),
    exclude_product_ids=st.frozensets(st.sampled_from(PRODUCTS), max_size=1),
    exclude_categories=st.frozensets(st.sampled_from(CATEGORIES), max_size=1),
)
rewards = st.one_of(
    st.builds(PercentOff, percent=percents, max_discount=maybe_amounts),
    st.builds(FixedOff, amounts=amounts),
    st.builds(FixedPerUnit, amounts=amounts),
    st.builds(BuyXGetY, buy=st.integers(1, 3), get=st.integers(1, 2), percent=percents,
              max_applications=st.none() | st.integers(1, 2)),
    st.builds(Bundle, groups=st.lists(matchers, min_size=1, max_size=3).map(tuple), prices=amounts,
              max_applications=st.none() | st.integers(1, 3)),
    st.builds(ShippingOff, percent=percents),
    st.builds(ShippingOff, amounts=amounts),
)
campaign_fields = st.fixed_dictionaries({
    "reward": rewards,
    "created_at": st.integers(0, 3).map(lambda m: T0 + timedelta(minutes=m)),
    "items": st.none() | matchers,
    "rules": st.builds(Rules, min_subtotal=maybe_amounts, min_quantity=st.none() | st.integers(1, 4),
                       segments=st.sampled_from([frozenset(), frozenset({"vip"})])),
    "priority": st.integers(0, 2),
    "stacking": st.sampled_from(["stackable", "stackable", "exclusive", "stop"]),
    "active": st.sampled_from([True, True, True, False]),
    "currency": st.none() | st.sampled_from(CURRENCIES),
    "remaining_budget": st.none() | st.integers(0, 3000),
})


def campaign(id: str, fields: dict, trigger: str = "automatic") -> Campaign:
    return Campaign(id=id, name=f"Offer {id}", trigger=trigger, **fields)  # type: ignore[arg-type]


cart_lines = st.lists(st.tuples(st.integers(0, 5000), st.integers(1, 5), st.sampled_from(PRODUCTS),
                                st.sampled_from([None, "v1", "v2"]), category_sets), max_size=8)
carts = st.builds(
    lambda lines, currency, shipping: Cart(currency=currency, shipping_amount=shipping, lines=tuple(
        CartLine(id=f"li_{i}", unit_price=price, quantity=qty, product_id=product, variant_id=variant,
                 categories=tuple(sorted(cats)))
        for i, (price, qty, product, variant, cats) in enumerate(lines))),
    cart_lines, st.sampled_from(CURRENCIES), st.integers(0, 900),
)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Cart, list[Campaign], list[AppliedCode], Customer, EngineOptions]:
    cart = draw(carts)
    autos = [campaign(f"camp_{i}", fields) for i, fields in enumerate(draw(st.lists(campaign_fields, max_size=7)))]
    codes = [AppliedCode(code=f"CODE{i}", campaign=campaign(f"camp_code_{i}", fields, "code"))
             for i, fields in enumerate(draw(st.lists(campaign_fields, max_size=2)))]
    gift = Campaign(id="camp_gift", name="Gift card", reward=GiftCard(), trigger="code", created_at=T0)
    codes += [AppliedCode(code=f"GIFT{i}", campaign=gift, balance=balance)
              for i, balance in enumerate(draw(st.lists(st.integers(0, 20_000), max_size=2)))]
    customer = Customer(id="cus_1", segments=draw(st.sampled_from([frozenset(), frozenset({"vip"})])))
    options = EngineOptions(allow_multiple_percentage_basket=draw(st.booleans()))
    return cart, autos, codes, customer, options


def _evaluate(s: tuple, cart: Cart | None = None, autos: list[Campaign] | None = None) -> Evaluation:
    c, all_autos, codes, customer, options = s
    return evaluate(cart or c, now=NOW, campaigns=all_autos if autos is None else autos, codes=codes,
                    customer=customer, options=options)


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(scenarios())
def test_allocations_add_up_and_no_line_goes_below_zero(s: tuple) -> None:
    cart = s[0]
    result = _evaluate(s)
    per_line: dict[str, int] = {}
    shipping = 0
    for d in result.discounts:
        assert d.amount == sum(d.lines.values()) + d.shipping > 0
        assert all(part > 0 for part in d.lines.values())
        for line_id, part in d.lines.items():
            per_line[line_id] = per_line.get(line_id, 0) + part
        shipping += d.shipping
        if d.gift_card is not None:
            assert d.gift_card.spent == d.amount and d.gift_card.balance_left >= 0
    assert result.shipping_discount == shipping <= cart.shipping_amount
    by_id = {ln.id: ln for ln in cart.lines}
    assert [la.line_id for la in result.lines] == list(by_id)
    for la in result.lines:
        ln = by_id[la.line_id]
        assert la.amount == per_line.get(la.line_id, 0)
        assert 0 <= la.amount <= ln.subtotal  # never below zero
        assert sum(u.quantity for u in la.unit_splits) == ln.quantity
        assert sum(u.quantity * u.unit_discount for u in la.unit_splits) == la.amount
        assert len(la.unit_splits) <= 2
        if len(la.unit_splits) == 2:
            assert la.unit_splits[0].unit_discount == la.unit_splits[1].unit_discount + 1
    assert result.discount_total == sum(d.amount for d in result.discounts)


def _canonical(result: Evaluation) -> tuple:
    return (sorted((la.line_id, la.amount, la.unit_splits) for la in result.lines), result.shipping_discount,
            result.discounts, result.rejected)


@FAST
@given(scenarios(), st.randoms(use_true_random=False))
def test_result_does_not_depend_on_line_order(s: tuple, rnd) -> None:  # type: ignore[no-untyped-def]
    cart = s[0]
    lines = list(cart.lines)
    rnd.shuffle(lines)
    shuffled = Cart(currency=cart.currency, lines=tuple(lines), shipping_amount=cart.shipping_amount)
    assert _canonical(_evaluate(s)) == _canonical(_evaluate(s, cart=shuffled))


@FAST
@given(scenarios(), st.randoms(use_true_random=False))
def test_result_does_not_depend_on_campaign_order_and_twice_is_the_same(s: tuple, rnd) -> None:  # type: ignore[no-untyped-def]
    autos = list(s[1])
    first = _evaluate(s)
    assert _evaluate(s) == first
    rnd.shuffle(autos)
    assert _evaluate(s, autos=autos) == first


@FAST
@given(scenarios())
def test_index_gives_exactly_the_result_of_all_campaigns(s: tuple) -> None:
    cart, autos = s[0], s[1]
    index = CampaignIndex(autos)
    candidates = index.candidates(cart)
    assert {c.id for c in candidates} <= {c.id for c in autos}
    everything = _evaluate(s)
    assert _evaluate(s, autos=candidates) == everything
    _, _, codes, customer, options = s
    assert index.evaluate(cart, now=NOW, codes=codes, customer=customer, options=options) == everything


@given(total=st.integers(0, 10**6), weights=st.dictionaries(st.text(min_size=1, max_size=3), st.integers(0, 10**5),
                                                          min_size=1, max_size=10))
def test_allocate_adds_up_and_stays_within_each_weight(total: int, weights: dict[str, int]) -> None:
    total = min(total, sum(weights.values()))
    parts = allocate(total, weights)
    assert sum(parts.values()) == total
    assert all(0 < p <= weights[k] for k, p in parts.items())


@given(amount=st.integers(0, 10**6), quantity=st.integers(1, 9999))
def test_unit_splits_hold_at_most_two_prices(amount: int, quantity: int) -> None:
    splits = unit_splits(amount, quantity)
    assert sum(s.quantity * s.unit_discount for s in splits) == amount
    assert sum(s.quantity for s in splits) == quantity
