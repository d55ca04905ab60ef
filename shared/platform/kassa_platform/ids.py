"""Prefixed, time-ordered, unguessable ids: `cart_01jd8x…` (48-bit ms time + 80 random bits).

Time order keeps B-tree inserts local and makes ids usable as pagination cursors; the random
part makes them unguessable.
"""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def _b32(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        out.append(_ALPHABET[rem])
    return "".join(reversed(out))


_last = [0, 0]  # (ms, random) of the last id: ids made in one millisecond still sort in creation order


def new_id(prefix: str) -> str:
    ms = time.time_ns() // 1_000_000
    if ms <= _last[0]:
        ms, rand = _last[0], _last[1] + 1 + secrets.randbits(16)
    else:
        rand = secrets.randbits(79)  # headroom so increments within a millisecond never overflow
    _last[0], _last[1] = ms, rand
    return f"{prefix}_{_b32(ms, 10)}{_b32(rand, 16)}"


def random_token(nbytes: int = 24) -> str:
    """URL-safe secret material for keys and client secrets."""
    return secrets.token_urlsafe(nbytes).replace("-", "x").replace("_", "y")
