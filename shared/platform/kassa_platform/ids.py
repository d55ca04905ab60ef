"""Prefixed, time-ordered, unguessable ids: `cart_01jd8x…` (48-bit ms time + 80 random bits).

Time order keeps B-tree inserts local and makes ids usable as pagination cursors; the random
part makes them unguessable.
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime

# Crockford's base32 alphabet is in ASCII order: the text sorts like the number. Two symbols (10
# bits) per table lookup: twice as fast as the base64 module, whose base32 is pure Python.
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]


def _encode(value: int) -> str:
    """A 128-bit value as 26 symbols (130 bits: the value shifted left by two)."""
    value <<= 2
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in range(120, -1, -10)])


_last = [0, 0]  # (ms, random) of the last id: ids made in one millisecond still sort in creation order


def new_id(prefix: str) -> str:
    ms = time.time_ns() // 1_000_000
    if ms <= _last[0]:
        ms, rand = _last[0], _last[1] + 1 + secrets.randbits(16)
    else:
        rand = secrets.randbits(79)  # headroom so increments within a millisecond never overflow
    _last[0], _last[1] = ms, rand
    return f"{prefix}_{_encode((ms << 80) | rand)}"


def id_floor(prefix: str, when: datetime) -> str:
    """The smallest id of `prefix` made at `when`: `id < id_floor(p, t)` is "made before t", answered
    by the primary key's index."""
    ms = int(when.timestamp() * 1000)
    return f"{prefix}_{_encode(ms << 80)}"


def random_token(nbytes: int = 24) -> str:
    """URL-safe secret material for keys and client secrets."""
    return secrets.token_urlsafe(nbytes).replace("-", "x").replace("_", "y")
