"""What each reward is worth on the cart as it is now, already split over lines.

Every function sees the eligible lines and what is left of each line (after earlier discounts)
and returns a `Grant` (per-line minor units + shipping) or a `Miss`. No part ever exceeds what
is left of its line, so a line never goes below zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from kassa_contract.money import format_amount
from kassa_platform.money import div_half_even

from .allocation import allocate, unit_prices
from .matching import CartView
from .model import (
    AppliedCode,
    Bundle,
    BuyXGetY,
    Campaign,
    CartLine,
    FixedOff,
    FixedPerUnit,
    GiftCard,
    PercentOff,
    ShippingOff,
)
from .reasons import Miss, Reason


@dataclass(slots=True)
class Grant:
    lines: dict[str, int]
    shipping: int = 0
    clamped: bool = False
    note: str | None = None

    @property
    def amount(self) -> int:
        return sum(self.lines.values()) + self.shipping


def _percent_of(amount: int, percent: Decimal | int) -> int:
    num, den = percent.as_integer_ratio()  # exact for a Decimal or an int, and fast (no Fraction)
    return div_half_even(amount * num, den * 100)


def _remaining_of(eligible: Sequence[CartLine], remaining: Mapping[str, int]) -> dict[str, int]:
    if len(eligible) == len(remaining):  # every line (ids are unique): a copy, in the same cart order
        return dict(remaining)
    return {ln.id: remaining[ln.id] for ln in eligible}


_NOTHING = Miss(Reason.NOTHING_TO_DISCOUNT)


def percent_off(reward: PercentOff, eligible: Sequence[CartLine], remaining: Mapping[str, int],
                currency: str) -> Grant | Miss:
    weights = _remaining_of(eligible, remaining)
    amount = _percent_of(sum(weights.values()), reward.percent)
    clamped, note = False, None
    if reward.max_discount is not None and amount > reward.max_discount[currency]:
        amount = reward.max_discount[currency]
        clamped, note = True, f"capped at {format_amount(amount, currency)}"
    if amount <= 0:
        return _NOTHING
    return Grant(allocate(amount, weights), clamped=clamped, note=note)


def percent_off_delivered(reward: PercentOff, basket: int, currency: str) -> int:
    """What a percentage basket voucher would deliver on `basket`, cap included: the seed's
    "cap-aware delivered discount" that orders same-priority percentage vouchers."""
    amount = _percent_of(basket, reward.percent)
    if reward.max_discount is not None:
        amount = min(amount, reward.max_discount.get(currency, 0))
    return amount


def fixed_off(reward: FixedOff, eligible: Sequence[CartLine], remaining: Mapping[str, int],
              currency: str) -> Grant | Miss:
    weights = _remaining_of(eligible, remaining)
    amount = min(reward.amounts[currency], sum(weights.values()))
    return Grant(allocate(amount, weights)) if amount > 0 else _NOTHING


def fixed_per_unit(reward: FixedPerUnit, eligible: Sequence[CartLine], remaining: Mapping[str, int],
                   currency: str) -> Grant | Miss:
    per_unit = reward.amounts[currency]
    lines = {ln.id: min(per_unit * ln.quantity, remaining[ln.id]) for ln in eligible}
    lines = {k: v for k, v in lines.items() if v}
    return Grant(lines) if lines else _NOTHING


def buy_x_get_y(reward: BuyXGetY, eligible: Sequence[CartLine], remaining: Mapping[str, int]) -> Grant | Miss:
    size = reward.buy + reward.get
    units = sum(ln.quantity for ln in eligible)
    groups = units // size
    if reward.max_applications is not None:
        groups = min(groups, reward.max_applications)
    if groups == 0:
        return Miss(Reason.MIN_QUANTITY_NOT_MET, {"count": size - units})
    # The cheapest units overall are discounted: each of them is "paid for" by `buy` dearer
    # units, and it is what a shopper expects from "cheapest item free". Ties go by line id.
    runs = sorted((price, ln.id, count)
                  for ln in eligible for price, count in unit_prices(remaining[ln.id], ln.quantity))
    to_free = groups * reward.get
    chosen: dict[str, int] = {}
    for price, line_id, count in runs:
        if to_free == 0:
            break
        take = min(count, to_free)
        chosen[line_id] = chosen.get(line_id, 0) + price * take
        to_free -= take
    full = sum(chosen.values())
    amount = full if reward.percent == 100 else _percent_of(full, reward.percent)
    return Grant(allocate(amount, chosen)) if amount > 0 else _NOTHING


@dataclass(slots=True)
class _UnitRun:
    """Units of one line at one price, and how many of them no bundle has taken yet."""

    price: int
    line_id: str
    left: int


def bundle(reward: Bundle, eligible: Sequence[CartLine], remaining: Mapping[str, int], currency: str,
           group_lines: Sequence[Sequence[CartLine]]) -> Grant | Miss:
    """`group_lines`: the lines each group matches."""
    empty = len(group_lines) - sum(map(bool, group_lines))
    if empty:  # the usual incomplete meal deal: say how many groups are missing, skip the search
        return Miss(Reason.BUNDLE_INCOMPLETE, {"count": empty})
    group_ids = [frozenset(ln.id for ln in lines) for lines in group_lines]
    price = reward.prices[currency]
    # Units as runs of equal price; at most two runs per line.
    runs = [_UnitRun(p, ln.id, count) for ln in eligible for p, count in unit_prices(remaining[ln.id], ln.quantity)]
    runs.sort(key=lambda r: (-r.price, r.line_id))  # most expensive first, so the shopper saves the most
    members = [[i for i, r in enumerate(runs) if r.line_id in ids] for ids in group_ids]
    # Greedy, most constrained group first, so overlapping groups still form as many bundles
    # as they can in the usual cases (a main that is also a snack, etc.).
    order = sorted(range(len(members)), key=lambda g: (sum(runs[i].left for i in members[g]), g))

    weights: dict[str, int] = {}
    total = formed = 0
    missing: int | None = None
    while reward.max_applications is None or formed < reward.max_applications:
        take: dict[int, int] = {}
        short = 0
        for g in order:
            pick = next((i for i in members[g] if runs[i].left - take.get(i, 0) > 0), None)
            if pick is None:
                short += 1
            else:
                take[pick] = take.get(pick, 0) + 1
        if short:
            missing = short if formed == 0 else None
            break
        saving = sum(runs[i].price * n for i, n in take.items()) - price
        if saving <= 0:  # a bundle is only formed when it lowers the price
            break
        # The same choice repeats while every chosen run still has units: take them at once.
        repeat = min(runs[i].left // n for i, n in take.items())
        if reward.max_applications is not None:
            repeat = min(repeat, reward.max_applications - formed)
        for i, n in take.items():
            runs[i].left -= n * repeat
            weights[runs[i].line_id] = weights.get(runs[i].line_id, 0) + runs[i].price * n * repeat
        total += saving * repeat
        formed += repeat
    if formed == 0:
        return Miss(Reason.BUNDLE_INCOMPLETE, {"count": missing}) if missing else _NOTHING
    return Grant(allocate(total, weights))


def shipping_off(reward: ShippingOff, shipping_left: int, currency: str) -> Grant | Miss:
    if shipping_left <= 0:
        return Miss(Reason.NOTHING_TO_DISCOUNT, {"variant": "shipping"})
    if reward.percent is not None:
        amount = _percent_of(shipping_left, reward.percent)
    else:
        assert reward.amounts is not None  # ShippingOff holds exactly one of percent and amounts
        amount = min(reward.amounts[currency], shipping_left)
    return Grant({}, shipping=amount) if amount > 0 else _NOTHING


def gift_card(code: AppliedCode, eligible: Sequence[CartLine], remaining: Mapping[str, int], shipping_left: int,
              with_shipping: bool) -> Grant | Miss:
    # Stored value pays for whatever is left, shipping included (unless the card is limited
    # to some items); a partial spend leaves the rest on the card.
    weights = _remaining_of(eligible, remaining)
    if with_shipping and shipping_left > 0:
        weights[_SHIPPING] = shipping_left
    amount = min(code.balance or 0, sum(weights.values()))
    if amount <= 0:
        return _NOTHING
    parts = allocate(amount, weights)
    shipping = parts.pop(_SHIPPING, 0)
    return Grant(parts, shipping=shipping)


_SHIPPING = "\x00shipping"  # a key no line id can be: sorts apart in apportion's tiebreak


def compute(campaign: Campaign, code: AppliedCode | None, view: CartView, remaining: Mapping[str, int],
            shipping_left: int, currency: str, eligible: Sequence[CartLine] | None = None) -> Grant | Miss:
    """`eligible`: `view.eligible(campaign)`, when the caller has it already."""
    reward = campaign.reward
    if eligible is None:
        eligible = view.eligible(campaign)
    if isinstance(reward, PercentOff):
        return percent_off(reward, eligible, remaining, currency)
    if isinstance(reward, FixedOff):
        return fixed_off(reward, eligible, remaining, currency)
    if isinstance(reward, FixedPerUnit):
        return fixed_per_unit(reward, eligible, remaining, currency)
    if isinstance(reward, BuyXGetY):
        return buy_x_get_y(reward, eligible, remaining)
    if isinstance(reward, Bundle):
        return bundle(reward, eligible, remaining, currency, [view.matching(g) for g in reward.groups])
    if isinstance(reward, ShippingOff):
        return shipping_off(reward, shipping_left, currency)
    if isinstance(reward, GiftCard):
        assert code is not None  # rules only let gift cards through with a code
        return gift_card(code, eligible, remaining, shipping_left, with_shipping=campaign.items is None)
    raise TypeError(f"unknown reward {type(reward).__name__}")


def clamp_to_budget(grant: Grant, budget: int | None, currency: str) -> Grant:
    """Grant what the budget has left, and say so. The parts shrink in proportion, so each stays
    within what it was (and within its line)."""
    if budget is None or grant.amount <= budget:
        return grant
    weights = dict(grant.lines)
    if grant.shipping:
        weights[_SHIPPING] = grant.shipping
    parts = allocate(budget, weights)
    shipping = parts.pop(_SHIPPING, 0)
    note = "budget nearly exhausted"
    return Grant(parts, shipping=shipping, clamped=True, note=f"{grant.note}; {note}" if grant.note else note)
