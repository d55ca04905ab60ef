"""Prefixed, time-ordered, unguessable ids: `cart_01jd8x…` (48-bit ms time + 80 random bits).

Time order keeps B-tree inserts local and makes ids usable as pagination cursors; the random
part makes them unguessable.
"""

from __future__ import annotations

import base64
import secrets
import time
from datetime import datetime

# RFC 4648 base32 (done in C by the base64 module) mapped symbol by symbol onto Crockford's
# alphabet, which is in ASCII order: the text sorts like the number.
_TO_CROCKFORD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", b"0123456789abcdefghjkmnpqrstvwxyz")


_last = [0, 0]  # (ms, random) of the last id: ids made in one millisecond still sort in creation order


def new_id(prefix: str) -> str:
    ms = time.time_ns() // 1_000_000
    if ms <= _last[0]:
        ms, rand = _last[0], _last[1] + 1 + secrets.randbits(16)
    else:
        rand = secrets.randbits(79)  # headroom so increments within a millisecond never overflow
    _last[0], _last[1] = ms, rand
    encoded = base64.b32encode(((ms << 80) | rand).to_bytes(16, "big"))[:26].translate(_TO_CROCKFORD)
    return f"{prefix}_{encoded.decode()}"


def id_floor(prefix: str, when: datetime) -> str:
    """The smallest id of `prefix` made at `when`: `id < id_floor(p, t)` is "made before t", answered
    by the primary key's index."""
    ms = int(when.timestamp() * 1000)
    encoded = base64.b32encode((ms << 80).to_bytes(16, "big"))[:26].translate(_TO_CROCKFORD)
    return f"{prefix}_{encoded.decode()}"


def random_token(nbytes: int = 24) -> str:
    """URL-safe secret material for keys and client secrets."""
    return secrets.token_urlsafe(nbytes).replace("-", "x").replace("_", "y")
