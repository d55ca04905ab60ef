"""Kassa's merchant dashboard: a small app that serves the dashboard's single-page app.

The app itself (sdk/js/packages/dashboard) is a client of Kassa's public API with the team session's
cookie; this package only serves its built files (content-hashed, gzip) and the page that loads
them, under a strict Content-Security-Policy. docs/architecture.md says why.
"""
