"""What the benchmarks share: the bench database, the `kassa` CLI, `kassa serve` processes, CPU
accounting from /proc, and the report helpers.

The benchmarks import it as `common`: `./dev bench NAME` runs bench/NAME.py, so bench/ is the
first entry of sys.path, and a driver process started with multiprocessing's spawn gets the same
sys.path from its parent.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import socket
import ssl
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import msgspec

# ---------------------------------------------------------------- the bench database


def plain_dsn(url: str) -> str:
    """The URL as asyncpg takes it (no `+asyncpg` driver suffix, `postgresql://`)."""
    return re.sub(r"^postgres(ql)?(\+asyncpg)?://", "postgresql://", url)


def masked(url: str) -> str:
    """The URL with its password hidden, for printing."""
    return re.sub(r":[^:@/]*@", ":***@", url)


async def recreate_database(url: str, *others: str, create: bool = True) -> None:
    """Drop the database named in `url`, and the databases named `others` on the same server, then
    create each one empty (create=False: only drop them)."""
    parts = urlsplit(url)
    admin = await asyncpg.connect(plain_dsn(parts._replace(path="/postgres").geturl()))
    try:
        for name in (parts.path.lstrip("/"), *others):
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if create:
                await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


# ---------------------------------------------------------------- the `kassa` CLI


def bench_env(url: str, data_dir: Path) -> dict[str, str]:
    """This process's environment without any KASSA_* variable, then the database, text logs, a
    data directory of its own and rate limits that never refuse."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASSA_")}
    env.update(KASSA_DATABASE_URL=url, KASSA_LOG_FORMAT="text", KASSA_DATA_DIR=str(data_dir))
    # One secret key drives every simulated client and one application takes every complete: far
    # beyond one storefront's key (100 requests/s) and one shop's completes (25/s). The limits stay
    # on, so their cost is in the figures, but so high that they never refuse.
    env.update(KASSA_RATE_LIMIT_READS=BENCH_LIMIT, KASSA_RATE_LIMIT_WRITES=BENCH_LIMIT,
               KASSA_RATE_LIMIT_COMPLETES=BENCH_LIMIT)
    return env


BENCH_LIMIT = "1000000"


