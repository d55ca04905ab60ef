"""A test run touches only its own Redis keys: a developer's or an operator's other data survives."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis

from tests.conftest import REDIS_URL

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.redis
@pytest.mark.slow
def test_a_test_run_leaves_other_redis_data_alone(redis_url: str) -> None:
    marker = f"not-kassa-{uuid.uuid4().hex}"
    clients = [redis.Redis.from_url(f"{REDIS_URL.rstrip('/')}/{db}") for db in range(16)]
    for client in clients:
        client.set(marker, "keep me", ex=300)
    try:
        # Another run, as a fresh `./dev test` would start it, whose Redis tests use a queue.
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
             "tests/platform/test_jobs.py::test_arq_runs_the_same_job_function"],
            cwd=ROOT, capture_output=True, text=True, timeout=120,
            env={**os.environ, "PYTEST_XDIST_WORKER": "gw3", "KASSA_REDIS_PREFIX": ""},
        )
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        assert [client.get(marker) for client in clients] == [b"keep me"] * 16
    finally:
        for client in clients:
            client.delete(marker)
            client.close()
