"""`kassa serve SERVICE --workers N`: several processes of one service sharing one port.

The parent binds the port, then supervises N worker processes that accept on that socket (the
kernel spreads the connections): uvicorn's supervisor, which pings its workers, replaces one that
dies or hangs, replaces them all one by one on SIGHUP and adds or removes one on SIGTTIN /
SIGTTOU. Workers are spawned fresh and build their app with `service_app()` from the environment.

Their Prometheus figures meet in a directory the parent makes for the group (multiprocess mode,
see kassa_platform.metrics); a worker that died has its live gauges (pool connections) dropped, its
counters kept.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import uvicorn
from kassa_platform.metrics import MULTIPROC_ENV
from litestar import Litestar
from prometheus_client.multiprocess import mark_process_dead
from uvicorn.supervisors.multiprocess import Multiprocess

SERVICE_ENV = "KASSA_SERVE_SERVICE"  # set by the parent for its workers


def service_app() -> Litestar:
    """The app of one worker process (a uvicorn factory: it runs in the spawned process)."""
    import gc

    from kassa_platform.logs import configure_logging
    from kassa_platform.settings import Settings

    from .services import SERVICES, build_runtime

    settings = Settings.from_env()
    configure_logging(json_format=settings.log_json, level=settings.log_level, access_log=settings.access_log)
    name = os.environ[SERVICE_ENV]
    app = SERVICES[name].create_app(build_runtime(settings, [name], kind=name), owns_runtime=True)
    gc.collect()
    gc.freeze()  # what lives as long as the process is not rescanned by the collector (see cli.cmd_serve)
    return app


class _Supervisor(Multiprocess):
    """uvicorn's supervisor, telling prometheus-client which workers are gone."""

    def _pids(self) -> set[int]:
        return {p.pid for p in self.processes if p.pid is not None}

    def _forget_gone(self, before: set[int]) -> None:
        for pid in before - self._pids():
            mark_process_dead(pid)

    def keep_subprocess_alive(self) -> None:
        before = self._pids()
        super().keep_subprocess_alive()
        self._forget_gone(before)

    def handle_signals(self) -> None:
        before = self._pids()
        super().handle_signals()
        self._forget_gone(before)


def serve_workers(service: str, *, host: str, port: int, workers: int, trusted_proxies: str) -> None:
    """Run `workers` processes of `service` on host:port until SIGINT or SIGTERM; `X-Forwarded-For`
    counts from `trusted_proxies` only (Settings.trusted_proxies)."""
    own_dir = MULTIPROC_ENV not in os.environ
    directory = Path(os.environ.get(MULTIPROC_ENV) or tempfile.mkdtemp(prefix=f"kassa-{service}-metrics-"))
    for stale in directory.glob("*.db"):  # an earlier group's figures (prometheus-client asks for a clean start)
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(directory)
    os.environ[SERVICE_ENV] = service
    config = uvicorn.Config("kassa.serving:service_app", factory=True, host=host, port=port, workers=workers,
                            lifespan="on", access_log=False, log_config=None, loop="uvloop", http="httptools",
                            server_header=False, forwarded_allow_ips=trusted_proxies,
                            # A spawned worker answers the supervisor's pings once it has imported
                            # everything: seconds on a busy machine, past uvicorn's default of 5.
                            timeout_worker_healthcheck=30)
    socket = config.bind_socket()
    try:
        _Supervisor(config, sockets=[socket]).run()
    finally:
        socket.close()
        if own_dir:
            shutil.rmtree(directory, ignore_errors=True)
