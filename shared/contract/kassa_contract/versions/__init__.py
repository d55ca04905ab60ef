"""The API's versions: dates, newest first, and the change that made each one.

An application is pinned to a version at its creation (the newest); a request may name another in
the `Kassa-Version` header. Resources are defined at the newest version only (the Structs of this
package); a caller on an older version gets the newest shape passed back through each change newer
than its version, newest first — one module per change, listed in `CHANGES`. Events are stored in
the newest shape and rendered in each webhook endpoint's version at delivery the same way.

To add a version: write `vYYYY_MM_DD_<what>.py` with its `CHANGE`, put it first in `CHANGES`, change
the Structs to the new shape, and regenerate the changelog (`docs/api-versions.md`) and the SDKs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import v2026_12_07_payment_provider
from .change import Transform, VersionChange

# The API as it stood when versions were introduced: what an application created before then is pinned to.
FIRST_VERSION = "2026-11-30"

# Every change, newest first.
CHANGES: tuple[VersionChange, ...] = (
    v2026_12_07_payment_provider.CHANGE,
)

VERSIONS: tuple[str, ...] = (*(c.version for c in CHANGES), FIRST_VERSION)  # newest first
LATEST_VERSION = VERSIONS[0]

VERSION_HEADER = "Kassa-Version"

# Operations that answer with stored events (rendered with the events' transforms): how to find
# the events in their answer.
EVENT_OPERATIONS: Mapping[str, str] = {"getEvent": "one", "listEvents": "page"}


def _check(changes: tuple[VersionChange, ...]) -> None:
    dates = [c.version for c in changes]
    if dates != sorted(set(dates), reverse=True) or (dates and dates[-1] <= FIRST_VERSION):
        raise AssertionError(f"CHANGES must be newest first, one per date, after {FIRST_VERSION}: {dates}")


_check(CHANGES)


def _compose(transforms: list[Transform]) -> Transform:
    if len(transforms) == 1:
        return transforms[0]

    def run(value: Any) -> Any:
        for t in transforms:
            value = t(value)
        return value

    return run


@dataclass(frozen=True)
class VersionPlan:
    """What the edge does for a caller on `version`: the composed transforms per operation and event
    type (absent: nothing to do, the newest shape is that version's shape)."""

    version: str
    responses: Mapping[str, Transform]  # operation id -> newest body to this version's
    requests: Mapping[str, Transform]  # operation id -> this version's body to the newest
    events: Mapping[str, Transform]  # event type -> newest `data` to this version's



def plan_for(version: str, changes: tuple[VersionChange, ...] = CHANGES) -> VersionPlan:
    """The transforms for a caller on `version`, composed once (`changes`: newest first)."""
    newer = [c for c in changes if c.version > version]  # newest first
    responses: dict[str, list[Transform]] = {}
    requests: dict[str, list[Transform]] = {}
    events: dict[str, list[Transform]] = {}
    for change in newer:  # responses and events go back newest first
        for op, t in change.responses.items():
            responses.setdefault(op, []).append(t)
        for kind, t in change.events.items():
            events.setdefault(kind, []).append(t)
    for change in reversed(newer):  # requests come forward oldest first
        for op, t in change.requests.items():
            requests.setdefault(op, []).append(t)
    composed_events = {kind: _compose(ts) for kind, ts in events.items()}
    composed_responses = {op: _compose(ts) for op, ts in responses.items()}
    if composed_events:
        for op, shape in EVENT_OPERATIONS.items():
            render_one = _event_renderer(version, changes)
            composed_responses[op] = render_one if shape == "one" else _page_of(render_one)
    return VersionPlan(version, composed_responses, {op: _compose(ts) for op, ts in requests.items()},
                       composed_events)


def _event_renderer(version: str, changes: tuple[VersionChange, ...]) -> Transform:
    return lambda envelope: render_event(envelope, version, changes)


def _page_of(inner: Transform) -> Transform:
    def run(page: Any) -> Any:
        if isinstance(page, dict) and isinstance(page.get("data"), list):
            page["data"] = [inner(item) for item in page["data"]]
        return page

    return run


PLANS: Mapping[str, VersionPlan] = {v: plan_for(v) for v in VERSIONS}


def render_event(envelope: dict[str, Any], version: str,
                 changes: tuple[VersionChange, ...] = CHANGES) -> dict[str, Any]:
    """A decoded event envelope in `version`.

    An event is stored in the shape of the version that was newest when it was written (its
    `apiVersion`; an event from before versions has none and is in the first version's shape). It is
    passed back through each change between that version and `version`; asking for a version newer
    than the event's gives the event as stored.
    """
    stored = envelope.get("apiVersion") or FIRST_VERSION
    if version >= stored:
        return envelope
    kind = envelope.get("type")
    data = envelope.get("data")
    for change in changes:  # newest first
        if version < change.version <= stored:
            transform = change.events.get(kind)  # type: ignore[arg-type]
            if transform is not None:
                data = transform(data)
    envelope["data"] = data
    envelope["apiVersion"] = version
    return envelope


def is_version(value: str) -> bool:
    return value in PLANS


def version_error_message(value: str) -> str:
    return f"Unknown API version `{value[:40]}`: known versions are {', '.join(VERSIONS)}"


__all__ = ["CHANGES", "EVENT_OPERATIONS", "FIRST_VERSION", "LATEST_VERSION", "PLANS", "VERSIONS", "VERSION_HEADER",
           "Transform", "VersionChange", "VersionPlan", "is_version", "plan_for", "render_event", "version_error_message"]
