"""Endpoint signing secrets: Standard Webhooks `whsec_` + base64 of 24-64 random bytes.

A secret is shown in full once (in the response that created or rotated it) and obfuscated in
every later response. It is stored sealed (AES-GCM, kassa_platform.sealing): a copy of the
database does not give out the secrets that prove a message comes from Kassa. A rotation keeps the previous secrets signing beside the new one for an
overlap, so receivers can switch without dropping a single message.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from kassa_contract.errors import KassaError
from kassa_platform.ids import new_id
from kassa_platform.sealing import SealBroken, Sealer
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import webhook_secrets

PREFIX = "whsec_"
SECRET_BYTES = 24
MIN_BYTES, MAX_BYTES = 24, 64
_MASK = "********"


def generate_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def check_secret(value: str, field: str = "secret") -> str:
    """A secret a merchant brings must be one svix accepts, and strong enough."""
    if not value.startswith(PREFIX):
        raise KassaError("webhook_secret_invalid", "A secret starts with `whsec_`", field=field)
    try:
        raw = base64.b64decode(value[len(PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        raise KassaError("webhook_secret_invalid", "A secret is `whsec_` followed by base64", field=field) from None
    if not MIN_BYTES <= len(raw) <= MAX_BYTES:
        raise KassaError("webhook_secret_invalid", f"A secret holds {MIN_BYTES} to {MAX_BYTES} bytes",
                         field=field)
    return value


def obfuscate(secret: str | None) -> str:
    """`whsec_********abcd`: at most the last 4 characters, and none of a short secret.

    Revealing a fixed-size tail of a short secret would reveal a large share of it, so below
    16 characters of body nothing of it is shown.
    """
    if secret is None:  # unreadable (sealed under another signing key): nothing of it to show
        return PREFIX + _MASK
    body = secret[len(PREFIX):] if secret.startswith(PREFIX) else secret
    return PREFIX + _MASK + (body[-4:] if len(body) >= 16 else "")


async def add_secret(conn: AsyncConnection, sealer: Sealer, endpoint_id: str, secret: str, now: datetime) -> None:
    await conn.execute(sa.insert(webhook_secrets).values(id=new_id("whsk"), endpoint_id=endpoint_id,
                                                         secret=sealer.seal(secret), created_at=now, expires_at=None))


async def rotate_secret(conn: AsyncConnection, sealer: Sealer, endpoint_id: str, now: datetime,
                        overlap: timedelta) -> str:
    """A new secret; the current ones keep signing until `now + overlap` (not longer than they would)."""
    until = now + overlap
    active = sa.or_(webhook_secrets.c.expires_at.is_(None), webhook_secrets.c.expires_at > until)
    await conn.execute(sa.update(webhook_secrets)
                       .where(webhook_secrets.c.endpoint_id == endpoint_id, active)
                       .values(expires_at=until))
    secret = generate_secret()
    await add_secret(conn, sealer, endpoint_id, secret, now)
    return secret


def active_secrets_query(endpoint_ids: list[str], now: datetime) -> sa.Select:
    """(endpoint_id, sealed secret) of every secret that signs at `now`, newest first."""
    return (sa.select(webhook_secrets.c.endpoint_id, webhook_secrets.c.secret)
            .where(webhook_secrets.c.endpoint_id.in_(endpoint_ids),
                   sa.or_(webhook_secrets.c.expires_at.is_(None), webhook_secrets.c.expires_at > now))
            .order_by(webhook_secrets.c.endpoint_id, webhook_secrets.c.created_at.desc(), webhook_secrets.c.id.desc()))


async def newest_secret(conn: AsyncConnection, sealer: Sealer, endpoint_id: str) -> str | None:
    """The newest secret, opened; None if it was sealed under another signing key (see sealing)."""
    stored = (await conn.execute(sa.select(webhook_secrets.c.secret)
                                 .where(webhook_secrets.c.endpoint_id == endpoint_id)
                                 .order_by(webhook_secrets.c.created_at.desc(), webhook_secrets.c.id.desc())
                                 .limit(1))).scalar_one()
    try:
        return sealer.open(stored)
    except SealBroken:
        return None
