"""The `kassa` command run as a user runs it: one command to completion, or a server for a block."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import free_port, wait_until_ready


def kassa(*args: str, cwd: Path, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kassa.cli", *args], cwd=cwd, env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=60, check=check)


@contextmanager
def serving(*args: str, cwd: Path, env: dict[str, str] | None = None,
            timeout: float = 60) -> Iterator[tuple[str, list[str]]]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kassa.cli", "serve", *args, "--port", str(port)], cwd=cwd,
                            env={**os.environ, "KASSA_LOG_FORMAT": "text", **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    lines: list[str] = []
    try:
        # its output is read only once it has exited (reading a running server's pipe would block)
        wait_until_ready(proc, base, lambda: proc.stdout.read() if proc.stdout and proc.poll() is not None else "",
                         timeout=timeout)
        yield base, lines
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=15)
        lines.append(out)
