"""The browser test setup itself: Chromium runs, and the storefront and Kassa are two origins."""

from __future__ import annotations

from typing import Any

from tests.support.served import KassaWeb
from tests.support.storefront import Storefront


async def test_storefront_and_kassa_are_two_origins_in_the_browser(page: Any, kassa: KassaWeb,
                                                                   storefront: Storefront) -> None:
    url = storefront.add_page("/setup.html", "<!doctype html><title>Shop</title><h1>Shop</h1>")
    await page.goto(url)
    assert await page.evaluate("location.origin") == storefront.origin
    assert storefront.origin != kassa.origin and storefront.foreign_origin != storefront.origin
    # Kassa answers the same browser over real HTTP on its own origin.
    health = await page.goto(kassa.origin + "/healthz")
    assert health is not None and health.status == 200
    assert await page.evaluate("location.origin") == kassa.origin
    assert "ok" in await page.content()
