"""Real processes of a distributed deployment on loopback: `kassa serve SERVICE`, `kassa worker`,
and the gateway (nginx, with the repository's deploy/nginx/kassa.conf.template and loopback upstreams).

Used by the end-to-end tests and by bench/cluster_load.py, so the bench drives the deployment the
tests prove.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
GATEWAY_TEMPLATE = ROOT / "deploy" / "nginx" / "kassa.conf.template"


def nginx_binary() -> str | None:
    """nginx from the PATH (./dev installs Debian's package)."""
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)


def render_template(template: Path, env: dict[str, str]) -> str:
    """What the nginx image does with a template at start: `${NAME}` replaced by the variable
    when it is set (nginx's own `$variables` have no braces and stay)."""
    return re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), m.group(0)), template.read_text())


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


class ProcessEnv:
    """The environment of one deployment's `kassa` processes: this process's environment without any
    KASSA_* variable, the deployment's shared settings, and a data directory per process."""

    def __init__(self, root: Path, shared: dict[str, str]) -> None:
        self.root = root
        self.base = {k: v for k, v in os.environ.items() if not k.startswith("KASSA_")}
        self.shared = shared

    def env_for(self, name: str, **extra: str) -> dict[str, str]:
        (self.root / name).mkdir(exist_ok=True)
        return {**self.base, **self.shared, "KASSA_DATA_DIR": str(self.root / name), **extra}

    def kassa(self, *args: str) -> str:
        """Runs a `kassa` command to its end; its last line of output."""
        done = subprocess.run([sys.executable, "-m", "kassa.cli", *args], env=self.env_for("cli"), cwd=self.root,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"kassa {' '.join(args)}:\n{done.stdout}{done.stderr}"
        return done.stdout.strip().splitlines()[-1]


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
    """A `kassa ...` process answering HTTP on `port` (`serve`, or `worker --metrics-port`)."""

    def __init__(self, name: str, args: list[str], port: int, env: dict[str, str], log: Path) -> None:
        super().__init__(log)
        self.name, self.args, self.port, self.env = name, args, port, env
        self.base = f"http://127.0.0.1:{port}"

    @classmethod
    def serve(cls, service: str, port: int, env: dict[str, str], log: Path) -> "Kassa":
        return cls(service, ["serve", service, "--port", str(port)], port, env, log)

    def command(self) -> list[str]:
        return [sys.executable, "-m", "kassa.cli", *self.args]

    def environment(self) -> dict[str, str]:
        return self.env

    def wait_ready(self, timeout: float = 60) -> None:
        assert self.proc is not None
        wait_for_http(self.proc, f"{self.base}/readyz", self.output, name=f"kassa {self.name}", timeout=timeout)


class Gateway(Process):
    """nginx with deploy/nginx/kassa.conf.template rendered for loopback upstreams.

    The template is rendered as deploy/nginx/entrypoint.sh renders it, into a minimal nginx.conf
    of the test's own (Debian's, in the gateway image, includes it the same way): Debian's
    modules, one worker, logs to the process output, files under `workdir`.
    """

    name = "gateway"

    def __init__(self, port: int, upstreams: dict[str, list[str]], workdir: Path,
                 template: Path = GATEWAY_TEMPLATE) -> None:
        super().__init__(workdir / "gateway.log")
        self.port, self.upstreams, self.workdir, self.template = port, upstreams, workdir / "gateway", template
        self.base = f"http://127.0.0.1:{port}"

    def variables(self) -> dict[str, str]:
        from kassa.services import SERVICES

        # A service the test runs no process of gets an address nothing listens on (its paths: 503).
        upstreams = {**{name: ["127.0.0.1:9"] for name in SERVICES}, **self.upstreams}
        servers = {f"KASSA_{name.upper()}_SERVERS": " ".join(f"server {a};" for a in addresses)
                   for name, addresses in upstreams.items()}
        return {**servers, "KASSA_GATEWAY_LISTEN": f"127.0.0.1:{self.port}"}

    def command(self) -> list[str]:
        binary = nginx_binary()
        assert binary is not None, "nginx is not installed (./dev test installs it)"
        self.workdir.mkdir(exist_ok=True)
        (self.workdir / "kassa.conf").write_text(render_template(self.template, self.variables()))
        (self.workdir / "nginx.conf").write_text(
            "include /etc/nginx/modules-enabled/*.conf;\n"  # Debian's modules: headers-more
            "daemon off;\nmaster_process on;\nworker_processes 1;\nuser root;\n"
            f"pid {self.workdir}/nginx.pid;\nerror_log stderr warn;\nevents {{ worker_connections 1024; }}\n"
            f"http {{\n  access_log off;\n  client_body_temp_path {self.workdir}/body;\n"
            f"  proxy_temp_path {self.workdir}/proxy;\n  fastcgi_temp_path {self.workdir}/fastcgi;\n"
            f"  uwsgi_temp_path {self.workdir}/uwsgi;\n  scgi_temp_path {self.workdir}/scgi;\n"
            f"  include {self.workdir}/kassa.conf;\n}}\n")
        return [binary, "-c", str(self.workdir / "nginx.conf")]  # Debian's prefix: its modules load

    def environment(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if not k.startswith("KASSA_")}

    def wait_ready(self, timeout: float = 30) -> None:
        assert self.proc is not None
        wait_for_http(self.proc, f"{self.base}/healthz", self.output, name="the gateway", timeout=timeout)


# ---------------------------------------------------------------- compose.yaml


COMPOSE_FILE = ROOT / "compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
SECRETS = ("KASSA_SERVICE_TOKEN", "KASSA_SIGNING_KEY", "POSTGRES_PASSWORD")


def compose_env_file(directory: Path) -> Path:
    """.env.example with its secrets filled in, as an operator makes .env."""
    import secrets

    lines = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        name = line.partition("=")[0]
        lines.append(f"{name}={secrets.token_urlsafe(24)}" if name in SECRETS else line)
    path = directory / "compose.env"
    path.write_text("\n".join(lines) + "\n")
    return path


def compose(docker_compose: str, env_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KASSA_", "POSTGRES_", "COMPOSE_"))}
    return subprocess.run([docker_compose, "--file", str(COMPOSE_FILE), "--env-file", str(env_file), *args],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)


def compose_config(docker_compose: str, env_file: Path) -> dict:
    """The compose file as docker-compose resolves it (variables, anchors, defaults)."""
    import yaml

    done = compose(docker_compose, env_file, "config")
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


def on_loopback(argv: list[str], ports: dict[str, int]) -> list[str]:
    """A compose command for a process on this machine: `0.0.0.0` becomes 127.0.0.1 and each
    container port in `ports` (as text) becomes the given one."""
    return ["127.0.0.1" if a == "0.0.0.0" else str(ports[a]) if a in ports else a for a in argv]
