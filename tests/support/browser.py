"""Chromium for the tests that drive a browser (the browser, SDK and end-to-end tests), and the
servers those pages talk to. A conftest that needs them imports the fixtures from here.

* `browser` — one Chromium per xdist worker (launching one costs about a second; a test gets a
  fresh context, so no cookies or storage leak between tests).
* `browser_page(browser, width=…)` — a page in a context of its own, closed afterwards; `page` is
  one at 1280 × 800, `page_375` one 375 px wide (a phone). `page.script_errors` lists the uncaught
  exceptions of the page and its frames, for tests to assert on.
* `kassa` — Kassa on `http://127.0.0.1:P`: the cart, checkout and webhook services behind the
  embedded path router, as `kassa serve` runs them, over real HTTP (uvicorn on this event loop),
  with its in-process jobs running, on a PostgreSQL database of its own (the jobs relay every
  application's outbox, so they must not share a database with tests that run jobs themselves).
* `storefront` — a merchant's shop on `http://localhost:Q`, a second origin (tests/support/storefront.py);
  `stripe_storefront` is the same for `stripe_kassa` (Kassa with Stripe at this worker's localstripe).
* `screenshot(page, name)` — saves `.artifacts/browser/<name>.png` (kept out of git).

Chromium comes from Debian's `chromium` package (./dev test installs it) or `KASSA_CHROMIUM`;
without it these tests skip, except under CI=true, where that fails.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import _unavailable, worker_id
from tests.support.served import KassaWeb, LoopbackServer, listening_socket, serve_kassa
from tests.support.storefront import Storefront

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".artifacts" / "browser"
CHROMIUM = os.environ.get("KASSA_CHROMIUM", "/usr/bin/chromium")
# The flags this machine needs (see the environment notes): no sandbox as root, and none of
# Chromium's background connections, which a closed network refuses by the dozen.
CHROMIUM_ARGS = [
    "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions",
    "--disable-dev-shm-usage", "--font-render-hinting=none",
    *(["--no-sandbox"] if os.geteuid() == 0 else []),
]
DESKTOP = 1280
PHONE = 375


# ---------------------------------------------------------------- the browser


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists():
        _unavailable("Chromium", FileNotFoundError(f"{CHROMIUM} (apt-get install chromium, or set KASSA_CHROMIUM)"))
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        await launched.close()


@asynccontextmanager
async def browser_page(browser: Any, width: int = DESKTOP, *, height: int = 800, locale: str = "en-US",
                       timeout_ms: int = 10_000) -> AsyncIterator[Any]:
    """A page in a new context (`width` × `height`), closed afterwards; `page.script_errors`: the
    uncaught exceptions of the page and its frames."""
    context = await browser.new_context(viewport={"width": width, "height": height}, locale=locale)
    context.set_default_timeout(timeout_ms)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.script_errors = errors
    try:
        yield page
    finally:
        await context.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    async with browser_page(browser, DESKTOP) as p:
        yield p


@pytest.fixture
async def page_375(browser: Any) -> AsyncIterator[Any]:
    async with browser_page(browser, PHONE, height=740) as p:
        yield p


@pytest.fixture
def screenshot() -> Callable[..., Awaitable[Path]]:
    async def take(page: Any, name: str, **kw: Any) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        await page.screenshot(path=str(path), **kw)
        return path

    return take


# ---------------------------------------------------------------- servers on loopback (tests/support/served.py)


@pytest.fixture(scope="session")
async def kassa(testrun_uid: str) -> AsyncIterator[KassaWeb]:
    async with serve_kassa(f"kassa_browser_{testrun_uid[:8]}_{worker_id()}") as web:
        yield web


@asynccontextmanager
async def serve_storefront(kassa: KassaWeb) -> AsyncIterator[Storefront]:
    """A storefront (and its foreign origin) on loopback, its backend talking to `kassa`."""
    shop_sock, foreign_sock = listening_socket(), listening_socket()
    shop = Storefront(kassa_origin=kassa.origin, origin=f"http://localhost:{shop_sock.getsockname()[1]}",
                      foreign_origin=f"http://localhost:{foreign_sock.getsockname()[1]}")
    server = LoopbackServer(shop, [shop_sock, foreign_sock])
    await server.start()
    async with httpx.AsyncClient(base_url=kassa.origin, timeout=10) as client:
        shop.client = client
        try:
            yield shop
        finally:
            await server.stop()


@pytest.fixture(scope="session")
async def storefront_server(kassa: KassaWeb) -> AsyncIterator[Storefront]:
    async with serve_storefront(kassa) as shop:
        yield shop


@pytest.fixture
def storefront(storefront_server: Storefront) -> Storefront:
    """The worker's storefront; pages and sessions registered by earlier tests stay harmlessly."""
    storefront_server.token_requests.clear()
    return storefront_server


@pytest.fixture(scope="session")
async def stripe_storefront_server(stripe_kassa: KassaWeb) -> AsyncIterator[Storefront]:
    async with serve_storefront(stripe_kassa) as shop:
        yield shop


@pytest.fixture
def stripe_storefront(stripe_storefront_server: Storefront) -> Storefront:
    """A storefront of the Kassa whose Stripe is this worker's localstripe (`stripe_kassa`)."""
    stripe_storefront_server.token_requests.clear()
    return stripe_storefront_server
