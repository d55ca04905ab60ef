"""Golden outputs: a fixed corpus of random carts × campaigns × codes × customers, priced by the
index and by `evaluate` over every campaign, must give exactly the evaluations captured before
the engine's hot path was restructured for speed (issue 16). A change of result, however
small (an order, a reason, a minor unit), changes the digest; a deliberate change of rules
updates `GOLDEN` together with the README's decisions."""

from __future__ import annotations

import hashlib
import random
from datetime import timedelta
from decimal import Decimal

import msgspec
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
    FixedOff,
    FixedPerUnit,
    GiftCard,
    ItemMatcher,
    PercentOff,
    Rules,
    ShippingOff,
    evaluate,
)

from .helpers import NOW, T0

GOLDEN = "4f5b8b29b6954d4b40a28a91ec25ad18b755847ec96c20c184922f8a9379a9ce"
SCENARIOS = 800

PRODUCTS = [f"p{i}" for i in range(12)]
CATEGORIES = [f"c{i}" for i in range(6)]
VARIANTS = ["v1", "v2", "v3"]
PERCENTS = [Decimal(5), Decimal(10), Decimal("12.5"), Decimal(33), Decimal("33.3333"), Decimal(50), Decimal(100)]


def _some(rnd: random.Random, pool: list[str], most: int) -> frozenset[str]:
    return frozenset(rnd.sample(pool, rnd.randint(0, most)))


def _amounts(rnd: random.Random) -> dict[str, int]:
    return rnd.choice([{"EUR": rnd.randint(0, 5000)}, {"EUR": rnd.randint(0, 5000), "USD": rnd.randint(0, 5000)},
                       {"USD": rnd.randint(0, 5000)}, {"EUR": rnd.randint(1, 300)}])


def _matcher(rnd: random.Random) -> ItemMatcher:
    return ItemMatcher(product_ids=_some(rnd, PRODUCTS, 3), variant_ids=_some(rnd, VARIANTS, 1),
                       categories=_some(rnd, CATEGORIES, 2),
                       exclude_product_ids=_some(rnd, PRODUCTS, 1) if rnd.random() < 0.3 else frozenset(),
                       exclude_variant_ids=_some(rnd, VARIANTS, 1) if rnd.random() < 0.1 else frozenset(),
                       exclude_categories=_some(rnd, CATEGORIES, 1) if rnd.random() < 0.2 else frozenset())


def _reward(rnd: random.Random):  # type: ignore[no-untyped-def]
    kind = rnd.randrange(7)
    if kind == 0:
        return PercentOff(percent=rnd.choice(PERCENTS), max_discount=_amounts(rnd) if rnd.random() < 0.4 else None)
    if kind == 1:
        return FixedOff(amounts=_amounts(rnd))
    if kind == 2:
        return FixedPerUnit(amounts=_amounts(rnd))
    if kind == 3:
        return BuyXGetY(buy=rnd.randint(1, 3), get=rnd.randint(1, 2), percent=rnd.choice(PERCENTS),
                        max_applications=rnd.choice([None, 1, 2]))
    if kind == 4:
        return Bundle(groups=tuple(_matcher(rnd) for _ in range(rnd.randint(1, 3))), prices=_amounts(rnd),
                      max_applications=rnd.choice([None, 1, 3]))
    if kind == 5:
        return ShippingOff(percent=rnd.choice(PERCENTS))
    return ShippingOff(amounts=_amounts(rnd))


def _rules(rnd: random.Random) -> Rules:
    if rnd.random() < 0.4:
        return Rules()
    maybe = lambda p, make: make() if rnd.random() < p else None  # noqa: E731
    return Rules(
        min_subtotal=maybe(0.3, lambda: _amounts(rnd)), max_subtotal=maybe(0.1, lambda: {"EUR": rnd.randint(0, 20000)}),
        min_quantity=maybe(0.2, lambda: rnd.randint(1, 5)),
        customer_ids=frozenset({"cus_1"}) if rnd.random() < 0.05 else frozenset(),
        exclude_customer_ids=frozenset({"cus_2"}) if rnd.random() < 0.05 else frozenset(),
        emails=frozenset({"Ana@Example.com"}) if rnd.random() < 0.05 else frozenset(),
        exclude_emails=frozenset({"BO@example.com"}) if rnd.random() < 0.05 else frozenset(),
        segments=rnd.choice([frozenset(), frozenset(), frozenset({"vip"}), frozenset({"club", "staff"})]),
        exclude_segments=frozenset({"staff"}) if rnd.random() < 0.1 else frozenset(),
        first_order_only=rnd.random() < 0.1, per_customer_limit=maybe(0.1, lambda: rnd.randint(1, 2)),
    )