def kassa_cli(env: dict[str, str], *args: str) -> str:
    """Run `kassa ...` and return the last line it printed."""
    done = subprocess.run([sys.executable, "-m", "kassa.cli", *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"kassa {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


def migrate_and_create_app(env: dict[str, str], name: str = "bench", scopes: str = "*") -> tuple[str, str]:
    """`kassa migrate`, then an application (test environment) and a secret key with `scopes`, all
    through the CLI; returns (application id, secret key)."""
    kassa_cli(env, "migrate")
    app_id = kassa_cli(env, "apps", "create", name, "--env", "test")
    return app_id, kassa_cli(env, "keys", "create", app_id, "--scopes", scopes)


# ---------------------------------------------------------------- server processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`kassa serve [SERVICE ...]` on 127.0.0.1 as a child process, its output appended to `log`.

    `start()` spawns it and waits until GET `ready` answers 200 (polled every `interval` seconds
    for at most `timeout`); if it does not, the process is stopped and the run ends with `failure`
    (`{code}` is the exit code) and the end of the log. `stop()` terminates it, killing it after
    `grace` seconds."""

    def __init__(self, env: dict[str, str], log: Path, *service: str, ready: str = "/readyz", timeout: float = 60,
                 interval: float = 0.1, grace: float = 10,
                 failure: str = "server did not become ready (exit code {code})") -> None:
        self.env, self.log, self.service = env, log, service
        self.ready, self.timeout, self.interval, self.grace, self.failure = ready, timeout, interval, grace, failure
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> Server:
        self.spawn()
        self.wait_ready()
        return self

    def spawn(self) -> None:
        cmd = [sys.executable, "-m", "kassa.cli", "serve", *self.service, "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("ab") as out:  # the server's stdout/stderr (access log at INFO) go to a file
            self.proc = subprocess.Popen(cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)

    def wait_ready(self) -> None:
        proc = self.proc
        assert proc is not None
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline and proc.poll() is None:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base}{self.ready}", timeout=1).status_code == 200:
                    return
            time.sleep(self.interval)
        self.stop()
        raise SystemExit(f"{self.failure.format(code=proc.returncode)}:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(self.grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def cpu_seconds(self) -> float:
        """CPU seconds the server process has used so far (0 when it is not running)."""
        return 0.0 if self.proc is None else _cpu_ticks(str(self.proc.pid))[1] / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- seeding through the API


def seed(base_url: str, key: str, campaigns: int = 0) -> tuple[list[str], str]:
    """A product with 3 EUR variants, a shipping method, a DE tax rate and `campaigns` active
    automatic campaigns; returns (variant ids, method id)."""
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as http:
        def post(path: str, body: dict) -> dict:
            r = http.post(path, json=body)
            if not r.is_success:
                raise SystemExit(f"POST {path} -> {r.status_code}: {r.text}")
            return r.json()

        product = post("/api/v1/products", {"name": "Bench shirt", "variants": [
            {"sku": f"BENCH-{size}", "prices": {"EUR": 1999}} for size in ("S", "M", "L")]})
        method = post("/api/v1/shipping-methods", {"name": "Standard", "prices": {"EUR": 495}})
        post("/api/v1/tax-rates", {"countryCode": "DE", "rate": "19", "name": "DE VAT"})
        for i in range(campaigns):  # a realistic mix: most target other categories, some the whole basket
            kind = i % 4
            body: dict = {"name": f"Auto {i}", "trigger": "automatic", "priority": i % 3}
            if kind == 0:
                body.update(reward={"type": "percent_off", "percent": 5}, rules={"minSubtotal": {"EUR": 5000}})
            elif kind == 1:
                body.update(reward={"type": "fixed_off", "amounts": {"EUR": 300}}, items={"categories": [f"cat-{i}"]})
            elif kind == 2:
                body.update(reward={"type": "buy_x_get_y", "buy": 2, "get": 1}, items={"categories": [f"cat-{i}"]})
            else:
                body.update(reward={"type": "shipping_off", "percent": 100}, rules={"minSubtotal": {"EUR": 10000}})
            post("/api/v1/campaigns", body)
    return [v["id"] for v in product["variants"]], method["id"]


# ---------------------------------------------------------------- load driver


def single_connection_clients(base_url: str, key: str, count: int, timeout: float) -> list[httpx.AsyncClient]:
    """`count` clients of one HTTP/1.1 keep-alive connection each, for a driver to lease one per
    request flow: httpcore's pool does O(n^2) work per request in its number of connections, and
    one client with 64 connections made the driver, not the server, the bottleneck (~130
    requests/s at 100% CPU)."""
    tls = ssl.create_default_context()  # unused on http://, but built once instead of per client
    one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    auth = {"Authorization": f"Bearer {key}"}
    return [httpx.AsyncClient(base_url=base_url, headers=auth, limits=one, timeout=timeout,
                              http1=True, http2=False, verify=tls) for _ in range(count)]


class LeanResponse:
    __slots__ = ("status_code", "content")

    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code, self.content = status_code, content

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return msgspec.json.decode(self.content)


class LeanClient:
    """HTTP/1.1 over one keep-alive connection, on asyncio streams, for load drivers: a few
    microseconds of client work per request where httpx spends a few hundred, so that on a small
    machine the driver leaves the CPU to the server it measures. It speaks what `kassa serve`
    answers: Content-Length or chunked bodies. Transport failures raise OSError (ConnectionError)
    or TimeoutError."""

    def __init__(self, base_url: str, headers: dict[str, str], timeout: float) -> None:
        parts = urlsplit(base_url)
        self.host, self.port, self.timeout = parts.hostname or "127.0.0.1", parts.port or 80, timeout
        self.head = "".join(f"{k}: {v}\r\n" for k, v in {
            "Host": parts.netloc, "Accept": "application/json", **headers}.items())
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(self, method: str, path: str, json: Any = None,
                      headers: dict[str, str] | None = None) -> LeanResponse:
        body = b"" if json is None else msgspec.json.encode(json)
        kind = "Content-Type: application/json\r\n" if json is not None else ""
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        message = (f"{method} {path} HTTP/1.1\r\n{self.head}{extra}{kind}Content-Length: {len(body)}\r\n\r\n"
                   .encode() + body)
        async with asyncio.timeout(self.timeout):
            if self.streams is None:
                self.streams = await asyncio.open_connection(self.host, self.port)
            reader, writer = self.streams
            try:
                writer.write(message)
                return await self._response(reader)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
                await self.aclose()
                raise ConnectionError(f"{type(exc).__name__}: {exc}") from exc

    async def _response(self, reader: asyncio.StreamReader) -> LeanResponse:
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines if ln)}
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
            await reader.readuntil(b"\r\n")  # no trailers expected: the empty line
            content = b"".join(chunks)
        else:
            content = await reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.aclose()
        return LeanResponse(int(status_line.split(" ", 2)[1]), content)

    async def aclose(self) -> None:
        if self.streams is not None:
            writer, self.streams = self.streams[1], None
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


class RequestFailed(Exception):
    """A request of a load driver did not succeed (the Recorder has counted it)."""


class Recorder:
    """What a load driver measures: the latency of each successful request that ends inside the
    measured window (`start`, `end`, perf_counter times), and the failures by kind with a few
    examples."""

    def __init__(self, operations: tuple[str, ...], start: float, end: float) -> None:
        self.latencies: dict[str, list[float]] = {op: [] for op in operations}
        self.errors: Counter[str] = Counter()
        self.examples: list[str] = []
        self.start, self.end = start, end

    async def call(self, client: LeanClient, op: str, method: str, url: str, body: Any = None,
                   headers: dict[str, str] | None = None) -> Any:
        """The request's JSON answer; RequestFailed on a transport error or a non-2xx answer."""
        started = time.perf_counter()
        try:
            r = await client.request(method, url, json=body, headers=headers)
        except (OSError, TimeoutError) as exc:
            self.errors[f"{op}: {type(exc).__name__}"] += 1
            raise RequestFailed from exc
        ended = time.perf_counter()
        if not r.is_success:
            self.errors[f"{op}: HTTP {r.status_code}"] += 1
            if len(self.examples) < 5:
                self.examples.append(f"{method} {url} -> {r.status_code} {r.text[:300]}")
            raise RequestFailed
        if self.start <= ended <= self.end:  # successes only: the figures count completed work
            self.latencies[op].append((ended - started) * 1000)
        return r.json()


def lean_clients(base_url: str, key: str, count: int, timeout: float) -> list[LeanClient]:
    """`count` LeanClients (one connection each) authenticated with `key`, for a driver to lease
    one per request flow."""
    return [LeanClient(base_url, {"Authorization": f"Bearer {key}"}, timeout) for _ in range(count)]


# ---------------------------------------------------------------- CPU accounting (/proc)


def _cpu_ticks(pid: str) -> tuple[str, int]:
    """A process's name and the clock ticks it has used (utime + stime), from /proc/PID/stat."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    name, fields = raw[raw.index("(") + 1:raw.rindex(")")], raw[raw.rindex(")") + 2:].split()
    return name, int(fields[11]) + int(fields[12])  # utime + stime


def process_cpu(pid: int) -> float:
    """CPU seconds a process has used so far."""
    return _cpu_ticks(str(pid))[1] / os.sysconf("SC_CLK_TCK")


def cpu_snapshot(server_pid: int | dict[str, int]) -> dict[str, float]:
    """CPU seconds so far: the server process (or the sum of several, each also as `server <name>`),
    all postgres processes, this driver, the machine (busy and total); {} where /proc cannot be read."""
    tick = os.sysconf("SC_CLK_TCK")
    servers = server_pid if isinstance(server_pid, dict) else {}
    try:
        postgres = 0
        for pid in filter(str.isdigit, os.listdir("/proc")):
            with contextlib.suppress(OSError, ValueError):  # gone meanwhile
                name, t = _cpu_ticks(pid)
                postgres += t if name == "postgres" else 0
        cpu = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        each = {f"server {name}": _cpu_ticks(str(pid))[1] / tick for name, pid in servers.items()}
        server = sum(each.values()) if servers else _cpu_ticks(str(server_pid))[1] / tick
        return {"server": server, **each, "postgres": postgres / tick,
                "busy": (sum(cpu) - cpu[3] - cpu[4]) / tick, "total": sum(cpu) / tick, "driver": time.process_time()}
    except OSError:
        return {}


# ---------------------------------------------------------------- report


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    return sorted(values)[max(0, math.ceil(p / 100 * len(values)) - 1)] if values else float("nan")


def print_cpu(cpu: dict[str, float], secs: float) -> None:
    """The CPU used over a phase of `secs` seconds (the difference of two `cpu_snapshot`s), as % of
    one core; adds `rest` (anything else on the machine) to `cpu`."""
    cpu["rest"] = cpu["busy"] - cpu["server"] - cpu["postgres"] - cpu["driver"]  # anything else on the machine
    used = ", ".join(f"{k} {100 * cpu[k] / secs:.0f}%" for k in ("server", "postgres", "driver", "rest"))
    print(f"  CPU, % of one core: {used} (of {os.cpu_count()} cores: {100 * cpu['busy'] / cpu['total']:.0f}% busy)")


def print_failures(count: int, errors: dict[str, int], examples: list[str], more: list[str] | None = None) -> None:
    """The loud notice that `count` requests failed, the failures by kind, a few examples and `more` lines."""
    print(f"\n  !!!!!!!! {count} REQUESTS FAILED: THE FIGURES ABOVE ARE NOT VALID !!!!!!!!")
    print("\n".join([f"    {n:>7}  {what}" for what, n in sorted(errors.items())]
                    + [f"    e.g. {example}" for example in examples] + (more or [])))
