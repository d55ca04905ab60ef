"""Opaque cursors over time-ordered ids (`?limit=&cursor=`)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from kassa_contract.errors import KassaError
from litestar.params import QueryParameter

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        value = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        value = ""
    if not value or "_" not in value or len(value) > 60:
        raise KassaError("validation_error", "The cursor is not one this API returned", field="cursor", status=400)
    return value


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise KassaError("validation_error", f"limit must be between 1 and {MAX_LIMIT}", field="limit", status=400)
    return limit


# The query parameters of every list endpoint, declared once for the handlers.
Limit = Annotated[int, QueryParameter(name="limit", ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, QueryParameter(name="cursor", required=False)]
