"""Small wire types shared by every resource: pagination, metadata, constrained scalars."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

import msgspec
from msgspec import Meta

from .base import Model
from .errors import KassaError

T = TypeVar("T")

# The descriptions also key the values the OpenAPI documents list for them (documented.py).
CURRENCY_DESCRIPTION = "ISO 4217 code, upper case"
COUNTRY_DESCRIPTION = "ISO 3166-1 alpha-2, upper case"
CurrencyCode = Annotated[str, Meta(pattern=r"^[A-Z]{3}$", description=CURRENCY_DESCRIPTION)]
CountryCode = Annotated[str, Meta(pattern=r"^[A-Z]{2}$", description=COUNTRY_DESCRIPTION)]
Email = Annotated[str, Meta(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Amount = Annotated[int, Meta(ge=0, le=10**15, description="Minor units of the currency")]
Name = Annotated[str, Meta(min_length=1, max_length=200)]
ShortText = Annotated[str, Meta(max_length=200)]
Metadata = dict[Annotated[str, Meta(min_length=1, max_length=40)], Any]

METADATA_MAX_KEYS = 50
METADATA_MAX_BYTES = 10 * 1024


class Page(Model, Generic[T]):
    data: list[T]
    next_cursor: str | None = None


def check_metadata(meta: dict[str, Any] | None, field: str = "metadata") -> None:
    """The metadata caps of every resource that carries metadata: 422 `metadata_too_large`."""
    if meta is None:
        return
    if len(meta) > METADATA_MAX_KEYS or len(msgspec.json.encode(meta)) > METADATA_MAX_BYTES:
        raise KassaError("metadata_too_large", f"metadata holds at most {METADATA_MAX_KEYS} keys and "
                         f"{METADATA_MAX_BYTES // 1024} KB serialized", field=field)
