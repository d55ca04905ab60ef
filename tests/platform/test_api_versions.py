"""The version chain (kassa_contract.versions) and the edge that runs it (kassa_platform.versioning).

A chain of three invented changes shows the order of transforms (answers and events back newest
first, requests forward oldest first) and that a caller on a version runs exactly the changes newer
than it. The shipped change is covered end to end in tests/webhooks/test_api_version_matrix.py.
"""

from __future__ import annotations

import asyncio
import types
from typing import Any

import asyncpg
import msgspec
import pytest
import sqlalchemy as sa
from kassa_contract.errors import KassaError
from kassa_contract.versions import (
    CHANGES,
    FIRST_VERSION,
    LATEST_VERSION,
    VERSIONS,
    VersionChange,
    plan_for,
    render_event,
)
from kassa_contract.versions.change import rename_key
from kassa_platform.auth import PRINCIPAL_KEY, Principal
from kassa_platform.body import BODY_KEY
from kassa_platform.db import transaction
from kassa_platform.tables import api_keys
from kassa_platform.versioning import ApiVersionMiddleware

from tests.conftest import Backend, make_tenant


def _append(tag: str) -> Any:
    def transform(body: dict[str, Any]) -> dict[str, Any]:
        body["trail"] = [*body.get("trail", []), tag]
        return body
    return transform


CHAIN = (
    VersionChange(version="2027-03-01", title="c", description="", client_changes="",
                  responses={"op": _append("back from c")}, requests={"op": _append("forward to c")},
                  events={"thing.happened": _append("event back from c")}),
    VersionChange(version="2027-02-01", title="b", description="", client_changes="",
                  responses={"op": rename_key("old", "new")}, requests={"op": rename_key("new", "old")}),
    VersionChange(version="2027-01-01", title="a", description="", client_changes="",
                  responses={"op": _append("back from a")}, requests={"op": _append("forward to a")},
                  events={"thing.happened": _append("event back from a")}),
)
CHAIN_VERSIONS = ("2027-03-01", "2027-02-01", "2027-01-01", "2026-12-31")
PLANS = {v: plan_for(v, CHAIN) for v in CHAIN_VERSIONS}


def test_answers_go_back_newest_first_and_requests_forward_oldest_first() -> None:
    oldest = PLANS["2026-12-31"]
    assert oldest.responses["op"]({"new": 1}) == {"old": 1, "trail": ["back from c", "back from a"]}
    assert oldest.requests["op"]({"old": 1}) == {"new": 1, "trail": ["forward to a", "forward to c"]}
    middle = PLANS["2027-02-01"]  # has b's shape: only c runs
    assert middle.responses["op"]({"new": 1}) == {"new": 1, "trail": ["back from c"]}
    assert PLANS["2027-03-01"].responses == {} and PLANS["2027-03-01"].requests == {}


def test_events_render_only_through_the_changes_between_the_stored_and_the_asked_version() -> None:
    def stored(version: str | None) -> dict[str, Any]:
        envelope: dict[str, Any] = {"id": "evt_1", "type": "thing.happened", "data": {}}
        if version:
            envelope["apiVersion"] = version
        return envelope

    assert render_event(stored("2027-03-01"), "2026-12-31", CHAIN) == {
        "id": "evt_1", "type": "thing.happened", "apiVersion": "2026-12-31",
        "data": {"trail": ["event back from c", "event back from a"]}}
    # Stored when b was newest: c never shaped it.
    assert render_event(stored("2027-02-01"), "2026-12-31", CHAIN)["data"] == {"trail": ["event back from a"]}
    # Stored before versions (no apiVersion: the first version's shape) or asked newer than stored: as stored.
    assert render_event(stored(None), "2026-12-31", CHAIN)["data"] == {}
    newer = render_event(stored("2027-01-01"), "2027-03-01", CHAIN)
    assert (newer["data"], newer["apiVersion"]) == ({}, "2027-01-01")
    # Another event type is not touched.
    other = render_event({"type": "other", "apiVersion": "2027-03-01", "data": {"x": 1}}, "2026-12-31", CHAIN)
    assert other["data"] == {"x": 1}


def test_the_shipped_versions_are_dated_newest_first() -> None:
    assert VERSIONS == (*(c.version for c in CHANGES), FIRST_VERSION) and VERSIONS[0] == LATEST_VERSION
    assert list(VERSIONS) == sorted(VERSIONS, reverse=True)
    for change in CHANGES:
        assert change.title and change.description and change.client_changes
        assert change.pure or change.impure_note


# ---------------------------------------------------------------- the edge, as ASGI


class _Echo:
    """An app that answers the body it received, as JSON (what a handler sees is what it answers)."""

    def __init__(self) -> None:
        self.seen: list[bytes] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        self.seen.append(message["body"])
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(message["body"])).encode())]})
        await send({"type": "http.response.body", "body": message["body"], "more_body": False})


