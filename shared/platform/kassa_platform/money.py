"""Exact money arithmetic: half-even rounding and largest-remainder apportionment.

Every split of an amount (a discount over lines, a tax group over its lines) goes through
`apportion`, so the parts always add up to the whole, to the minor unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any


def div_half_even(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half to even, exactly, in integers (denominator > 0)."""
    q, r = divmod(numerator, denominator)
    if 2 * r > denominator or (2 * r == denominator and q % 2):
        q += 1
    return q


def round_half_even(value: Decimal | Fraction) -> int:
    if isinstance(value, Fraction):
        value = Decimal(value.numerator) / Decimal(value.denominator)
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def apportion(total: int, weights: Sequence[Decimal | Fraction | int], tiebreak: Sequence[tuple[Any, ...]] | None = None) -> list[int]:
    """Split `total` minor units in proportion to `weights` by largest remainder.

    Each part is the floor of its exact share; the units left over go to the largest
    fractional remainders. Ties go by `tiebreak` (greater first: pass e.g. `(amount, id)`),
    else by position. The result never depends on anything but the inputs.
    """
    n = len(weights)
    if n == 0:
        if total:
            raise ValueError("cannot apportion a non-zero amount over nothing")
        return []
    if set(map(type, weights)) == {int}:  # (no generator: this runs for every discount split)
        return _apportion_ints(total, weights, tiebreak)  # type: ignore[arg-type]
    fw = [Fraction(w) if not isinstance(w, Decimal) else Fraction(w) for w in weights]
    if any(w < 0 for w in fw):
        raise ValueError("weights must not be negative")
    weight_sum = sum(fw)
    if weight_sum == 0:
        fw = [Fraction(1)] * n
        weight_sum = Fraction(n)
    sign = -1 if total < 0 else 1
    magnitude = abs(total)
    exact = [magnitude * w / weight_sum for w in fw]
    parts = [int(e) for e in exact]  # floor: exact shares are non-negative
    left = magnitude - sum(parts)
    keys = tiebreak or [()] * n
    order = sorted(range(n), key=lambda i: (exact[i] - parts[i], keys[i], -i), reverse=True)
    for i in order[:left]:
        parts[i] += 1
    return [sign * p for p in parts]


def _apportion_ints(total: int, weights: Sequence[int], tiebreak: Sequence[tuple[Any, ...]] | None) -> list[int]:
    """The same split for integer weights, in integer arithmetic (no Fractions: many times faster).
    Hot (every discount over a cart's lines): comprehensions, and a sort on plain tuples."""
    n = len(weights)
    if min(weights) < 0:
        raise ValueError("weights must not be negative")
    weight_sum = sum(weights)
    if weight_sum == 0:
        weights, weight_sum = [1] * n, n
    sign = -1 if total < 0 else 1
    magnitude = abs(total)
    parts = [magnitude * w // weight_sum for w in weights]
    left = magnitude - sum(parts)
    if left:
        # The `left` largest remainders get one unit more; among equal remainders at the cut, the
        # greater tiebreak, then the earlier position. Found with a sort of plain ints: ties at
        # the cut are rare, and only they need the tiebreak.
        remainders = [magnitude * w - p * weight_sum for w, p in zip(weights, parts, strict=True)]
        ranked = sorted(remainders, reverse=True)
        cut = ranked[left - 1]
        need = left - ranked.index(cut)  # units for the remainders equal to the cut
        tied = [i for i, r in enumerate(remainders) if r == cut]
        if need < len(tied):
            keys = tiebreak or [()] * n
            tied = sorted(tied, key=lambda i: (keys[i], -i), reverse=True)[:need]
        parts = [p + 1 if r > cut else p for p, r in zip(parts, remainders, strict=True)]
        for i in tied:
            parts[i] += 1
    return [sign * p for p in parts] if sign < 0 else parts
