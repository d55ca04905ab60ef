"""Small helpers for building calls."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TypeVar, overload
from urllib.parse import quote

from kassa_contract.base import UnsetT
from msgspec import UnsetType

T = TypeVar("T")


def seg(value: str) -> str:
    """An id as one path segment (escaped, so an id can never change the path)."""
    return quote(value, safe="")


def iso(value: datetime | str | None) -> str | None:
    """A query parameter time: a datetime in ISO 8601, a string as given."""
    return value.isoformat() if isinstance(value, datetime) else value


@overload
def listed(value: None) -> None: ...
@overload
def listed(value: UnsetT) -> UnsetT: ...
@overload
def listed(value: Iterable[T]) -> list[T]: ...


def listed(value: Iterable[T] | None | UnsetT) -> list[T] | None | UnsetT:
    """Any iterable as the list a contract Struct holds; `None` and `UNSET` as they are."""
    if value is None or isinstance(value, UnsetType):
        return value
    return list(value)
