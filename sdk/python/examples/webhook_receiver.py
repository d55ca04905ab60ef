"""Receiving Kassa's webhooks with the standard library's HTTP server: verify, then act on the typed event.

    KASSA_WEBHOOK_SECRET=whsec_... python webhook_receiver.py 8080

Answer 2xx quickly (Kassa retries anything else), and make the handling idempotent: an event can
arrive more than once, always with the same `event.id`.
"""

from __future__ import annotations

import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from kassa_sdk.events import CartAbandonedEvent, OrderCreatedEvent, UnknownEvent, WebhookEvent
from kassa_sdk.webhooks import WebhookVerificationError, verify

SECRET = os.environ.get("KASSA_WEBHOOK_SECRET", "")
seen: set[str] = set()


def handle(event: WebhookEvent) -> None:
    if event.id in seen:  # a redelivery
        return
    seen.add(event.id)
    if isinstance(event, CartAbandonedEvent):
        customer = event.data.customer
        if customer is not None and customer.email and event.data.recovery_url:
            print(f"email {customer.email}: your cart is waiting at {event.data.recovery_url}")
    elif isinstance(event, OrderCreatedEvent):
        print(f"fulfil order {event.data.order.id} ({event.data.order.total} {event.data.order.currency})")
    elif isinstance(event, UnknownEvent):
        print(f"ignoring {event.type}: newer than this SDK")


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - the standard library's name
        body = self.rfile.read(int(self.headers.get("content-length", "0")))  # the raw bytes, not re-serialized
        try:
            event = verify(body, dict(self.headers.items()), SECRET)
        except WebhookVerificationError as error:
            self.send_response(400)
            self.end_headers()
            self.wfile.write(str(error).encode())
            return
        handle(event)
        self.send_response(204)
        self.end_headers()


if __name__ == "__main__":
    HTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 8080), Receiver).serve_forever()
