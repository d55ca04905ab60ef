"""What every answer must look like: the shared error envelope, and the hardening headers."""

from __future__ import annotations

import httpx


def assert_envelope(response, status: int, code: str, field: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code, body
    assert body["requestId"] and body["requestId"] == response.headers["x-request-id"]
    if field is not None:
        assert body["error"].get("field") == field, body
    return body["error"]


def assert_hardened(response: httpx.Response) -> None:
    assert "server" not in response.headers, response.headers
    assert response.headers.get("x-content-type-options") == "nosniff", response.headers
    assert response.headers.get("cache-control") == "no-store", response.headers
