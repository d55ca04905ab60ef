"""Browser tests: Playwright (Python) driving Debian's Chromium against a real Kassa server.

The fixtures (Chromium, pages, Kassa and a storefront on loopback, screenshots) live in
tests/support/browser.py, shared with the SDK and end-to-end tests that drive a browser too.
"""

from tests.support.browser import (  # noqa: F401 - the fixtures
    browser,
    kassa,
    page,
    page_375,
    screenshot,
    storefront,
    storefront_server,
    stripe_storefront,
    stripe_storefront_server,
)
