"""Passwords: argon2id hashes (argon2-cffi's defaults, RFC 9106's second recommended profile) and the
rules of NIST SP 800-63B: a minimum length (KASSA_PASSWORD_MIN_LENGTH, at least 8), long passphrases
allowed (256), every character allowed, no composition rules, and optionally a list of breached or
common passwords to refuse (KASSA_PASSWORD_BLOCKLIST, off by default).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from kassa_contract.errors import KassaError
from kassa_platform.settings import Settings

MAX_LENGTH = 256
_hasher = PasswordHasher()
# Verified against when the account does not exist, so that an unknown email costs the same time
# as a wrong password (the answer does not tell which accounts exist).
_DUMMY = _hasher.hash("kassa: no such account")


def normalize(password: str) -> str:
    # NIST: apply NFKC so that a password typed on another keyboard still matches.
    return unicodedata.normalize("NFKC", password)


@lru_cache(maxsize=4)
def _blocklist(path: Path) -> frozenset[str]:
    return frozenset(line.strip().lower() for line in path.read_text(encoding="utf-8", errors="ignore").splitlines()
                     if line.strip())


def check(settings: Settings, password: str, *, email: str | None = None) -> str:
    """The normalized password, or 422 `password_invalid` saying what to change."""
    text = normalize(password)
    minimum = max(8, settings.password_min_length)
    if len(text) < minimum:
        raise KassaError("password_invalid", f"Choose a password of at least {minimum} characters (a few words "
                         "make a good one)", field="password")
    if len(text) > MAX_LENGTH:
        raise KassaError("password_invalid", f"A password has at most {MAX_LENGTH} characters", field="password")
    if email and text.lower() == email.lower():
        raise KassaError("password_invalid", "The password cannot be your email address", field="password")
    if settings.password_blocklist is not None and text.lower() in _blocklist(settings.password_blocklist):
        raise KassaError("password_invalid", "This password is known from breaches or is too common: choose another",
                         field="password")
    return text


def hash_password(password: str) -> str:
    return _hasher.hash(normalize(password))


def verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY, normalize(password)) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)
