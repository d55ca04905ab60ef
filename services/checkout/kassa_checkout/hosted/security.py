"""Who may frame the page, and the headers that say so.

Without an embed token the page may not be framed at all (`frame-ancestors 'none'` and
`X-Frame-Options: DENY`). With a valid token for this session, exactly the token's origin may frame
it. A forged, expired or other session's token gets an error page that nobody may frame. The
script, styles and icon come from our own origin only; the one inline element, the branding colours, is
allowed by a per-response nonce. A page whose application takes payments with Stripe also allows
exactly what Stripe.js needs (`stripe_sources`), and nothing else from anywhere else. `Referrer-Policy: no-referrer` keeps the session id and the token
out of other sites' logs.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from kassa_platform.signed_tokens import TokenInvalid, verify_token

from ..embed import PURPOSE as EMBED_PURPOSE

_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")


class EmbedRefused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def embed_origin(signing_key: str, token: str, session: Any, now: datetime) -> str:
    """The origin a valid embed token for `session` names; EmbedRefused otherwise (400 malformed,
    403 forged, expired or made for another session or application)."""
    try:
        claims = verify_token(signing_key, EMBED_PURPOSE, token, now)
    except TokenInvalid as exc:
        raise EmbedRefused(400 if "malformed" in str(exc) else 403, str(exc)) from exc
    origin = claims.get("origin")
    if claims.get("sid") != session.id or claims.get("app") != session.app_id or not isinstance(origin, str):
        raise EmbedRefused(403, "token made for another checkout session")
    return origin


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


def safe_color(value: str | None) -> str | None:
    return value if value and _COLOR.match(value) else None


def safe_image_url(value: str | None) -> str | None:
    """An absolute http(s) URL with a host, else None: never `javascript:`, `data:` or a path on our
    own origin. (The embed config already refuses other URLs; the page does not rely on that.)"""
    if not value or len(value) > 2048 or any(c in value for c in "\"'<> \t\n\r\\"):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme in ("https", "http") and parts.hostname else None


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


STRIPE_JS_ORIGIN = "https://js.stripe.com"


@dataclass(frozen=True)
class ScriptSources:
    """Origins a payment provider's script needs, per directive (each a space-led list, or empty)."""

    script: str = ""
    connect: str = ""
    frame: str = ""


NO_SOURCES = ScriptSources()


@lru_cache(maxsize=8)
def stripe_sources(js_url: str) -> ScriptSources:
    """What Stripe.js loaded from `js_url` needs. From Stripe's own origin, the origins Stripe documents
    for Stripe.js and its card fields: the script and its frames on js.stripe.com, the 3-D Secure
    frames on hooks.stripe.com, its calls to api.stripe.com. From anywhere else (a stand-in such as
    localstripe in tests), that URL's origin for the script, its calls and its frames."""
    origin = origin_of(js_url)
    if origin == STRIPE_JS_ORIGIN:
        return ScriptSources(script=f" {STRIPE_JS_ORIGIN}", connect=" https://api.stripe.com",
                             frame=f" {STRIPE_JS_ORIGIN} https://hooks.stripe.com")
    return ScriptSources(script=f" {origin}", connect=f" {origin}", frame=f" {origin}")


def page_headers(*, nonce: str | None, frame_origin: str | None, image_origin: str | None = None,
                 sources: ScriptSources = NO_SOURCES) -> dict[str, str]:
    images = "'self'" + (f" {image_origin}" if image_origin else "")
    styles = "'self'" + (f" 'nonce-{nonce}'" if nonce else "")
    frames = f"frame-src{sources.frame}; " if sources.frame else ""
    policy = (f"default-src 'none'; script-src 'self'{sources.script}; style-src {styles}; img-src {images}; "
              f"connect-src 'self'{sources.connect}; {frames}"
              f"form-action 'self'; base-uri 'none'; object-src 'none'; "
              f"frame-ancestors {frame_origin or chr(39) + 'none' + chr(39)}")
    headers = {"Content-Security-Policy": policy, "Referrer-Policy": "no-referrer",
               "Cross-Origin-Opener-Policy": "same-origin" if frame_origin is None else "unsafe-none",
               "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
               "Cache-Control": "no-store"}
    if frame_origin is None:
        headers["X-Frame-Options"] = "DENY"
    return headers
