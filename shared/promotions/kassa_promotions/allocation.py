"""Spreading a discount over lines and over a line's units, to the minor unit.

Line splits go through `kassa_platform.money.apportion` (largest remainder), weighted by what is
left of each line, ties to the larger line and then the larger id, so the parts add up to the
whole, no part exceeds its weight, and the result does not depend on the order of the lines.
"""

from __future__ import annotations

from collections.abc import Mapping

from kassa_platform.money import apportion

from .model import UnitSplit


def allocate(total: int, weights: Mapping[str, int]) -> dict[str, int]:
    """Split `total` (0 <= total <= sum of weights) over the keys; only non-zero parts are kept."""
    if total <= 0:
        return {}
    keys, values = list(weights), list(weights.values())
    if values and min(values) <= 0:  # (rare: a line already fully discounted)
        keys = [k for k, w in weights.items() if w > 0]
        values = [weights[k] for k in keys]
    whole = sum(values)
    if total > whole:
        raise ValueError("cannot allocate more than the weights hold")
    # Exact cases need no apportioning (and apportion's exact fractions are not free).
    if total == whole:
        return dict(zip(keys, values, strict=True))
    if len(keys) == 1:
        return {keys[0]: total}
    parts = apportion(total, values, list(zip(values, keys, strict=True)))
    return {k: p for k, p in zip(keys, parts, strict=True) if p}


_UNDISCOUNTED: dict[int, tuple[UnitSplit, ...]] = {}  # quantity -> the split of 0 (most lines)


def unit_splits(amount: int, quantity: int) -> tuple[UnitSplit, ...]:
    """`amount` over `quantity` units: `extra` units carry one minor unit more than the rest,
    so a line never holds more than two unit prices."""
    if amount == 0:
        # Frozen Structs: one shared answer per quantity (bounded: quantities people buy).
        found = _UNDISCOUNTED.get(quantity)
        if found is None:
            found = (UnitSplit(quantity=quantity, unit_discount=0),)
            if quantity <= 1000:
                _UNDISCOUNTED[quantity] = found
        return found
    base, extra = divmod(amount, quantity)
    splits = []
    if extra:
        splits.append(UnitSplit(quantity=extra, unit_discount=base + 1))
    if quantity - extra:
        splits.append(UnitSplit(quantity=quantity - extra, unit_discount=base))
    return tuple(splits)


def unit_prices(remaining: int, quantity: int) -> list[tuple[int, int]]:
    """What each unit of a line is worth now, as (price, count) runs (at most two), for rewards
    that pick individual units (cheapest free, bundles)."""
    base, extra = divmod(remaining, quantity)
    runs = []
    if extra:
        runs.append((base + 1, extra))
    if quantity - extra:
        runs.append((base, quantity - extra))
    return runs
