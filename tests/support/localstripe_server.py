"""Runs localstripe for the tests: `python localstripe_server.py [--port P]`.

localstripe's own entry point (`python -m localstripe`) listens on every address (`::`) of a fixed
port and pickles its whole state to /tmp/localstripe.pickle after every write, a file that every
localstripe on the machine shares (and reloads at start). Here it listens on 127.0.0.1 only, on
the port asked for or one the system picks, keeps its state in this process's memory alone, and
prints the port as its first line once the socket listens.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from pathlib import Path

# This file's folder holds tests/support/localstripe.py, which would shadow the localstripe package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from aiohttp import web  # noqa: E402
from localstripe import resources, server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    # One state per process, in memory only: no file shared with other processes or runs.
    resources.Store.dump_to_disk = lambda self: None  # type: ignore[method-assign]
    resources.Store.try_load_from_disk = lambda self: None  # type: ignore[method-assign]

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(128)
    print(sock.getsockname()[1], flush=True)

    access = logging.getLogger("aiohttp.access")  # its request log and webhook outcomes, to stderr
    access.setLevel(logging.INFO)
    access.addHandler(logging.StreamHandler(sys.stderr))
    web.run_app(server.app, sock=sock, access_log=access, print=None, shutdown_timeout=1)


if __name__ == "__main__":
    main()
