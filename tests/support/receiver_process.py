"""A merchant's webhook receiver in a process of its own, for tests whose own process is busy (a
receiver on the test's event loop, or in a thread of it, answers late when the test works hard, and
its delays would count as the deliveries').

    python -m tests.support.receiver_process LOG [DELAY_SECONDS]

Prints its port, then answers every request 200 (after DELAY_SECONDS) and appends one JSON line per
request to LOG: the time it arrived, its headers and its body (base64). The test verifies the
signatures itself, afterwards (`received`).
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from svix.webhooks import Webhook, WebhookVerificationError

from tests.webhooks.receiver import Received, Receiver


async def _serve(log: Path, delay: float) -> None:
    out = log.open("a", buffering=1)

    async def respond(item: Received) -> tuple[int, dict[str, str], bytes]:
        out.write(json.dumps({"at": item.received_at, "headers": item.headers,
                              "body": base64.b64encode(item.body).decode()}) + "\n")
        if delay:
            await asyncio.sleep(delay)
        return 200, {}, b"ok"

    receiver = await Receiver(respond=respond).start()
    receiver.received = _Forgetful()  # the log keeps them; memory does not grow
    print(receiver.port, flush=True)
    await asyncio.Event().wait()


class _Forgetful(list):  # type: ignore[type-arg]
    def append(self, _: object) -> None:
        return None


@dataclass
class Arrival:
    event_id: str
    at: float
    body: bytes
    verified: bool


class ReceiverProcess:
    def __init__(self, log: Path, delay: float = 0.0) -> None:
        self.log = log
        log.touch()
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.support.receiver_process", str(log), str(delay)],
                                     stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())  # type: ignore[union-attr]
        self.secrets: list[str] = []
        self._read = 0
        self._arrivals: list[Arrival] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def received(self) -> list[Arrival]:
        """Every request so far (read on from where the last call stopped)."""
        with self.log.open("rb") as log:
            log.seek(self._read)
            chunk = log.read()
        complete = chunk[:chunk.rfind(b"\n") + 1]  # a line being written waits for the next call
        self._read += len(complete)
        for line in complete.splitlines():
            item = json.loads(line)
            body = base64.b64decode(item["body"])
            self._arrivals.append(Arrival(item["headers"].get("webhook-id", ""), item["at"], body,
                                          _verified(self.secrets, body, item["headers"])))
        return list(self._arrivals)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def _verified(secrets: list[str], body: bytes, headers: dict[str, str]) -> bool:
    for secret in secrets:
        try:
            Webhook(secret).verify(body, headers)
            return True
        except (WebhookVerificationError, ValueError):
            continue
    return False


if __name__ == "__main__":
    asyncio.run(_serve(Path(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 0.0))
