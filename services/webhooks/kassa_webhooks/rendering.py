"""An event's body as one endpoint reads it: in the endpoint's API version.

Events are stored once, in the shape of the version that was newest when they were written; a
delivery to an endpoint on that version sends the stored bytes as they are (no decoding). An
endpoint on an older version gets the event passed back through the version changes
(`kassa_contract.versions.render_event`); the signature covers the rendered bytes.
"""

from __future__ import annotations

import msgspec
from kassa_contract.versions import LATEST_VERSION, render_event

_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


def render_payload(payload: bytes, version: str) -> bytes:
    if version == LATEST_VERSION:  # an event newer than any version is as stored; an older one cannot be lifted
        return payload
    return _encoder.encode(render_event(_decoder.decode(payload), version))
