"""Secrets at rest: values a service must read back in full (webhook signing secrets) are stored
sealed with AES-256-GCM, so that a copy of the database (a backup, a replica, a leaked dump) does
not hand out the secrets that prove a message comes from Kassa.

The key is derived from the deployment's signing key (KASSA_SIGNING_KEY), one key per purpose, so
no new secret has to reach every process. Changing the signing key therefore makes the values
sealed under the old one unreadable: `open` then raises `SealBroken`, and the owner must issue
new ones (rotate the webhook secret). Values stored before sealing existed (no `sealed:v1:`
prefix) are read as they are.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "sealed:v1:"
_NONCE_BYTES = 12


class SealBroken(Exception):
    """A sealed value that this key cannot open (another signing key, or altered)."""


class Sealer:
    def __init__(self, signing_key: str, purpose: str) -> None:
        # HKDF with a single block is HMAC(HMAC(salt, ikm), info || 0x01); a fixed salt per product.
        prk = hmac.new(b"kassa-sealing", signing_key.encode(), hashlib.sha256).digest()
        key = hmac.new(prk, purpose.encode() + b"\x01", hashlib.sha256).digest()
        self._aead = AESGCM(key)
        self._purpose = purpose.encode()

    def seal(self, value: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, value.encode(), self._purpose)
        return PREFIX + base64.b64encode(nonce + sealed).decode()

    def open(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            return stored  # stored before sealing
        try:
            raw = base64.b64decode(stored[len(PREFIX):], validate=True)
            return self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], self._purpose).decode()
        except (InvalidTag, ValueError) as exc:
            raise SealBroken("a sealed value cannot be opened with this deployment's signing key") from exc
