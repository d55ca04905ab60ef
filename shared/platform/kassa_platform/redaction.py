"""Redaction of one person's data inside stored values: the rules every service's erasure applies.

Pure (no I/O). A `Redactor` knows the person: their emails, the strings that are theirs (names,
phones, address lines, postal codes) and the metadata keys the merchant marks personal. It rewrites
a stored JSON document, an event envelope, an answer body or a free text, and says whether anything
changed (so that a repeat counts nothing). What stays: ids, amounts, lines, tax, an address's
country and region (the tax jurisdiction of a retained order).

* By key, in JSON: `firstName`, `lastName`, `phone`, `company`, `addressLine2`, `postalCode`,
  `externalId`, `identity` become null; `addressLine1` and `city` become "redacted" (an address
  needs them); `email` / `customerEmail` holding an address become null; a `metadata` object's
  personal keys become "redacted".
* By value: a string containing one of the emails, or equal to one of the needles (case and
  surrounding space ignored), becomes "redacted" (null under the keys above).
* Free text (an answer excerpt, a refund reason): each whole-word occurrence becomes "redacted".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import msgspec
from kassa_contract.erasure import REDACTED

NULLED_KEYS = frozenset({"firstName", "lastName", "phone", "company", "addressLine2", "postalCode", "externalId",
                         "identity", "email", "customerEmail"})
MARKED_KEYS = frozenset({"addressLine1", "city"})
# Strings that are never a person's: what redaction itself writes.
_NOT_NEEDLES = {"", REDACTED}
MIN_NEEDLE = 2

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


def clean(values: Iterable[Any]) -> list[str]:
    """Distinct, trimmed, lower-cased strings worth searching for (not the markers redaction writes)."""
    found = {str(v).strip().lower() for v in values if isinstance(v, str)}
    return sorted(v for v in found if len(v) >= MIN_NEEDLE and v not in _NOT_NEEDLES and not v.startswith("erased+"))


def address_needles(address: Any) -> list[Any]:
    """The strings of a stored address (camelCase keys) that are the person's; not its country or region (the
    tax jurisdiction a retained order keeps)."""
    if not isinstance(address, dict):
        return []
    return [address.get(k) for k in ("addressLine1", "addressLine2", "city", "postalCode", "phone", "firstName", "lastName",
                                     "company")]


def document_needles(value: Any, metadata_keys: Iterable[str] = ()) -> list[Any]:
    """The person's strings found under the personal keys anywhere in a JSON document (and the values
    of the metadata keys the merchant marks personal)."""
    keys = frozenset(metadata_keys)
    found: list[Any] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("shippingAddress", "billingAddress"):
                found += address_needles(item)
            elif key in ("firstName", "lastName", "phone") and isinstance(item, str):
                found.append(item)
            elif key == "metadata" and isinstance(item, dict):
                found += [v for k, v in item.items() if k in keys]
                found += document_needles(item, keys)
            else:
                found += document_needles(item, keys)
    elif isinstance(value, list):
        for item in value:
            found += document_needles(item, keys)
    return found


class Redactor:
    """`by_key=False` (`values_only()`): for a stored body that only mentions the person (another
    customer's event naming their email): their strings go, the keys' own values (someone else's) stay."""

    def __init__(self, emails: Iterable[str], needles: Iterable[str], personal_metadata_keys: Iterable[str] = (),
                 *, by_key: bool = True) -> None:
        self.emails = clean(emails)
        self.needles = set(clean([*needles, *self.emails]))
        self.metadata_keys = frozenset(personal_metadata_keys)
        self.by_key = by_key
        words = sorted(self.needles, key=len, reverse=True)
        self._words = (re.compile("|".join(rf"(?<!\w){re.escape(w)}(?!\w)" for w in words), re.IGNORECASE)
                       if words else None)

    def values_only(self) -> Redactor:
        return Redactor(self.emails, self.needles, by_key=False)

    def _personal(self, text: str) -> bool:
        low = text.strip().lower()
        return low in self.needles or any(e in low for e in self.emails)

    def value(self, value: Any, key: str | None = None) -> Any:
        """A JSON value (decoded) with the person's data redacted; the same object when nothing changed."""
        if isinstance(value, dict):
            changed = False
            out: dict[str, Any] = {}
            for k, item in value.items():
                new = self._field(k, item)
                changed = changed or new is not item
                out[k] = new
            return out if changed else value
        if isinstance(value, list):
            items = [self.value(item) for item in value]
            return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
        if isinstance(value, str) and value != REDACTED and self._personal(value):
            return None if key in NULLED_KEYS else REDACTED
        return value

    def _field(self, key: str, item: Any) -> Any:
        if not self.by_key:
            return self.value(item, key)
        if key in NULLED_KEYS:
            if item is None or (key in ("email", "customerEmail") and not (isinstance(item, str) and "@" in item)):
                return item  # `email` is also a consent's state ("granted"): only an address is personal
            return None
        if key in MARKED_KEYS and isinstance(item, str):
            return item if item == REDACTED else REDACTED
        if key == "metadata" and isinstance(item, dict):
            return self.metadata(item)
        return self.value(item, key)

    def metadata(self, value: dict[str, Any] | None) -> dict[str, Any] | None:
        """A metadata object: its personal keys' values, and any value holding the person's data, redacted."""
        if not value:
            return value
        out = {k: (REDACTED if k in self.metadata_keys and v not in (None, REDACTED) else self.value(v))
               for k, v in value.items()}
        return out if any(out[k] is not value[k] for k in value) else value

    def address(self, value: Any) -> Any:
        """A stored address: country and region stay, the rest goes."""
        return self.value({"shippingAddress": value})["shippingAddress"] if isinstance(value, dict) else value

    def body(self, data: bytes | None) -> bytes | None:
        """Stored JSON bytes (an event envelope, an answer): re-encoded when changed, else the same bytes."""
        if not data:
            return data
        try:
            decoded = _decoder.decode(data)
        except msgspec.DecodeError:
            text = data.decode("utf-8", "replace")
            scrubbed = self.text(text) or ""
            return data if scrubbed == text else scrubbed.encode()
        redacted = self.value(decoded)
        return data if redacted is decoded else _encoder.encode(redacted)

    def mentions(self, value: str | None) -> bool:
        """The text holds one of the person's emails, or one of their strings as a whole word."""
        if not value:
            return False
        low = value.lower()
        return any(e in low for e in self.emails) or (self._words is not None and self._words.search(value) is not None)

    def text(self, value: str | None) -> str | None:
        """Free text: each whole-word occurrence of the person's strings (and their emails anywhere) redacted."""
        if not value or self._words is None:
            return value
        return self._words.sub(REDACTED, value)
