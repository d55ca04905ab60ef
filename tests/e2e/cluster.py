"""Real processes of a distributed deployment on loopback: `kassa serve SERVICE`, `kassa worker`,
and the gateway (Caddy, with the repository's deploy/Caddyfile and loopback upstreams).

Used by the end-to-end tests and by bench/cluster_load.py, so the bench drives the deployment the
tests prove.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
CADDYFILE = ROOT / "deploy" / "Caddyfile"


def caddy_binary() -> str | None:
    """Caddy from the PATH (./dev installs Debian's package)."""
    return shutil.which("caddy")


def wait_for_http(proc: subprocess.Popen, url: str, output: Callable[[], str], *, name: str, timeout: float = 60) -> None:
    """Wait until `url` answers 200; fail with the process's `output` if it exits first or is late."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{name} exited ({proc.returncode}):\n{output()}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.05)  # waiting for another process to bind its port: nothing to move instead
    raise AssertionError(f"{name} did not become ready:\n{output()}")


class Process:
    """A child process with its output in a log file; stopped gently, or killed."""

    name = "process"

    def __init__(self, log: Path) -> None:
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        raise NotImplementedError

    def start(self) -> "Process":
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.command(), env=self.environment(), stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: no shutdown of any kind, as when a machine or a container dies."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


class Kassa(Process):
    """`kassa serve SERVICE --port P`, or `kassa worker --metrics-port P` (service "worker")."""

    def __init__(self, service: str, port: int, env: dict[str, str], log: Path) -> None:
        super().__init__(log)
        self.service, self.port, self.env = service, port, env
        self.name = service
        self.base = f"http://127.0.0.1:{port}"

    def command(self) -> list[str]:
        if self.service == "worker":
            return [sys.executable, "-m", "kassa.cli", "worker", "--metrics-port", str(self.port)]
        return [sys.executable, "-m", "kassa.cli", "serve", self.service, "--port", str(self.port)]

    def environment(self) -> dict[str, str]:
        return self.env

    def wait_ready(self, timeout: float = 60) -> None:
        assert self.proc is not None
        wait_for_http(self.proc, f"{self.base}/readyz", self.output, name=f"kassa {self.service}", timeout=timeout)


class Gateway(Process):
    """Caddy running deploy/Caddyfile, the upstreams given as loopback addresses."""

    name = "gateway"

    def __init__(self, port: int, upstreams: dict[str, list[str]], workdir: Path) -> None:
        super().__init__(workdir / "gateway.log")
        self.port, self.upstreams, self.workdir = port, upstreams, workdir
        self.base = f"http://127.0.0.1:{port}"

    def command(self) -> list[str]:
        binary = caddy_binary()
        assert binary is not None, "caddy is not installed (./dev test installs it)"
        return [binary, "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"]

    def environment(self) -> dict[str, str]:
        home = self.workdir / "caddy-home"  # Caddy keeps its state under $HOME / XDG: not the user's
        home.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KASSA_", "XDG_"))}
        env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"),
                   KASSA_GATEWAY_PORT=str(self.port), KASSA_GATEWAY_BIND="127.0.0.1", KASSA_GATEWAY_ADMIN="off")
        for service, addresses in self.upstreams.items():
            env[f"KASSA_{service.upper()}_UPSTREAMS"] = " ".join(addresses)
        return env

    def wait_ready(self, timeout: float = 30) -> None:
        assert self.proc is not None
        wait_for_http(self.proc, f"{self.base}/healthz", self.output, name="the gateway", timeout=timeout)

    def wait_routed(self, path: str, *, timeout: float = 30) -> None:
        """Until `path` reaches a healthy replica (the first active health checks have passed)."""
        deadline = time.monotonic() + timeout
        while httpx.get(self.base + path, timeout=5).status_code == 503:
            assert time.monotonic() < deadline, f"the gateway found no healthy replica for {path}:\n{self.output()}"
            time.sleep(0.05)  # the gateway's health checker runs on its own clock
