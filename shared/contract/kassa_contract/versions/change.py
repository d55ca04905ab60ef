"""One API version change: its date, its changelog text and the transforms that render the newer
shape in the older one (and lift an older request to the newer shape).

Transforms work on decoded JSON (wire names, camelCase), never on Structs: handlers only ever see
and produce the newest shape, and the edge (`kassa_platform.versioning`) runs these for callers on
an older version. A transform receives a value it may change in place and returns the result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Transform = Callable[[Any], Any]


@dataclass(frozen=True)
class VersionChange:
    """What changed in `version` (the first version with the new shape)."""

    version: str  # YYYY-MM-DD
    title: str  # one line for the changelog
    description: str  # what changed and why
    client_changes: str  # what to change in a client that moves past this version
    # Operation id -> transform of a 2xx response body from this version's shape to the previous one.
    responses: Mapping[str, Transform] = field(default_factory=dict)
    # Operation id -> transform of a request body from the previous version's shape to this one's.
    requests: Mapping[str, Transform] = field(default_factory=dict)
    # Event type -> transform of the event's `data` from this version's shape to the previous one.
    events: Mapping[str, Transform] = field(default_factory=dict)
    # A change that cannot be rendered backwards by transforms alone (a behaviour, not a shape) is
    # marked so; `impure_note` says what an older version sees instead.
    pure: bool = True
    impure_note: str = ""


def rename_key(old: str, new: str) -> Transform:
    """The transform that gives a JSON object's `new` key back its `old` name (keeping its place)."""

    def transform(obj: Any) -> Any:
        if not isinstance(obj, dict) or new not in obj:
            return obj
        return {old if k == new else k: v for k, v in obj.items()}

    return transform


def in_list(inner: Transform, key: str = "data") -> Transform:
    """Apply `inner` to each item of the list under `key` (a page or a `{"data": [...]}` answer)."""

    def transform(obj: Any) -> Any:
        if isinstance(obj, dict) and isinstance(obj.get(key), list):
            obj[key] = [inner(item) for item in obj[key]]
        return obj

    return transform


def at(key: str, inner: Transform) -> Transform:
    """Apply `inner` to the value under `key` when it is present and not null."""

    def transform(obj: Any) -> Any:
        if isinstance(obj, dict) and obj.get(key) is not None:
            obj[key] = inner(obj[key])
        return obj

    return transform
