"""Through the real HTTP server (`kassa serve`, uvicorn): no Server banner, the security headers,
JSON-only OpenAPI documents, and request bodies bounded as they arrive (chunked too)."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from tests.support.cli import serving
from tests.support.envelopes import assert_hardened

pytestmark = pytest.mark.slow

LIMIT = 4096


def read_until_closed(sock: socket.socket) -> bytes:
    """What the server sent before it closed. A server that stops reading a body and closes sends a
    reset once the rest arrives; the answer it sent before is already here, so keep it."""
    received = []
    while True:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        received.append(data)
    return b"".join(received)


def chunked_post(base: str, path: str, key: str, chunks: list[bytes]) -> tuple[int, bytes]:
    """A POST whose body arrives in chunks, with no Content-Length: its size is known only as it is read."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
                     "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".encode())
        try:
            for chunk in chunks:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the rest arrived: the point of the test
        answer = read_until_closed(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"\r\nserver:" not in head.lower(), head
    return int(head.split()[1]), body


@pytest.mark.parametrize("service", [None, "cart"])
def test_the_real_server_sends_the_security_headers_and_no_banner(tmp_path: Path, service: str | None) -> None:
    args = [service] if service else []
    with serving(*args, cwd=tmp_path, env={"KASSA_MAX_BODY_BYTES": str(LIMIT)}) as (base, _):
        for path in ("/healthz", "/schema/cart", "/api/v1/products", "/api/v1/nowhere"):
            answer = httpx.get(f"{base}{path}", headers={"Authorization": "Bearer sk_test_nope"})
            assert answer.status_code in (200, 401, 404), answer.text
            assert_hardened(answer)
        document = httpx.get(f"{base}/schema/cart")
        assert document.json()["info"]["title"] == "Kassa cart" and "<script" not in document.text
        assert httpx.get(f"{base}/schema/cart/swagger").status_code == 404


def test_bodies_are_bounded_as_they_arrive_over_http(tmp_path: Path) -> None:
    with serving(cwd=tmp_path, env={"KASSA_MAX_BODY_BYTES": str(LIMIT)}) as (base, _):
        env = dict(line.split("=", 1) for line in (tmp_path / ".kassa" / "demo.env").read_text().split())
        key = env["KASSA_DEMO_SECRET_KEY"]
        auth = {"Authorization": f"Bearer {key}"}
        made = httpx.post(f"{base}/api/v1/carts", headers=auth, json={"currency": "EUR"})
        assert made.status_code == 201, made.text
        assert_hardened(made)
        for path in ("/api/v1/carts", "/api/v1/checkout/sessions", "/api/v1/webhook-endpoints"):
            declared = httpx.post(f"{base}{path}", headers={**auth, "content-type": "application/json"},
                                  content=b" " * (LIMIT + 1))
            assert declared.status_code == 413 and declared.json()["error"]["code"] == "request_too_large"
            assert declared.json()["error"]["details"] == {"maxBytes": LIMIT}
            assert_hardened(declared)
            status, body = chunked_post(base, path, key, [b" " * 1000] * 10)
            assert status == 413 and b'"request_too_large"' in body, body
            status, body = chunked_post(base, path, key, [b"["] * 3000 + [b"]"] * 3000)
            assert status == 413, body  # 6000 bytes: over the limit before its depth matters
            status, body = chunked_post(base, path, key, [b"[" * 1000, b"]" * 1000])
            assert status == 400 and b'"json_too_deep"' in body, body
        # The server keeps serving.
        assert httpx.get(f"{base}/api/v1/carts/{made.json()['id']}", headers=auth).status_code == 200
