"""Recovery links: the URL a `cart.abandoned` carries, and the signed token in it.

A template such as `https://shop.example/cart/{cartId}?t={token}` becomes the cart's recovery
URL. `{token}` is a signed, expiring token (`kassa_platform.signed_tokens`, purpose
`cart_recovery`) bound to the application and the cart; a publishable key may send it in
`X-Cart-Secret` instead of the cart's client secret, to read and change that cart only.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from kassa_platform.signed_tokens import TokenInvalid, sign_token, verify_token

PURPOSE = "cart_recovery"
# Long enough for a reminder sequence (1 h, 24 h, 3 days after the abandonment), short enough
# that an old email stops opening the cart.
TOKEN_LIFETIME = timedelta(days=7)
PLACEHOLDERS = ("cartId", "token")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def recovery_token(key: str, *, app_id: str, cart_id: str, now: datetime) -> str:
    return sign_token(key, PURPOSE, {"app": app_id, "cart": cart_id}, now + TOKEN_LIFETIME)


def token_opens(key: str, token: str, *, app_id: str, cart_id: str, now: datetime) -> bool:
    """Whether `token` is a valid, unexpired recovery token for this application's cart."""
    if "." not in token:
        return False  # a client secret (or anything else), not a token
    try:
        claims = verify_token(key, PURPOSE, token, now)
    except TokenInvalid:
        return False
    return claims.get("app") == app_id and claims.get("cart") == cart_id


def recovery_url(template: str | None, key: str, *, app_id: str, cart_id: str, now: datetime) -> str | None:
    if not template:
        return None
    url = template.replace("{cartId}", cart_id)
    if "{token}" in url:
        url = url.replace("{token}", recovery_token(key, app_id=app_id, cart_id=cart_id, now=now))
    return url


def template_problem(template: str, *, allow_http: bool) -> str | None:
    """Why a recovery URL template is refused, or None when it is fine."""
    unknown = sorted({name for name in _PLACEHOLDER.findall(template) if name not in PLACEHOLDERS})
    if unknown:
        return (f"unknown placeholder {{{unknown[0]}}}: the template may use {{cartId}} and {{token}}")
    if "{cartId}" not in template:
        return "the template must contain {cartId}, so that the link brings the shopper back to the same cart"
    sample = template.replace("{cartId}", "cart_x").replace("{token}", "t.x")
    if "{" in sample or "}" in sample:
        return "unbalanced braces: the template may use {cartId} and {token}"
    return url_problem(sample, allow_http=allow_http)


def url_problem(url: str, *, allow_http: bool) -> str | None:
    if any(ch.isspace() for ch in url):
        return "a URL has no spaces"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "not a valid URL"
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes:
        return "must be an absolute https:// URL" + (" (or http:// for a test application)" if allow_http else
                                                      " (http:// is allowed for test applications only)")
    if not parts.hostname or parts.username is not None or parts.password is not None:
        return "must name a host (and no user or password)"
    del port
    return None
