"""Opaque cursors over time-ordered ids (`?limit=&cursor=`), and the time filters of list queries."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

import sqlalchemy as sa
from kassa_contract.common import Page
from kassa_contract.errors import KassaError
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncConnection

T = TypeVar("T")

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
    if not value or "_" not in value or len(value) > 80:
        raise KassaError("validation_error", "The cursor is not one this API returned", field="cursor", status=400)
    return value


async def newest_first_page(conn: AsyncConnection, query: sa.Select[Any], id_column: sa.ColumnElement[str], limit: int,
                            cursor: str | None, view: Callable[[Any], T]) -> Page[T]:
    """One page of `query`'s rows, newest id first, each shown through `view`."""
    before = decode_cursor(cursor)
    if before:
        query = query.where(id_column < before)
    rows = (await conn.execute(query.order_by(id_column.desc()).limit(limit + 1))).all()
    return Page(data=[view(r) for r in rows[:limit]],
                next_cursor=encode_cursor(rows[limit - 1].id) if len(rows) > limit else None)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_KEYSET_SEP = "~"


def encode_keyset_cursor(value: datetime, last_id: str, sort: str = "") -> str:
    """A cursor for a list sorted by a time column: the sort it was made for, the last row's time
    (in microseconds) and its id, the tie-break that keeps the order total when rows share a time."""
    micros = (value - _EPOCH) // timedelta(microseconds=1)
    return encode_cursor(f"{sort}!{micros}{_KEYSET_SEP}{last_id}")


def decode_keyset_cursor(cursor: str | None, sort: str = "") -> tuple[datetime, str] | None:
    """The cursor's (time, id); refused unless it was made for this `sort`."""
    raw = decode_cursor(cursor)
    if raw is None:
        return None
    made_for, bang, rest = raw.partition("!")
    micros, sep, last_id = rest.partition(_KEYSET_SEP)
    if not bang or made_for != sort or not sep or not micros.lstrip("-").isdigit() or "_" not in last_id:
        raise KassaError("validation_error", "The cursor is not one this API returned (or was made for another "
                         "sort)", field="cursor", status=400)
    return _EPOCH + timedelta(microseconds=int(micros)), last_id


def keyset_after(query: sa.Select[Any], sort_column: sa.ColumnElement[Any], id_column: sa.ColumnElement[str],
                 after: tuple[datetime, str] | None, *, descending: bool) -> sa.Select[Any]:
    """`query` ordered by (sort, id) in one direction, starting after the cursor's row: a row
    comparison, which an index on (…, sort, id) answers in order on both databases."""
    if after is not None:
        row, bound = sa.tuple_(sort_column, id_column), sa.tuple_(sa.literal(after[0], sort_column.type),
                                                                  sa.literal(after[1]))
        query = query.where(row < bound if descending else row > bound)
    if descending:
        return query.order_by(sort_column.desc(), id_column.desc())
    return query.order_by(sort_column, id_column)


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise KassaError("validation_error", f"limit must be between 1 and {MAX_LIMIT}", field="limit", status=400)
    return limit


# The query parameters of every list endpoint, declared once for the handlers.
Limit = Annotated[int, QueryParameter(name="limit", ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, QueryParameter(name="cursor", required=False)]


def query_time(value: str | None, name: str) -> datetime | None:
    """An ISO 8601 time; one without a zone is taken as UTC."""
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise KassaError("validation_error", f"`{name}` must be an ISO 8601 time, e.g. 2026-06-21T00:00:00Z",
                         field=name, status=400) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
