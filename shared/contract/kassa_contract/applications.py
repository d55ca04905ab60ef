"""The calling application itself (docs/contract.md, "Platform"): its pin to an API version."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from .base import Model, Request
from .webhooks import ApiVersion


class Application(Model):
    id: str
    name: str
    environment: Literal["test", "live"]
    # The version a request gets when it sends no `Kassa-Version` header; set at creation to the newest.
    api_version: str
    # The newest version there is, and every version this API answers in (newest first).
    latest_api_version: str
    api_versions: list[str]
    created_at: datetime


class UpgradeApiVersion(Request):
    """Move the pin forward (never back): requests without a header and new webhook endpoints get it."""

    version: ApiVersion
