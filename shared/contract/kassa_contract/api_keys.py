"""API keys: the wire types of key management (docs/contract.md, "Platform") and the scopes a key can hold."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, get_args

from msgspec import Meta

from .base import Model, Request

# Every scope a secret key can hold; `*` grants them all. The platform checks routes against these.
Scope = Literal[
    "carts:read", "carts:write",
    "catalog:read", "catalog:write",
    "settings:read", "settings:write",
    "checkout:read", "checkout:write",
    "orders:read", "orders:write",
    "payments:read", "payments:write",
    "promotions:read", "promotions:write",
    "redemptions:write",
    "customers:read", "customers:write", "customers:erase",
    "webhooks:manage",
    "keys:read", "keys:write",
    "application:read", "application:write",
    "members:read", "members:write",
    "audit:read",
    "*",
]
SCOPES: frozenset[str] = frozenset(get_args(Scope)) - {"*"}
# Scopes that `*` does not include: a key holds them only when they are named. They reach beyond the
# key's application (its workspace's team), so a full-access key made for a storefront never has them.
# `applications:manage` and `owners:manage` are team permissions no key can hold (kassa_platform.roles).
EXPLICIT_SCOPES: frozenset[str] = frozenset({"members:read", "members:write", "applications:manage", "owners:manage"})

KeyType = Literal["secret", "publishable"]
KeyName = Annotated[str, Meta(min_length=1, max_length=100)]
# How long a rolled key's old secret keeps working beside the new one: up to a week, 0 for not at all.
ExpiresInHours = Annotated[int, Meta(ge=0, le=168)]
DEFAULT_ROLL_EXPIRY_HOURS = 24


class CreateApiKey(Request):
    """A secret key names its scopes (no default: `["*"]` must be asked for); a publishable key has
    the fixed browser scopes and names none."""

    type: KeyType = "secret"
    scopes: Annotated[list[Scope], Meta(min_length=1, max_length=len(SCOPES) + 1)] | None = None
    name: KeyName | None = None

    def __post_init__(self) -> None:
        if self.type == "secret" and self.scopes is None:
            raise ValueError("scopes: a secret key needs its scopes, e.g. [\"carts:read\"] (or [\"*\"] for all)")
        if self.type == "publishable" and self.scopes is not None:
            raise ValueError("scopes: a publishable key has the fixed browser scopes; leave scopes out")


class RollApiKey(Request):
    expires_in_hours: ExpiresInHours = DEFAULT_ROLL_EXPIRY_HOURS


class ApiKey(Model):
    id: str
    name: str | None
    type: KeyType
    # The key's first characters (`sk_live_`) and its last four: enough to recognise it, never to use it.
    prefix: str
    last4: str
    scopes: list[str]
    created_at: datetime
    # Updated at most once a minute per server process, so it may lag that much behind.
    last_used_at: datetime | None
    # Set when the key was rolled: the old secret stops working then.
    expires_at: datetime | None
    revoked_at: datetime | None
    # The full key, only in the response that created it (create, roll); never again.
    secret: str | None = None
