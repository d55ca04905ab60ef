"""Property tests for money: apportionment and the cart totals identity, on random carts."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from kassa_cart.pricing import (
    LineInput,
    PricingConfig,
    ShippingRule,
    TaxRule,
    price_cart,
)
from kassa_platform.money import apportion

amounts = st.integers(min_value=0, max_value=10**9)


@given(total=st.integers(min_value=-10**9, max_value=10**9),
       weights=st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=40))
def test_apportion_adds_up_and_stays_near_the_exact_share(total: int, weights: list[int]) -> None:
    parts = apportion(total, weights, [(w, i) for i, w in enumerate(weights)])
    assert sum(parts) == total
    weight_sum = sum(weights) or len(weights)
    for part, w in zip(parts, weights if sum(weights) else [1] * len(weights), strict=True):
        exact = total * w / weight_sum
        assert abs(part - exact) < 1 + 1e-9


@given(total=st.integers(min_value=0, max_value=10**7),
       weights=st.lists(st.integers(min_value=0, max_value=10**5), min_size=1, max_size=20), data=st.data())
def test_apportion_does_not_depend_on_order(total: int, weights: list[int], data: st.DataObject) -> None:
    keyed = [(w, f"line_{i:03d}") for i, w in enumerate(weights)]
    shuffled = data.draw(st.permutations(keyed))
    first = dict(zip([k for _, k in keyed], apportion(total, [w for w, _ in keyed], keyed), strict=True))
    second = dict(zip([k for _, k in shuffled], apportion(total, [w for w, _ in shuffled], shuffled), strict=True))
    assert first == second


rates = st.sampled_from(["0", "5", "7", "7.25", "8.875", "10", "19", "20", "21", "25"])


@st.composite
def carts(draw: st.DrawFn) -> tuple[list[LineInput], PricingConfig, str | None]:
    n = draw(st.integers(min_value=0, max_value=25))
    classes = ["standard", "reduced", "zero"]
    lines = [
        LineInput(id=f"li_{i:03d}", variant_id=None, product_id=None, sku=f"S{i}", name="x",
                  quantity=draw(st.integers(min_value=1, max_value=9999)),
                  unit_price=draw(st.integers(min_value=0, max_value=10**6)),
                  tax_class=draw(st.sampled_from(classes)), categories=(), custom=True)
        for i in range(n)
    ]
    tax_rules = tuple(
        TaxRule(id=f"txr_{c}", country_code="DE", region="", tax_class=c, rate=Decimal(draw(rates)), name=f"DE {c}")
        for c in classes if draw(st.booleans())
    )
    shipping = {"shm_1": ShippingRule("shm_1", "Std", {"EUR": draw(st.integers(0, 10**5))},
                                      {"EUR": draw(st.integers(0, 10**7))} if draw(st.booleans()) else None,
                                      None, "shipping", True)}
    config = PricingConfig(prices_include_tax=draw(st.booleans()), tax_rules=tax_rules, shipping=shipping)
    return lines, config, draw(st.sampled_from([None, "shm_1"]))


@settings(max_examples=300, deadline=None)
@given(cart=carts(), country=st.sampled_from(["DE", None]), data=st.data())
def test_totals_identity_on_random_carts(cart: tuple, country: str | None, data: st.DataObject) -> None:  # type: ignore[type-arg]
    lines, config, method = cart
    discounts = {ln.id: data.draw(st.integers(0, ln.unit_price * ln.quantity)) for ln in lines}
    priced = price_cart(lines, currency="EUR", country=country, region=None, shipping_method_id=method, config=config,
                        line_discounts=discounts)
    assert priced.subtotal == sum(li.subtotal for li in priced.lines)
    assert priced.item_count == sum(li.quantity for li in priced.lines)
    shipping_tax = priced.shipping.tax_total if priced.shipping else 0
    assert priced.tax_total == sum(li.tax_total for li in priced.lines) + shipping_tax == sum(t.amount for t in priced.tax_lines)
    assert priced.discount_total == sum(li.discount_total for li in priced.lines)
    if config.prices_include_tax:
        assert priced.total == priced.subtotal - priced.discount_total + priced.shipping_total
    else:
        assert priced.total == priced.subtotal - priced.discount_total + priced.shipping_total + priced.tax_total
    for li in priced.lines:
        assert li.tax_total >= 0 and li.total >= 0
        assert li.total == li.subtotal - li.discount_total + (0 if config.prices_include_tax else li.tax_total)
    # Same input, same output; and line order does not change any line's figures.
    again = price_cart(list(reversed(lines)), currency="EUR", country=country, region=None, shipping_method_id=method,
                       config=config, line_discounts=discounts)
    assert {li.id: li for li in again.lines} == {li.id: li for li in priced.lines}
    assert again.total == priced.total and again.tax_total == priced.tax_total


@given(total=st.integers(min_value=-10**9, max_value=10**9),
       weights=st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=40))
def test_integer_and_exact_apportionment_agree(total: int, weights: list[int]) -> None:
    from fractions import Fraction

    keys = [(w, i) for i, w in enumerate(weights)]
    assert apportion(total, weights, keys) == apportion(total, [Fraction(w) for w in weights], keys)


@given(total=st.integers(min_value=-10**4, max_value=10**4),
       weights=st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=12),
       keyed=st.booleans())
def test_integer_and_exact_apportionment_agree_on_ties(total: int, weights: list[int], keyed: bool) -> None:
    """Many equal remainders: the tiebreak (or, without one, the position) decides, the same way
    in the integer path (a sort on plain tuples) as in the exact one."""
    from fractions import Fraction

    keys = [(w, f"k{i % 3}") for i, w in enumerate(weights)] if keyed else None
    assert apportion(total, weights, keys) == apportion(total, [Fraction(w) for w in weights], keys)
