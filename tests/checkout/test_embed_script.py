"""`/embed/v1/embed.js` and `.mjs`: @kassa/embed as Kassa serves it, through the embedded router (the
paths belong to the checkout service), with the headers a storefront page on another origin needs."""

from __future__ import annotations

import httpx
import pytest
from kassa_checkout import embed_script

from kassa.gateway import PathRouter
from kassa.services import SERVICES
from tests.conftest import Backend


@pytest.mark.parametrize("name", ["embed.js", "embed.mjs"])
async def test_served_with_its_type_cache_policy_and_cors(sqlite_backend: Backend, name: str) -> None:
    client = sqlite_backend.client
    plain = await client.get(f"/embed/v1/{name}", headers={"Accept-Encoding": "identity", "Origin": "http://shop.test"})
    assert plain.status_code == 200
    assert plain.content == embed_script.ASSETS[name].body and b"mountCheckout" in plain.content
    assert plain.headers["content-type"] == "text/javascript; charset=utf-8"
    assert plain.headers["cache-control"] == "public, max-age=3600"  # not no-store, not immutable
    assert plain.headers["access-control-allow-origin"] == "*"
    assert plain.headers["x-content-type-options"] == "nosniff"
    assert "content-encoding" not in plain.headers and plain.headers["vary"] == "Accept-Encoding"

    packed = await client.get(f"/embed/v1/{name}", headers={"Accept-Encoding": "br, gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.content == plain.content  # httpx decoded it
    assert packed.headers["etag"] != plain.headers["etag"]

    for answer in (plain, packed):
        again = await client.get(f"/embed/v1/{name}", headers={"If-None-Match": answer.headers["etag"],
                                                                "Accept-Encoding": answer.request.headers["accept-encoding"]})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == answer.headers["etag"]
    other = await client.get(f"/embed/v1/{name}", headers={"If-None-Match": '"stale"', "Accept-Encoding": "identity"})
    assert other.status_code == 200 and other.content == plain.content


async def test_the_script_build_defines_kassa_mount_checkout() -> None:
    script = embed_script.ASSETS["embed.js"].body.decode()
    assert script.startswith('"use strict";var Kassa=(')
    assert "export{" in embed_script.ASSETS["embed.mjs"].body.decode()
    assert len(embed_script.ASSETS["embed.js"].gzipped) <= 5 * 1024


@pytest.mark.parametrize("path", ["/embed/v1/other.js", "/embed/v2/embed.js", "/embed/v1/"])
async def test_other_paths_are_a_404_in_the_envelope(sqlite_backend: Backend, path: str) -> None:
    answer = await sqlite_backend.client.get(path)
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "route_not_found"


def test_the_embedded_router_sends_the_page_and_the_embed_to_the_checkout_service() -> None:
    class App:  # stands for a service's app: the router only asks it for its OpenAPI path
        openapi_config = None

    apps = {name: App() for name in SERVICES}
    router = PathRouter([(SERVICES[n].path_prefixes, apps[n]) for n in SERVICES], default=apps["cart"])  # type: ignore[misc]
    for path in ("/s/cs_123", "/static/checkout/app.0f3a.css", "/embed/v1/embed.js", "/api/v1/orders"):
        assert router.app_for(path) is apps["checkout"], path
    for path in ("/sx", "/static/other.css", "/embedded"):
        assert router.app_for(path) is None, path


async def test_no_authorization_is_needed_nor_used(sqlite_backend: Backend) -> None:
    answer = await sqlite_backend.client.get("/embed/v1/embed.js", headers={"Authorization": "Bearer sk_test_nope"})
    assert answer.status_code == 200
    assert isinstance(answer, httpx.Response)
