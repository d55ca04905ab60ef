"""Inputs refuse what cannot be priced; everything round-trips through JSON (camelCase)."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from kassa_promotions import (
    Bundle,
    BuyXGetY,
    Campaign,
    Cart,
    CartLine,
    Evaluation,
    FixedOff,
    ItemMatcher,
    PercentOff,
    Rules,
    ShippingOff,
)

from .helpers import T0, camp, cart, eur, line, run


@pytest.mark.parametrize("build", [
    lambda: PercentOff(percent=Decimal(0)),
    lambda: PercentOff(percent=Decimal("100.01")),
    lambda: PercentOff(percent=Decimal(10), max_discount={"EUR": -1}),
    lambda: FixedOff(amounts={"EUR": -5}),
    lambda: ShippingOff(),
    lambda: ShippingOff(percent=Decimal(10), amounts=eur(100)),
    lambda: BuyXGetY(buy=0),
    lambda: BuyXGetY(buy=2, max_applications=0),
    lambda: Bundle(groups=(), prices=eur(500)),
    lambda: CartLine(id="a", unit_price=100, quantity=0),
    lambda: CartLine(id="a", unit_price=-1, quantity=1),
    lambda: Cart(currency="EUR", lines=(line("a", 100), line("a", 200))),
    lambda: Cart(currency="EUR", shipping_amount=-1),
])
def test_invalid_inputs_are_refused(build) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        build()


def test_campaign_round_trips_through_json_with_a_tagged_reward() -> None:
    campaign = Campaign(id="camp_1", name="Meal deal", created_at=T0, rules=Rules(min_subtotal=eur(1000)),
                        reward=Bundle(groups=(ItemMatcher(categories=frozenset({"main"})),), prices=eur(500)))
    wire = msgspec.json.encode(campaign)
    assert b'"type":"bundle"' in wire and b'"minSubtotal"' in wire
    assert msgspec.json.decode(wire, type=Campaign) == campaign


def test_evaluation_encodes_camel_case() -> None:
    result = run(cart(line("a", 1000, 3)), camp(reward=FixedOff(amounts=eur(101))))
    data = msgspec.json.decode(msgspec.json.encode(result))
    assert data["lines"][0] == {"lineId": "a", "amount": 101, "unitSplits": [{"quantity": 2, "unitDiscount": 34},
                                                                               {"quantity": 1, "unitDiscount": 33}]}
    assert data["discounts"][0]["rewardType"] == "fixed_off"
    assert msgspec.json.decode(msgspec.json.encode(result), type=Evaluation) == result
