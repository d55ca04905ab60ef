"""`/dashboard/…`: the page that loads the app (for every path under it: the app routes in the
browser) and the app's hashed files. Neither needs a credential: the page holds no data, and the
app asks the API for everything with the team session's cookie."""

from __future__ import annotations

from typing import Any

from kassa_contract.errors import KassaError
from litestar import Request, Response, get
from litestar.params import FromPath

from . import assets

HIDDEN = {"include_in_schema": False}

# Everything from our own origin, nothing inline: the app sets styles through the DOM (allowed by
# `style-src 'self'`), never through markup. `connect-src 'self'`: it talks only to Kassa's API.
POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
          "font-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
          "frame-ancestors 'none'")
PAGE_HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cache-Control": "no-store",
}


def _page() -> bytes:
    script, styles, icon = (assets.URLS.get(n, "") for n in ("dashboard.js", "dashboard.css", "favicon.svg"))
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="robots" content="noindex">\n'
        "<title>Kassa Dashboard</title>\n"
        + (f'<link rel="icon" href="{icon}" type="image/svg+xml">\n' if icon else "")
        + f'<link rel="stylesheet" href="{styles}">\n'
        f'<script type="module" src="{script}"></script>\n'
        "</head>\n<body>\n"
        '<div id="root"><noscript>The Kassa dashboard needs JavaScript.</noscript></div>\n'
        "</body>\n</html>\n"
    ).encode()


PAGE = _page()


async def dashboard_page() -> Response[bytes]:
    return Response(PAGE, media_type="text/html", headers=PAGE_HEADERS)  # Litestar adds the charset


async def dashboard_subpage(path: FromPath[str]) -> Response[bytes]:  # noqa: ARG001 - the app reads the path
    return await dashboard_page()


def accepts_gzip(header: str) -> bool:
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() == "gzip":
            return params.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


async def static_asset(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[bytes]:
    asset = assets.ASSETS.get(name)
    if asset is None:
        raise KassaError("route_not_found", f"No dashboard file {name}")
    headers = {"Cache-Control": assets.IMMUTABLE, "Vary": "Accept-Encoding"}
    if accepts_gzip(request.headers.get("accept-encoding", "")):
        headers["Content-Encoding"] = "gzip"
        return Response(asset.gzipped, media_type=asset.media_type, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


ROUTES = [
    get(assets.PREFIX + "/{name:str}", operation_id="dashboardAsset", opt={"public": True}, **HIDDEN)(static_asset),
    get(["/dashboard", "/dashboard/"], operation_id="dashboardPage", opt={"public": True}, **HIDDEN)(dashboard_page),
    get("/dashboard/{path:path}", operation_id="dashboardSubpage", opt={"public": True}, **HIDDEN)(dashboard_subpage),
]
