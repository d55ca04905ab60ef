"""When to retry a request and how long to wait: pure functions, shared by the sync and async clients.

Retried: connection errors and timeouts, 408, 409 `idempotency_key_in_progress` (the first request
with the key is still running: its answer will be replayed), 429 and every 5xx. Never
`idempotency_key_reused` (another request already owns the key: retrying cannot help). Every
POST carries an Idempotency-Key that stays the same across the attempts, so a retried POST has
its effect once; Kassa releases the key of a request it refused before running it or that failed
with a 5xx, so the retry runs it.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping

from ._errors import APIConnectionError, KassaApiError, KassaError

INITIAL_DELAY = 0.5  # seconds before the first retry
MAX_DELAY = 8.0  # the backoff's ceiling
MAX_RETRY_AFTER = 60.0  # a server asking for a longer wait than this gets the error instead

_RETRY_STATUSES = frozenset({408, 429})


def should_retry(error: KassaError) -> bool:
    if isinstance(error, APIConnectionError):  # includes timeouts
        return True
    if not isinstance(error, KassaApiError):
        return False
    if error.status == 409:
        return error.code == "idempotency_key_in_progress"
    return error.status in _RETRY_STATUSES or error.status >= 500


def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds to wait from `Retry-After-Ms`, or `Retry-After` (seconds or an HTTP date); None if absent or unreadable."""
    if not headers:
        return None
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return max(float(value) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is None:
        return None
    return max(parsed.timestamp() - (time.time() if now is None else now), 0.0)


def backoff(retries_done: int) -> float:
    """Exponential backoff (0.5 s, 1 s, 2 s ... up to 8 s) less up to 25 % of jitter, never below 0.5 s,
    so that many clients refused at once do not come back at the same instant."""
    delay = min(INITIAL_DELAY * 2.0**retries_done, MAX_DELAY)
    return max(delay * (1 - 0.25 * random.random()), INITIAL_DELAY)


def retry_delay(error: KassaError, retries_done: int, max_retries: int) -> float | None:
    """How long to wait before the next attempt, or None to raise `error` now."""
    if retries_done >= max_retries or not should_retry(error):
        return None
    if isinstance(error, KassaApiError):
        asked = parse_retry_after(error.headers)  # httpx.Headers: case-insensitive
        if asked is not None:
            return asked if asked <= MAX_RETRY_AFTER else None
    return backoff(retries_done)
