"""The hosted checkout page `/s/{sessionId}`: server-rendered steps, a small script, its own calls.

* `routes.py` — the page, its static assets and the page's own calls (HTTP only).
* `page.py` — what the page shows for a session: steps, state, branding, summary (no HTTP).
* `security.py` — embed tokens, the page's headers (CSP, framing, referrer).
* `i18n.py`, `money.py` — message catalogs per locale (`locales/*.json`), money by exponent and locale.
* `assets.py` — static files under content-hashed names.
"""
