"""Base Struct classes: one place for the wire conventions.

Inbound public bodies forbid unknown fields (a typo is an error, not silently ignored);
outbound and inter-service types accept unknown fields so that adding a field never breaks
an older reader.
"""

from __future__ import annotations

import msgspec


class Request(msgspec.Struct, rename="camel", forbid_unknown_fields=True, kw_only=True, omit_defaults=False):
    """A request body sent by a client. Unknown fields are rejected.

    Checks in `__post_init__` raise `ValueError("fieldName: what is wrong")`: the prefix names the
    field inside this struct, and the error envelope reports it as the field.
    """


class Model(msgspec.Struct, rename="camel", kw_only=True):
    """A response, event payload or inter-service message. Unknown fields are tolerated."""


# `msgspec.UNSET` tells "field absent" apart from an explicit `null` in PATCH bodies.
UNSET = msgspec.UNSET
UnsetT = msgspec.UnsetType
