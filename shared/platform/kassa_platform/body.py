"""Request bodies are bounded before anything decodes them: in size (413 `request_too_large`)
and in JSON nesting (400 `json_too_deep`); and no text of a request (body, path, query) may hold
a NUL character, which PostgreSQL's text cannot store (422 `validation_error`, not a 500).

Without the bounds a client could make the server buffer an endless chunked body, or hand the
JSON decoder a `[[[[…` that exhausts the interpreter's recursion limit (a 500). The middleware
reads the body once, checks it, keeps it on the scope (the idempotency fingerprint needs it) and
replays it to the handler, so every route with a body is covered, including routes added later.
"""

from __future__ import annotations

from typing import Any, cast

import msgspec
from kassa_contract.errors import KassaError
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPRequestEvent, Receive, ReceiveMessage, Scope, Send

from .middleware import header

BODY_KEY = "kassa.body"
# Deeper than any body the API accepts (its deepest shapes nest 5 or 6 levels, metadata included),
# far below what exhausts the decoder's recursion.
MAX_JSON_DEPTH = 32
_NO_BODY = frozenset({"GET", "HEAD", "OPTIONS"})
_NOT_BRACKETS = bytes(range(256)).translate(None, b"[]{}")
_SQUARE = bytes.maketrans(b"{}", b"[]")


def _nested_lists(depth: int) -> msgspec.json.Decoder[Any]:
    """Decodes lists of lists nested at most `depth` deep: one level more is a type error, raised
    where it is met, before the decoder goes any deeper."""
    inner: Any = None
    for _ in range(depth):
        inner = list[inner]
    return msgspec.json.Decoder(inner)


_WITHIN_DEPTH = _nested_lists(MAX_JSON_DEPTH - 1)  # the innermost level is removed before decoding


def too_large(limit: int) -> KassaError:
    return KassaError("request_too_large", f"The request body exceeds {limit} bytes", details={"maxBytes": limit})


def json_depth_exceeds(body: bytes) -> bool:
    """Whether a JSON decoder reading `body` would nest deeper than MAX_JSON_DEPTH before it
    stops (at the end, or at the first error it meets).

    Nearly every request costs two `bytes.count`: a body with no more openers than the limit cannot
    nest deeper. Otherwise the body's bracket structure, strings left out, is rewritten as nested
    empty lists and decoded against a type that allows only MAX_JSON_DEPTH levels: all of it in C,
    5 to 17 ms for a 1 MB body at worst, stopping at the first level too deep. A decoder error
    (unbalanced brackets, data after the value) means the real decoder stops there too.
    """
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return False
    if b"\\" in body:  # hide escaped backslashes, then escaped quotes, so every `"` left delimits a string
        body = body.replace(b"\\\\", b"__").replace(b'\\"', b"__")
    outside_strings = b"".join(body.split(b'"')[::2])
    # `{}` becomes `[]`; the innermost (empty) containers go, one level less to decode; siblings get commas.
    brackets = outside_strings.translate(_SQUARE, _NOT_BRACKETS).replace(b"[]", b"").replace(b"][", b"],[")
    try:
        _WITHIN_DEPTH.decode(brackets)
    except msgspec.ValidationError:
        return True
    except msgspec.DecodeError:
        return False
    return False


def nul_refused(field: str | None, *, in_body: bool = False) -> KassaError:
    """Text with a NUL character (`\\u0000` in JSON, `%00` in a URL): PostgreSQL's text cannot hold
    it, so no field of the API accepts it."""
    return KassaError("validation_error", "Text must not contain the NUL character (\\u0000)", field=field,
                      status=422 if in_body else 400)


def _nul_path(body: bytes) -> str | None:
    """The wire path of the first string holding a NUL (`metadata.note`, `lineItems[0].sku`; "" for
    the body itself), or None: none does, or the body is not JSON (its decoder will say so). Its
    nesting is already bounded."""
    try:
        value = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None
    pending: list[tuple[str, Any]] = [("", value)]
    while pending:
        path, value = pending.pop(0)
        if isinstance(value, str) and "\x00" in value:
            return path
        if isinstance(value, dict):
            for key, inner in value.items():
                here = f"{path}.{key}" if path else key
                if "\x00" in key:
                    return here
                pending.append((here, inner))
        elif isinstance(value, list):
            pending.extend((f"{path}[{i}]", inner) for i, inner in enumerate(value))
    return None


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole body, refused as soon as it is known to exceed `limit` bytes: by its declared
    Content-Length before reading, or while reading one without (chunked)."""
    declared = header(scope, b"content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away: nothing to run, nobody to answer
            raise KassaError("bad_request", "The client disconnected before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class RequestBodyMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            raise nul_refused(None)
        if scope["method"] in _NO_BODY:
            await self.app(scope, receive, send)
            return
        body = await read_body(scope, receive, self.max_bytes)
        if json_depth_exceeds(body):
            raise KassaError("json_too_deep", f"The JSON body nests deeper than {MAX_JSON_DEPTH} levels",
                             details={"maxDepth": MAX_JSON_DEPTH})
        if b"\x00" in body:  # raw, in a CSV import say (JSON cannot hold it raw)
            raise nul_refused(None, in_body=True)
        if b"\\u0000" in body and (where := _nul_path(body)) is not None:
            raise nul_refused(where or None, in_body=True)
        scope[BODY_KEY] = body  # type: ignore[literal-required]
        await self.app(scope, replaying(body, receive), send)


def body_in(scope: Any) -> bytes:
    """The request body RequestBodyMiddleware read, bounded and kept on the scope."""
    return cast(bytes, scope[BODY_KEY])


def replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app `body` (already read) as the whole request, then what
    `receive` says (a disconnect)."""
    replayed = False

    async def replay() -> ReceiveMessage:
        nonlocal replayed
        if not replayed:
            replayed = True
            return HTTPRequestEvent(type="http.request", body=body, more_body=False)
        return await receive()

    return replay
