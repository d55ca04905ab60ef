"""`/embed/v1/embed.js` and `/embed/v1/embed.mjs`: the @kassa/embed script (`window.Kassa.mountCheckout`)
and ES module, served from Kassa's own origin so a storefront page needs no build step.

The files are @kassa/embed's browser builds, committed in `embed_assets/` so this service needs no
Node (`npm run assets -w @kassa/embed` in sdk/js refreshes them; tests/sdk_js/test_embed_assets.py
fails when they and the source disagree). They are read and gzipped once, at import.

Caching: `v1` is a stable API, not one immutable file — a fix to v1 ships under the same path. So
an hour's `max-age` (a fix reaches every shop within the hour) with an `ETag`: after that a
browser revalidates and gets a 304 of no body. Any origin may load them (`Access-Control-Allow-Origin:
*`, which a cross-origin module script needs; no credentials are involved).
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from kassa_contract.errors import KassaError
from litestar import Request, Response, get
from litestar.params import FromPath

PREFIX = "/embed/v1"
CACHE_CONTROL = "public, max-age=3600"
CONTENT_TYPE = "text/javascript"  # Litestar adds `; charset=utf-8`


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    etag: str  # of the identity bytes; the gzipped variant's is this with `-gz`

    @classmethod
    def load(cls, name: str) -> Asset:
        body = (files(__package__) / "embed_assets" / name).read_bytes()
        return cls(body, gzip.compress(body, compresslevel=9, mtime=0), hashlib.sha256(body).hexdigest()[:20])


ASSETS = {name: Asset.load(name) for name in ("embed.js", "embed.mjs")}


def accepts_gzip(header: str) -> bool:
    """Whether an `Accept-Encoding` header takes gzip (the embed script and the hosted page's assets)."""
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() == "gzip":
            return params.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


@get(PREFIX + "/{name:str}", opt={"public": True}, include_in_schema=False, sync_to_thread=False)
def embed_asset(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[bytes]:
    asset = ASSETS.get(name)
    if asset is None:
        raise KassaError("route_not_found", f"No file {PREFIX}/{name}: the embed script is {PREFIX}/embed.js "
                         f"(or the ES module {PREFIX}/embed.mjs)")
    gzipped = accepts_gzip(request.headers.get("accept-encoding", ""))
    etag = f'"{asset.etag}-gz"' if gzipped else f'"{asset.etag}"'
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": etag, "Vary": "Accept-Encoding",
               "Access-Control-Allow-Origin": "*", "Cross-Origin-Resource-Policy": "cross-origin"}
    if etag in (t.strip() for t in request.headers.get("if-none-match", "").split(",")):
        return Response(b"", status_code=304, headers=headers)
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    return Response(asset.gzipped if gzipped else asset.body, media_type=CONTENT_TYPE, headers=headers)


ROUTES = [embed_asset]
