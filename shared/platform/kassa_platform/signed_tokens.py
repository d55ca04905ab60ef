"""Short signed tokens (embed tokens, cart recovery links): a payload, an expiry and an HMAC.

`<base64url(json payload)>.<base64url(hmac-sha256)>`, the payload carrying `purpose` and `exp`
(unix seconds), so a token made for one purpose is never accepted for another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any

import msgspec


class TokenInvalid(Exception):
    """The token is malformed, forged, for another purpose, or expired (the message says which)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: str, body: str) -> str:
    return _b64(hmac.new(key.encode(), body.encode(), hashlib.sha256).digest())


def sign_token(key: str, purpose: str, claims: dict[str, Any], expires_at: datetime) -> str:
    body = _b64(msgspec.json.encode({"purpose": purpose, "exp": int(expires_at.timestamp()), **claims}))
    return f"{body}.{_mac(key, body)}"


def verify_token(key: str, purpose: str, token: str, now: datetime) -> dict[str, Any]:
    body, _, mac = token.partition(".")
    if not body or not mac or len(token) > 2000:
        raise TokenInvalid("malformed token")
    if not hmac.compare_digest(mac, _mac(key, body)):
        raise TokenInvalid("bad signature")
    try:
        claims = msgspec.json.decode(_unb64(body))
    except (ValueError, msgspec.DecodeError) as exc:
        raise TokenInvalid("malformed token") from exc
    if not isinstance(claims, dict) or claims.get("purpose") != purpose:
        raise TokenInvalid("token made for another purpose")
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= int(now.timestamp()):
        raise TokenInvalid("token expired")
    return claims
