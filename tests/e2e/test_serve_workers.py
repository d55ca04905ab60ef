"""`kassa serve cart --workers 2`: two processes on one port, supervised, their metrics added up."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from kassa_platform.auth import create_application, create_key
from kassa_platform.clock import Clock
from kassa_platform.db import Database, create_engine, transaction
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_port, wait_until_ready

pytestmark = pytest.mark.slow


def workers_of(parent: int) -> set[int]:
    """The spawned worker processes of a supervisor (not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    found = set()
    for pid in map(int, children):
        try:
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.add(pid)
        except FileNotFoundError:
            continue  # exited meanwhile
    return found


def carts_created_by(directory: Path) -> dict[int, float]:
    """Per worker pid, the cart creations its own metrics file counts."""
    counts = {}
    for path in directory.glob("counter_*.db"):
        pid = int(path.stem.split("_")[1])
        counts[pid] = sum(s.value for m in MultiProcessCollector.merge([str(path)]) for s in m.samples
                          if s.name == "kassa_http_requests_total" and s.labels.get("route") == "/api/v1/carts"
                          and s.labels.get("status") == "201")
    return counts


def wait_for(predicate, what: str, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)  # another process (the supervisor) acts: nothing to move instead


async def test_two_worker_processes_share_one_port_and_their_metrics(tmp_path: Path, pg_url: str) -> None:
    engine = create_engine(pg_url, pool_size=1)
    async with transaction(Database(engine)) as conn:
        app_id = await create_application(conn, "workers", "test", Clock().now())
        key = await create_key(conn, app_id, kind="secret", scopes=["*"], now=Clock().now())
    await engine.dispose()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("KASSA_")},
           "KASSA_DATABASE_URL": pg_url, "KASSA_DATA_DIR": str(tmp_path), "KASSA_LOG_FORMAT": "text",
           "KASSA_DB_POOL_SIZE": "3",  # PostgreSQL's connections are shared with the other tests
           "KASSA_RATE_LIMIT_WRITES": "100000",  # up to 600 carts as fast as they go, with one key
           "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "kassa.cli", "serve", "cart", "--workers", "2", "--port",
                                 str(port)], env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    seen: set[int] = set()
    try:
        wait_until_ready(proc, base, log.read_text, name="cart --workers 2")
        wait_for(lambda: len(workers_of(proc.pid)) == 2, "two worker processes")
        first = workers_of(proc.pid)
        seen |= first
        # A fresh connection per request: the kernel hands each to whichever worker accepts first.
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30,
                                     limits=httpx.Limits(max_keepalive_connections=0)) as api:
            sent = 0
            while len([c for c in carts_created_by(metrics_dir).values() if c]) < 2:
                assert sent < 600, f"one process served every request: {carts_created_by(metrics_dir)}"
                answers = await asyncio.gather(*(api.post("/api/v1/carts", json={"currency": "EUR"})
                                                 for _ in range(30)))
                assert {a.status_code for a in answers} == {201}, answers[0].text
                assert not any("server" in a.headers for a in answers)  # no banner from the workers' uvicorn
                sent += 30
            assert set(carts_created_by(metrics_dir)) >= first

            def scraped() -> float:
                page = httpx.get(f"{base}/metrics").text
                return sum(s.value for f in text_string_to_metric_families(page) for s in f.samples
                           if s.name == "kassa_http_requests_total" and s.labels["route"] == "/api/v1/carts"
                           and s.labels["status"] == "201")

            assert scraped() == sent  # whichever worker answers the scrape adds up both

            # A worker killed: the supervisor replaces it; the port answers throughout; its counts stay.
            victim = min(first)
            os.kill(victim, signal.SIGKILL)
            answers = await asyncio.gather(*(api.post("/api/v1/carts", json={"currency": "EUR"}) for _ in range(10)))
            assert {a.status_code for a in answers} == {201}
            sent += 10
            wait_for(lambda: len(workers_of(proc.pid)) == 2 and victim not in workers_of(proc.pid),
                     "the dead worker replaced")
            seen |= workers_of(proc.pid)
            assert scraped() == sent
            wait_for(lambda: not list(metrics_dir.glob(f"gauge_livesum_{victim}.db")), "the dead worker's gauges gone")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, log.read_text()
    assert not [pid for pid in seen if Path(f"/proc/{pid}").exists()]  # the supervisor took its workers along


def test_workers_need_a_service(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "kassa.cli", "serve", "--workers", "2", "--port", str(free_port())],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "one service" in done.stderr
