"""A real SMTP server on loopback (aiosmtpd) that keeps every message it receives.

Started by the test that needs it (`smtp_server()`); Kassa sends to it over TCP exactly as it would
to a mail provider, with `KASSA_SMTP_TLS=none`. A message is in `messages` by the time the server
has answered the DATA command, so a test that waited for Kassa's send job has it without polling.
"""

from __future__ import annotations

import email
import email.policy
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.conftest import free_port


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        return str(body.get_content())  # type: ignore[attr-defined]

    def link(self, path: str) -> str:
        """The first link to `path` in the plain-text part."""
        found = re.search(r"https?://\S*" + re.escape(path) + r"\S*", self.part("plain"))
        assert found, f"no link to {path} in:\n{self.part('plain')}"
        return found.group(0)

    def token(self, path: str) -> str:
        return self.link(path).split("token=", 1)[1]


@dataclass
class MailServer:
    host: str
    port: int
    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    refuse: bool = False  # answer every message with a temporary failure (451)

    def settings(self) -> dict[str, Any]:
        return {"smtp_host": self.host, "smtp_port": self.port, "smtp_tls": "none",
                "mail_from": "Kassa <team@kassa.test>"}

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if address.lower() in [r.lower() for r in m.recipients]]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's handler hook
        if self.refuse:
            return "451 4.3.0 try again later"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[MailServer]:
    server = MailServer("127.0.0.1", free_port())
    controller = Controller(server, hostname=server.host, port=server.port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()
