"""A `kassa worker` process beside a test's webhook runtime: the same database, Redis and signing key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kassa_platform.settings import Settings


def start_worker(settings: Settings, redis_url: str, directory: Path) -> subprocess.Popen[bytes]:
    """`kassa worker` on the database of `settings` and `redis_url`, logging to `directory/worker.log`. One
    deployment: the worker must open the endpoint secrets sealed with its signing key (its signing key), and
    may deliver to the test's receivers on loopback."""
    env = {**os.environ, "KASSA_WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "all", "KASSA_DATABASE_URL": settings.database_url,
           "KASSA_REDIS_URL": redis_url, "KASSA_LOG_FORMAT": "text", "KASSA_SIGNING_KEY": settings.signing_key}
    with (directory / "worker.log").open("wb") as log:
        return subprocess.Popen([sys.executable, "-m", "kassa.cli", "worker"], cwd=directory, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
