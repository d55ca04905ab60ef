"""Builders for promotion tests: short to write, explicit about what matters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
from kassa_promotions import (
    AppliedCode,
    AppliedDiscount,
    Campaign,
    Cart,
    CartLine,
    Customer,
    EngineOptions,
    Evaluation,
    ItemMatcher,
    PercentOff,
    Rejection,
    evaluate,
)

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def line(id: str, price: int, qty: int = 1, product: str | None = None, variant: str | None = None,
         cats: tuple[str, ...] = ()) -> CartLine:
    return CartLine(id=id, unit_price=price, quantity=qty, product_id=product or f"prod_{id}", variant_id=variant,
                    categories=cats)


def cart(*lines: CartLine, currency: str = "EUR", shipping: int = 0) -> Cart:
    return Cart(currency=currency, lines=tuple(lines), shipping_amount=shipping)


def camp(id: str = "camp_1", reward: Any = None, *, name: str | None = None, created_minutes: int = 0,
         **fields: Any) -> Campaign:
    return Campaign(id=id, name=name or id.replace("camp_", "Offer "), reward=reward or PercentOff(percent=Decimal(10)),
                    created_at=T0 + timedelta(minutes=created_minutes), **fields)


def code(campaign: Campaign, text: str = "SAVE", **fields: Any) -> AppliedCode:
    return AppliedCode(code=text, campaign=msgspec.structs.replace(campaign, trigger="code"), **fields)


def items(**fields: Any) -> ItemMatcher:
    return ItemMatcher(**{k: frozenset(v) for k, v in fields.items()})


def run(c: Cart, *campaigns: Campaign, codes: tuple[AppliedCode, ...] = (), customer: Customer | None = None,
        allow_multiple: bool = False, now: datetime = NOW) -> Evaluation:
    return evaluate(c, now=now, campaigns=campaigns, codes=codes, customer=customer,
                    options=EngineOptions(allow_multiple_percentage_basket=allow_multiple))


def applied(result: Evaluation, campaign_id: str) -> AppliedDiscount:
    found = [d for d in result.discounts if d.campaign_id == campaign_id]
    assert len(found) == 1, (campaign_id, result.discounts, result.rejected)
    return found[0]


def rejected(result: Evaluation, campaign_id: str) -> Rejection:
    found = [r for r in result.rejected if r.campaign_id == campaign_id]
    assert len(found) == 1, (campaign_id, result.discounts, result.rejected)
    return found[0]


def reason(result: Evaluation, campaign_id: str) -> str:
    return rejected(result, campaign_id).reason


def eur(minor: int) -> dict[str, int]:
    return {"EUR": minor}
