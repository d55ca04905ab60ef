"""Sealed values: AES-GCM under a key derived from the deployment's signing key, per purpose."""

from __future__ import annotations

import pytest
from kassa_platform.sealing import PREFIX, SealBroken, Sealer

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_a_sealed_value_opens_with_the_same_key_and_shows_nothing_of_itself() -> None:
    sealer = Sealer("deployment-key", "webhook-secrets")
    sealed, again = sealer.seal(SECRET), sealer.seal(SECRET)
    assert sealed.startswith(PREFIX) and SECRET not in sealed and SECRET[6:] not in sealed
    assert sealed != again  # a fresh nonce every time
    assert sealer.open(sealed) == sealer.open(again) == SECRET
    assert Sealer("deployment-key", "webhook-secrets").open(sealed) == SECRET  # another process, same key


def test_another_key_another_purpose_or_an_altered_value_does_not_open() -> None:
    sealed = Sealer("deployment-key", "webhook-secrets").seal(SECRET)
    for other in (Sealer("another-key", "webhook-secrets"), Sealer("deployment-key", "another-purpose")):
        with pytest.raises(SealBroken):
            other.open(sealed)
    altered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    with pytest.raises(SealBroken):
        Sealer("deployment-key", "webhook-secrets").open(altered)
    with pytest.raises(SealBroken):
        Sealer("deployment-key", "webhook-secrets").open(PREFIX + "not base64!")


def test_a_value_stored_before_sealing_is_read_as_it_is() -> None:
    assert Sealer("deployment-key", "webhook-secrets").open(SECRET) == SECRET
