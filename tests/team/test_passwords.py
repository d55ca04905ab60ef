"""Password rules (NIST SP 800-63B) and argon2id hashes."""

from __future__ import annotations

from pathlib import Path

import pytest
from kassa_contract.errors import KassaError
from kassa_platform.settings import Settings
from kassa_team import passwords


def settings(tmp_path: Path, **kw: object) -> Settings:
    return Settings.from_env(database_url=f"sqlite+aiosqlite:///{tmp_path}/x.db", data_dir=tmp_path, **kw)


def test_length_is_the_rule_not_composition(tmp_path: Path) -> None:
    s = settings(tmp_path)
    assert passwords.check(s, "all lower case words") == "all lower case words"  # no digits or symbols needed
    assert passwords.check(s, "ｐａｓｓｗｏｒｄ１２") == "password12"  # NFKC: the same password from any keyboard
    for bad in ("short", "x" * 257):
        with pytest.raises(KassaError) as refused:
            passwords.check(s, bad)
        assert refused.value.code == "password_invalid" and refused.value.field == "password"
    assert len(passwords.check(s, "ü" * 256)) == 256  # long passphrases, any characters
    with pytest.raises(KassaError):
        passwords.check(s, "Me@Example.com", email="me@example.com")
    with pytest.raises(KassaError):
        passwords.check(settings(tmp_path, password_min_length=12), "eleven char")


def test_the_breached_list_is_off_unless_configured(tmp_path: Path) -> None:
    listed = tmp_path / "breached.txt"
    listed.write_text("password123\nqwertyuiop\n")
    assert passwords.check(settings(tmp_path), "Password123") == "Password123"
    with pytest.raises(KassaError) as refused:
        passwords.check(settings(tmp_path, password_blocklist=listed), "Password123")
    assert "breaches" in refused.value.message


def test_argon2id_hashes_verify_and_refuse() -> None:
    stored = passwords.hash_password("correct horse battery staple")
    assert stored.startswith("$argon2id$")
    assert passwords.verify(stored, "correct horse battery staple")
    assert not passwords.verify(stored, "correct horse battery stapler")
    assert not passwords.verify(None, "anything at all")  # an unknown account: verified against a dummy, refused
    assert not passwords.verify("not a hash", "anything at all")
