"""Verify the webhooks Kassa sends (Standard Webhooks), then read them as typed events.

    from kassa_sdk.webhooks import WebhookVerificationError, verify

    event = verify(raw_body, request.headers, "whsec_...")   # the exact bytes received

Kassa signs `{webhook-id}.{webhook-timestamp}.{body}` with HMAC-SHA256 under the endpoint's secret
(`whsec_` + base64) and sends `v1,<base64 signature>` in `webhook-signature`, several of them,
space-separated, while a rotated secret overlaps the new one. `verify` accepts a delivery when one
of them matches one of your secrets (compared in constant time) and its timestamp is within five
minutes of now, either way (a replayed old delivery fails, and so does one from the future).

Pass the raw body: a body parsed and serialized again has other bytes and never verifies.

An event is rendered in its webhook endpoint's API version (`event.api_version`, set on the endpoint
when it is created or updated), not in the version the SDK sends with its requests; the signature
covers that rendered body. The SDK's event types are the newest version's (`kassa_sdk.API_VERSION`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping

import msgspec

from ._errors import KassaError
from .events import WebhookEvent, parse_event

TOLERANCE_SECONDS = 5 * 60
SECRET_PREFIX = "whsec_"


class WebhookVerificationError(KassaError):
    """The delivery is not a genuine, fresh Kassa webhook: headers missing or malformed, timestamp out of
    tolerance, no matching signature, or a body that is not a Kassa event. Answer it with a 4xx."""


def _key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookVerificationError("The webhook secret is not a whsec_ base64 secret") from None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # Works with any mapping: a dict (any case), httpx/Starlette/Django headers. svix-* is the same scheme.
    for key in (name, name.title(), name.upper(), "svix-" + name.removeprefix("webhook-")):
        value = headers.get(key)
        if value is not None:
            return value
    lowered = {k.lower(): v for k, v in headers.items()}
    return lowered.get(name) or lowered.get("svix-" + name.removeprefix("webhook-"))


def construct_event(payload: bytes | str, *, webhook_id: str, webhook_timestamp: str, webhook_signature: str,
                    secret: str | Iterable[str], tolerance: int = TOLERANCE_SECONDS,
                    now: float | None = None) -> WebhookEvent:
    """Like `verify`, with the three header values passed one by one (for frameworks and queues that hand
    over the raw body and headers separately, e.g. a serverless function's event)."""
    body = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
    try:
        timestamp = int(webhook_timestamp)
    except ValueError:
        raise WebhookVerificationError("Invalid webhook-timestamp header") from None
    current = time.time() if now is None else now
    if timestamp < current - tolerance:
        raise WebhookVerificationError("Message timestamp too old")
    if timestamp > current + tolerance:
        raise WebhookVerificationError("Message timestamp too new")
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not secrets:
        raise WebhookVerificationError("No webhook secret given")
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    expected = [base64.b64encode(hmac.new(_key(s), signed, hashlib.sha256).digest()) for s in secrets]
    for candidate in webhook_signature.split():
        version, _, signature = candidate.partition(",")
        if version != "v1":
            continue
        given = signature.encode("ascii", "replace")
        # Every comparison runs (no early exit on the secret that matched): constant time per header.
        if any([hmac.compare_digest(given, e) for e in expected]):
            try:
                return parse_event(body)
            except msgspec.MsgspecError as exc:
                raise WebhookVerificationError(f"The payload is not a Kassa event: {exc}") from None
    raise WebhookVerificationError("No matching signature found")


def verify(payload: bytes | str, headers: Mapping[str, str], secret: str | Iterable[str], *,
           tolerance: int = TOLERANCE_SECONDS, now: float | None = None) -> WebhookEvent:
    """Check a delivery's signature and timestamp, and return its typed event.

    `payload` is the raw body; `headers` any mapping of the request headers; `secret` the endpoint's
    `whsec_...` secret, or several during your own rotation. Raises `WebhookVerificationError`.
    """
    webhook_id = _header(headers, "webhook-id")
    timestamp = _header(headers, "webhook-timestamp")
    signature = _header(headers, "webhook-signature")
    if not webhook_id or not timestamp or not signature:
        raise WebhookVerificationError("Missing required headers (webhook-id, webhook-timestamp, webhook-signature)")
    return construct_event(payload, webhook_id=webhook_id, webhook_timestamp=timestamp, webhook_signature=signature,
                           secret=secret, tolerance=tolerance, now=now)
