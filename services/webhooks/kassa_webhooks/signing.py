"""Standard Webhooks signatures through svix: one `v1,` signature per active secret.

The signed content is `{webhook-id}.{webhook-timestamp}.{body}` over exactly the bytes sent;
svix takes the body as text, and our bodies are UTF-8 JSON, so decoding and svix's re-encoding
give back the same bytes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from math import floor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from svix.webhooks import Webhook


class Signer:
    def __init__(self, user_agent: str) -> None:
        self.user_agent = user_agent
        self._signers: dict[str, Webhook] = {}  # svix decodes the key once per secret, not per message

    def _webhook(self, secret: str) -> Webhook:
        signer = self._signers.get(secret)
        if signer is None:
            # Imported on first use: svix's package imports its whole API client (about half a
            # second), which every `kassa` command would otherwise pay at start.
            from svix.webhooks import Webhook

            if len(self._signers) > 10_000:
                self._signers.clear()
            signer = self._signers[secret] = Webhook(secret)
        return signer

    def headers(self, event_id: str, body: bytes, secrets: list[str], sent_at: datetime) -> dict[str, str]:
        """The headers of one attempt. `sent_at` is wall-clock time: receivers check it against
        their own clock (±5 minutes), so it must not come from a clock that tests move."""
        sent_at = sent_at.astimezone(UTC)  # svix replaces the zone instead of converting
        text = body.decode("utf-8")
        signatures = " ".join(self._webhook(s).sign(event_id, sent_at, text) for s in secrets)
        return {
            "content-type": "application/json",
            "user-agent": self.user_agent,
            "webhook-id": event_id,
            "webhook-timestamp": str(floor(sent_at.timestamp())),
            "webhook-signature": signatures,
        }