async def _call(app: Any, body: dict[str, Any], *, pinned: str, header: str | None = None,
                operation: str = "op") -> tuple[dict[str, Any], dict[bytes, bytes]]:
    raw = msgspec.json.encode(body)
    headers = [(b"kassa-version", header.encode())] if header is not None else []
    scope = {"type": "http", "method": "POST", "path": "/x", "headers": headers,
             "route_handler": types.SimpleNamespace(operation_id=operation), BODY_KEY: raw,
             PRINCIPAL_KEY: Principal(app_id="app_1", environment="test", key_id="key_1", kind="secret",
                                      api_version=pinned)}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await ApiVersionMiddleware(app, plans=PLANS)(scope, receive, send)
    start, body_message = sent
    answer_headers = dict(start["headers"])
    assert int(answer_headers[b"content-length"]) == len(body_message["body"])
    return msgspec.json.decode(body_message["body"]), answer_headers


async def test_an_old_request_reaches_the_handler_in_the_newest_shape_and_its_answer_goes_back() -> None:
    echo = _Echo()
    answer, headers = await _call(echo, {"old": 1}, pinned="2026-12-31")
    # The handler saw the newest shape...
    assert msgspec.json.decode(echo.seen[0]) == {"new": 1, "trail": ["forward to a", "forward to c"]}
    # ...and the caller got its own shape back (the trail shows every step, in order).
    assert answer == {"old": 1, "trail": ["forward to a", "forward to c", "back from c", "back from a"]}
    assert headers[b"kassa-version"] == b"2026-12-31"


async def test_the_header_wins_over_the_pin_and_the_newest_version_passes_bodies_untouched() -> None:
    echo = _Echo()
    answer, headers = await _call(echo, {"new": 1}, pinned="2026-12-31", header="2027-03-01")
    assert answer == {"new": 1} and echo.seen == [b'{"new":1}'] and headers[b"kassa-version"] == b"2027-03-01"
    untouched, _ = await _call(_Echo(), {"old": 1}, pinned="2026-12-31", operation="another")
    assert untouched == {"old": 1}


async def test_an_unknown_version_in_the_header_is_refused() -> None:
    with pytest.raises(KassaError) as refused:
        await _call(_Echo(), {}, pinned="2027-03-01", header="2027-03-02")
    assert refused.value.code == "api_version_invalid" and refused.value.status == 400


# ---------------------------------------------------------------- the pin, across processes


async def test_moving_the_pin_tells_every_process_to_drop_the_applications_keys(pg_backend: Backend) -> None:
    """PostgreSQL: the trigger on `applications` notifies each of the application's keys on the channel
    that key caches listen to (kassa_platform.key_watch), at commit."""
    tenant = await make_tenant(pg_backend, api_version=FIRST_VERSION)
    async with pg_backend.runtime.db() as conn:
        digests = set((await conn.execute(sa.select(api_keys.c.key_hash)
                                          .where(api_keys.c.app_id == tenant.app_id))).scalars())
    listener = await asyncpg.connect(pg_backend.runtime.settings.database_url.replace("+asyncpg", ""))
    heard: asyncio.Queue[str] = asyncio.Queue()
    try:
        await listener.add_listener("kassa_api_keys", lambda *args: heard.put_nowait(args[3]))
        moved = await tenant.post("/api/v1/application/upgrade-version", {"version": LATEST_VERSION})
        assert moved.status_code == 200, moved.text
        got = {await asyncio.wait_for(heard.get(), 5) for _ in digests}
        assert got == digests
    finally:
        await listener.close()


async def test_a_pin_moved_elsewhere_reaches_this_process_through_the_key_cache(backend: Backend) -> None:
    """Another process (the `kassa apps upgrade-version` command, say) moves the pin: once this process
    drops its cached keys, as the notification (PostgreSQL) or `changed_at` (SQLite) makes it do,
    the next request is answered in the new version."""
    from kassa_platform.applications import upgrade_api_version

    tenant = await make_tenant(backend, api_version=FIRST_VERSION)
    assert (await tenant.get("/api/v1/application")).headers["kassa-version"] == FIRST_VERSION
    async with transaction(backend.runtime.db) as conn:
        await upgrade_api_version(conn, tenant.app_id, LATEST_VERSION, now=backend.clock.now())
        changed = (await conn.execute(sa.select(sa.func.count()).select_from(api_keys).where(
            api_keys.c.app_id == tenant.app_id, api_keys.c.changed_at.is_not(None)))).scalar_one()
    assert changed == 2  # what SQLite's watchers look at
    backend.runtime.keys.forget()
    assert (await tenant.get("/api/v1/application")).headers["kassa-version"] == LATEST_VERSION


def test_the_changelog_is_generated_from_the_version_modules() -> None:
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "shared" / "contract" / "scripts" / "generate_api_versions.py"
    checked = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