def _campaign(rnd: random.Random, id: str, trigger: str = "automatic") -> Campaign:
    start = rnd.choice([None] * 8 + [NOW - timedelta(days=1), NOW + timedelta(hours=1)])
    end = rnd.choice([None] * 8 + [NOW + timedelta(days=1), NOW - timedelta(hours=1), NOW])
    return Campaign(
        id=id, name=f"Offer {id}", reward=_reward(rnd), trigger=trigger,  # type: ignore[arg-type]
        created_at=T0 + timedelta(minutes=rnd.randint(0, 3)),
        items=_matcher(rnd) if rnd.random() < 0.5 else None, rules=_rules(rnd), priority=rnd.randint(0, 2),
        stacking=rnd.choice(["stackable", "stackable", "stackable", "exclusive", "stop"]),
        active=rnd.random() < 0.9, starts_at=start, ends_at=end, redemption_grace_hours=rnd.choice([0, 0, 2]),
        currency=rnd.choice([None, None, "EUR", "USD"]),
        remaining_uses=rnd.choice([None] * 6 + [0, 3]), remaining_budget=rnd.choice([None] * 5 + [0, 150, 3000]),
        remaining_period_budget=rnd.choice([None, None, None, 100, 2000]),
    )


def _scenario(rnd: random.Random) -> tuple[Cart, list[Campaign], list[AppliedCode], Customer, EngineOptions]:
    lines = tuple(
        CartLine(id=f"li_{i}", unit_price=rnd.randint(0, 5000), quantity=rnd.randint(1, 6),
                 product_id=rnd.choice(PRODUCTS), variant_id=rnd.choice([None, *VARIANTS]),
                 categories=tuple(sorted(_some(rnd, CATEGORIES, 2))))
        for i in range(rnd.randint(0, 12))
    )
    cart = Cart(currency=rnd.choice(["EUR", "EUR", "USD"]), lines=lines, shipping_amount=rnd.randint(0, 900))
    autos = [_campaign(rnd, f"camp_{i}") for i in range(rnd.randint(0, 14))]
    if autos and rnd.random() < 0.2:  # a duplicate id: the first one wins
        autos.append(msgspec.structs.replace(rnd.choice(autos), name="Duplicate"))
    codes = []
    for i in range(rnd.choice([0, 0, 1, 2])):
        campaign = _campaign(rnd, f"camp_code_{i}", "code")
        codes.append(AppliedCode(code=f"CODE{i}", campaign=campaign,
                                 status=rnd.choice(["active", "active", "reserved", "expired", "redeemed",
                                                    "deactivated"]),
                                 remaining_uses=rnd.choice([None, None, 0, 1]),
                                 assigned_to=rnd.choice([None, None, "cus_1", "ana@example.com", "cus_9"])))
    if codes and rnd.random() < 0.2:
        codes.append(codes[0])  # applied twice
    gift = Campaign(id="camp_gift", name="Gift card", reward=GiftCard(), trigger="code", created_at=T0,
                    items=_matcher(rnd) if rnd.random() < 0.3 else None)
    codes += [AppliedCode(code=f"GIFT{i}", campaign=gift, balance=rnd.choice([0, 500, 20_000]))
              for i in range(rnd.choice([0, 0, 0, 1, 2]))]
    customer = rnd.choice([
        Customer(),
        Customer(id="cus_1", email="ana@example.com", segments=frozenset({"vip"}), is_first_order=True),
        Customer(id="cus_2", email="bo@example.com", segments=frozenset({"club"}), usage={"camp_1": 1, "camp_2": 2}),
        Customer(id="cus_3", segments=frozenset({"staff"})),
    ])
    return cart, autos, codes, customer, EngineOptions(allow_multiple_percentage_basket=rnd.random() < 0.3)


def corpus_digest() -> str:
    rnd = random.Random(16)
    digest = hashlib.sha256()
    for _ in range(SCENARIOS):
        cart, autos, codes, customer, options = _scenario(rnd)
        everything = evaluate(cart, now=NOW, campaigns=autos, codes=codes, customer=customer, options=options)
        indexed = CampaignIndex(autos).evaluate(cart, now=NOW, codes=codes, customer=customer, options=options)
        assert indexed == everything
        digest.update(msgspec.json.encode(everything))
        digest.update(msgspec.json.encode([r.message for r in everything.rejected]))
    return digest.hexdigest()


def test_the_corpus_prices_exactly_as_captured() -> None:
    assert corpus_digest() == GOLDEN


def test_a_campaign_whose_standing_is_its_dates_is_refused_only_by_its_dates() -> None:
    """`rules.only_dates_stand` lets the engine skip the other standing checks: on every campaign
    of the corpus, for every customer, it must be right."""
    from kassa_promotions.rules import date_miss, only_dates_stand, standing_miss

    rnd = random.Random(61)
    customers = [Customer(), Customer(id="cus_1", email="ana@example.com", segments=frozenset({"vip"})),
                 Customer(id="cus_2", email="bo@example.com", segments=frozenset({"staff"}), is_first_order=True,
                          usage={"camp_0": 5})]
    checked = 0
    for _ in range(300):
        cart, autos, _codes, _customer, _options = _scenario(rnd)
        for campaign in autos:
            if only_dates_stand(campaign):
                checked += 1
                for customer in customers:
                    assert standing_miss(campaign, None, customer, NOW, cart.currency) == date_miss(campaign, None, NOW)
    assert checked > 100
