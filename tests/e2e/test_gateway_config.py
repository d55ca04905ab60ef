"""The gateway's configuration (deploy/nginx/kassa.conf.template) against the services.

Its routes are exactly each service's PATH_PREFIXES, matched as the embedded router matches them;
then nginx runs it in front of stub services to show what it does with requests: routing, the
request id, `/internal/...` and unknown paths refused in the envelope, a replica that refuses
connections skipped with the request body intact, a request cut off never sent twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from kassa.services import SERVICES
from tests.conftest import _unavailable, free_port
from tests.e2e.cluster import GATEWAY_TEMPLATE, Gateway, render_template

INTERNAL = "/internal"
_PROXY = re.compile(r"location ~ \^\(([^)]*)\)\(/\|\$\) \{\s*proxy_pass http://kassa_(\w+);")


def public_prefixes(name: str) -> set[str]:
    """What the gateway must route to a service: its prefixes but the internal ones, and its OpenAPI document."""
    prefixes = {p for p in SERVICES[name].path_prefixes if not (p == INTERNAL or p.startswith(INTERNAL + "/"))}
    return prefixes | {f"/schema/{name}"}


def test_the_gateway_routes_exactly_each_services_prefixes() -> None:
    text = GATEWAY_TEMPLATE.read_text()
    routed = {service: set(prefixes.split("|")) for prefixes, service in _PROXY.findall(text)}
    assert set(routed) == set(SERVICES), routed
    for name in SERVICES:
        missing, extra = public_prefixes(name) - routed[name], routed[name] - public_prefixes(name)
        assert not missing and not extra, (
            f"deploy/nginx/kassa.conf.template's location for kassa_{name} disagrees with the {name} service's "
            f"PATH_PREFIXES: add {sorted(missing)}, remove {sorted(extra)}")
        block = re.search(rf"upstream kassa_{name} \{{(.*?)\n\}}", text, re.S)
        assert block and f"${{KASSA_{name.upper()}_SERVERS}}" in block.group(1) and "least_conn" in block.group(1)
    assert not [p for prefixes in routed.values() for p in prefixes if p.startswith((INTERNAL, "/metrics"))]


def test_the_gateway_image_renders_the_template_as_the_tests_do(tmp_path: Path) -> None:
    """deploy/nginx/entrypoint.sh's envsubst and the tests' rendering give the same file."""
    envsubst = shutil.which("envsubst")
    if envsubst is None:
        _unavailable("envsubst", FileNotFoundError("envsubst is not on the PATH (apt-get install gettext-base)"))
    entrypoint = (GATEWAY_TEMPLATE.parent / "entrypoint.sh").read_text()
    names = re.search(r"envsubst '([^']*)'", entrypoint).group(1)  # type: ignore[union-attr]
    gateway = Gateway(8000, {"cart": ["a:1", "b:2"], "checkout": ["c:3"], "webhooks": ["d:4"]}, tmp_path)
    variables = gateway.variables()
    assert set(re.findall(r"\$\{(\w+)\}", names)) == set(variables)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("KASSA_")}, **variables, "HOME": "/nowhere"}
    rendered = subprocess.run([envsubst, names], input=GATEWAY_TEMPLATE.read_text(), env=env, capture_output=True,
                              text=True, timeout=10, check=True).stdout
    assert rendered == render_template(GATEWAY_TEMPLATE, variables)
    assert "${" not in rendered.split("\n", 20)[-1] and "server a:1; server b:2;" in rendered


# ---------------------------------------------------------------- nginx in front of stub services


@dataclass
class Stub:
    """An upstream that answers which service it is, what it got, and counts requests. `close`: it
    reads each request, then drops the connection without answering (a process dying mid-request)."""

    name: str
    close: bool = False
    seen: list[dict] = field(default_factory=list)
    port: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                method, path, _ = head[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:] if h)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.seen.append({"method": method, "path": path, "body": body.decode(),
                                  "requestId": headers.get("x-request-id")})
                if self.close:
                    break
                reply = json.dumps({"service": self.name, **self.seen[-1]}).encode()
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                             + str(len(reply)).encode() + b"\r\n\r\n" + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


@pytest.fixture
def stubs(tmp_path: Path, nginx: str) -> Iterator[tuple[Gateway, dict[str, Stub]]]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    found = {name: Stub(name) for name in ("cart", "cart-2", "checkout", "webhooks", "closer")}
    found["closer"].close = True

    async def listen(stub: Stub) -> asyncio.Server:
        server = await asyncio.start_server(stub.serve, "127.0.0.1", 0)
        stub.port = server.sockets[0].getsockname()[1]
        return server

    servers = [asyncio.run_coroutine_threadsafe(listen(s), loop).result(5) for s in found.values()]
    with socket.socket() as refusing:  # bound, never listening: connections to it are refused
        refusing.bind(("127.0.0.1", 0))
        dead = refusing.getsockname()[1]
        gateway = Gateway(free_port(), {"cart": [f"127.0.0.1:{dead}", f"127.0.0.1:{found['cart'].port}"],
                                        "checkout": [f"127.0.0.1:{found['closer'].port}",
                                                     f"127.0.0.1:{found['checkout'].port}"],
                                        "webhooks": [f"127.0.0.1:{found['webhooks'].port}"]}, tmp_path)
        gateway.start()
        try:
            gateway.wait_ready()
            yield gateway, found
        finally:
            gateway.stop()
            asyncio.run_coroutine_threadsafe(_shut(servers), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
            loop.close()


async def _shut(servers: list[asyncio.Server]) -> None:
    """Close the stubs and end their connection handlers before their loop stops."""
    for server in servers:
        server.close()
    current = asyncio.current_task()
    handlers = [t for t in asyncio.all_tasks() if t is not current]
    for task in handlers:
        task.cancel()
    await asyncio.gather(*handlers, return_exceptions=True)


def test_routes_and_refusals(stubs: tuple[Gateway, dict[str, Stub]]) -> None:
    gateway, _ = stubs
    with httpx.Client(base_url=gateway.base, timeout=10) as api:
        for name in ("cart", "webhooks"):
            for prefix in public_prefixes(name):
                for path in (prefix, f"{prefix}/some/thing"):
                    answer = api.get(path, params={"q": "1"})
                    assert answer.status_code == 200 and answer.json()["service"] == name, (path, answer.text)
                    assert answer.json()["path"] == f"{path}?q=1"  # passed on as it came
                near_miss = api.get(prefix + "x")  # a prefix matches whole path segments only
                assert near_miss.status_code == 404 and near_miss.json()["error"]["code"] == "route_not_found"
        # The request id: the caller's when sane (echoed by the service), else the gateway's own.
        assert api.get("/api/v1/carts/c", headers={"X-Request-Id": "req-mine"}).json()["requestId"] == "req-mine"
        made = api.get("/api/v1/carts/c", headers={"X-Request-Id": "bad id with spaces"}).json()["requestId"]
        assert re.fullmatch(r"req_[0-9a-f]{32}", made)
        for path in ("/internal/carts/c/reopen", "/Internal/carts/x", "/metrics", "/", "/api/v2/carts"):
            refused = api.post(path, json={}, headers={"X-Request-Id": "req-refused"})
            assert refused.status_code == 404, path
            assert refused.json() == {"error": {"code": "route_not_found", "message": "No route POST for this path"},
                                      "requestId": "req-refused"}
            assert refused.headers["x-request-id"] == "req-refused" and refused.headers["content-type"] == "application/json"
        assert api.get("/healthz").json() == {"status": "ok"}


def test_a_replica_refusing_connections_is_skipped_with_the_body_intact(stubs: tuple[Gateway, dict[str, Stub]]) -> None:
    gateway, found = stubs
    with httpx.Client(base_url=gateway.base, timeout=10) as api:
        for i in range(10):
            body = {"n": i, "pad": "x" * 5000}
            answer = api.post("/api/v1/carts", json=body)
            assert answer.status_code == 200 and answer.json()["service"] == "cart", answer.text
            assert json.loads(answer.json()["body"]) == body
    assert len(found["cart"].seen) == 10


def test_a_request_cut_off_is_never_sent_twice(stubs: tuple[Gateway, dict[str, Stub]]) -> None:
    """`closer` takes requests and drops them: nginx answers 503 and does not pass them on."""
    gateway, found = stubs
    answers = []
    with httpx.Client(base_url=gateway.base, timeout=10) as api:
        for i in range(10):
            answers.append(api.post("/api/v1/orders", json={"n": i}, headers={"X-Request-Id": f"req-{i}"}))
    cut = [a for a in answers if a.status_code == 503]
    assert cut, "least_conn never chose the replica that drops requests"
    for answer in cut:
        assert answer.json()["error"]["code"] == "service_unavailable" and answer.headers["retry-after"] == "1"
        assert answer.json()["requestId"] == answer.headers["x-request-id"]
    assert len(found["closer"].seen) == len(cut)  # each cut request reached it once...
    assert {s["requestId"] for s in found["checkout"].seen}.isdisjoint(a.json()["requestId"] for a in cut)  # ...only it
    assert len(found["checkout"].seen) == len(answers) - len(cut)
