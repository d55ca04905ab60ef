"""Request bodies are bounded before they are decoded: too deep is 400 `json_too_deep`, too large
is 413 `request_too_large`, on every route that takes a body, and never a 500."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kassa_platform.body import MAX_JSON_DEPTH, json_depth_exceeds

from tests.conftest import Tenant
from tests.platform.routes import auth_headers, every_route
from tests.support.envelopes import assert_envelope

# Every route a body can be sent to.
ROUTES = sorted({(method, path) for _, method, path in every_route() if method != "GET"})

DEEP_ARRAYS = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECTS = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
DEEP_METADATA = b'{"metadata": {"k": ' + b'{"a": ' * 40 + b"1" + b"}" * 42


def test_every_service_has_routes_with_a_body() -> None:
    assert {"/api/v1/carts", "/api/v1/campaigns", "/api/v1/checkout/sessions", "/api/v1/webhook-endpoints",
            "/internal/carts/x_cart_id/convert"} <= {path for _, path in ROUTES}


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_deep_json_is_a_400_on_every_route(suite: httpx.AsyncClient, tenant: Tenant, method: str,
                                                 path: str) -> None:
    headers = {**auth_headers(tenant, path), "content-type": "application/json"}
    for body in (DEEP_ARRAYS, DEEP_OBJECTS, DEEP_METADATA):
        err = assert_envelope(await suite.request(method, path, content=body, headers=headers), 400, "json_too_deep")
        assert err["details"] == {"maxDepth": MAX_JSON_DEPTH}


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_a_body_over_the_limit_is_a_413_on_every_route(suite: httpx.AsyncClient, tenant: Tenant, method: str,
                                                             path: str) -> None:
    limit = tenant.backend.runtime.settings.max_body_bytes
    headers = {**auth_headers(tenant, path), "content-type": "application/json"}
    declared = await suite.request(method, path, content=b" " * (limit + 1), headers=headers)
    assert_envelope(declared, 413, "request_too_large")["details"] == {"maxBytes": limit}

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the size is known only while reading
        for _ in range(3):
            yield b" " * (limit // 2)

    assert_envelope(await suite.request(method, path, content=chunks(), headers=headers), 413, "request_too_large")


async def test_a_body_at_the_limit_and_nesting_at_the_limit_are_accepted(tenant: Tenant) -> None:
    limit = tenant.backend.runtime.settings.max_body_bytes
    body = json.dumps({"currency": "EUR", "metadata": {"note": "x"}}).encode()
    padded = body[:-1] + b" " * (limit - len(body)) + b"}"
    assert len(padded) == limit
    made = await tenant.request("POST", "/api/v1/carts", content=padded, headers={"content-type": "application/json"})
    assert made.status_code == 201, made.text
    # metadata values may be any JSON: nested up to the limit (the body itself is the first level)
    nested: Any = "deep"
    for _ in range(MAX_JSON_DEPTH - 2):
        nested = [nested]
    made = await tenant.post("/api/v1/carts", {"currency": "EUR", "metadata": {"k": nested}})
    assert made.status_code == 201, made.text
    assert_envelope(await tenant.post("/api/v1/carts", {"currency": "EUR", "metadata": {"k": [nested]}}), 400,
                    "json_too_deep")


async def test_brackets_inside_strings_do_not_count(tenant: Tenant) -> None:
    text = '[{"\\\\' * 30 + '\\"' + "]}" * 30
    made = await tenant.post("/api/v1/carts", {"currency": "EUR", "metadata": {"a": text, "b": "[" * 100}})
    assert made.status_code == 201, made.text
    assert made.json()["metadata"] == {"a": text, "b": "[" * 100}


# ---------------------------------------------------------------- the depth check against a reference


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.text(alphabet='[]{}"\\ ab\u00e9', max_size=6))
_JSON = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(alphabet='[]{}"\\a', max_size=3), inner, max_size=3)),
    max_leaves=60)


@settings(max_examples=400, deadline=None)
@given(_JSON, st.integers(min_value=0, max_value=40))
def test_the_depth_check_agrees_with_the_decoded_depth(value: Any, extra: int) -> None:
    for _ in range(extra):
        value = [value] if extra % 2 else {"k": value}
    body = json.dumps(value, indent=extra % 3 or None).encode()
    assert json_depth_exceeds(body) == (_depth(value) > MAX_JSON_DEPTH)


@pytest.mark.parametrize("body", [
    b"[" * 100_000,  # never closed
    b"[}" * 10 + b"[" * 1000 + b"}",  # mismatched, deep before the decoder would notice
    b'{"a": [' + b"[" * 40 + b'"x"' + b"]" * 40,  # cut short
])
def test_deep_malformed_json_is_deep(body: bytes) -> None:
    assert json_depth_exceeds(body)


@pytest.mark.parametrize("body", [b"[] " + b"[" * 100_000, b'"' + b"[" * 100_000, b"[}" * 100_000,
                                  b"[" * 100_000 + b'"', b'{"a' + b"\\" * 1000 + b'": ' + b"[" * 100_000])
async def test_malformed_json_of_any_shape_is_a_400(tenant: Tenant, body: bytes) -> None:
    answer = await tenant.request("POST", "/api/v1/carts", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 400 and answer.json()["error"]["code"] in ("malformed_json", "json_too_deep")


# ---------------------------------------------------------------- NUL characters (PostgreSQL text cannot hold them)


async def test_a_nul_character_anywhere_is_refused_naming_where(tenant: Tenant) -> None:
    """Found by the fuzz test: a discount code with a NUL was a 500 on PostgreSQL."""
    cart = await tenant.cart()
    for path, body, field in [
        (f"/api/v1/carts/{cart['id']}/discount-codes", {"code": "A\x00B"}, "code"),
        ("/api/v1/carts", {"currency": "EUR", "metadata": {"note": ["ok", "n\x00l"]}}, "metadata.note[1]"),
        ("/api/v1/carts", {"currency": "EUR", "metadata": {"k\x00": "v"}}, "metadata.k\x00"),
    ]:
        assert_envelope(await tenant.post(path, body), 422, "validation_error", field)
    csv = await tenant.request("POST", "/api/v1/campaigns/x/codes/import", content=b"code\nA\x00B\n",
                               headers={"content-type": "text/csv"})
    assert_envelope(csv, 422, "validation_error")
    assert_envelope(await tenant.get("/api/v1/codes/A%00B"), 400, "validation_error")
    assert_envelope(await tenant.get("/api/v1/orders", params={"cursor": "a\x00"}), 400, "validation_error")


async def test_text_that_only_spells_a_nul_escape_is_fine(tenant: Tenant) -> None:
    made = await tenant.post("/api/v1/carts", {"currency": "EUR", "metadata": {"note": "\\u0000"}})
    assert made.status_code == 201 and made.json()["metadata"] == {"note": "\\u0000"}, made.text
