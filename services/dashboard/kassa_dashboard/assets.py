"""The single-page app's built files (sdk/js/packages/dashboard, built into `static/` by `./dev gen`),
served under content-hashed names (`dashboard.3f2a9c1b04de.js`) so that browsers and proxies may keep
them forever, each compressed once at import: a changed file is a new name."""

from __future__ import annotations

from pathlib import Path

from kassa_platform.static_assets import IMMUTABLE, Asset, hashed_assets

DIR = Path(__file__).parent / "static"
PREFIX = "/dashboard/assets"
TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}  # Litestar adds charset=utf-8 to text/*

__all__ = ["ASSETS", "DIR", "IMMUTABLE", "PREFIX", "URLS", "Asset"]

URLS, ASSETS = hashed_assets(DIR, PREFIX, TYPES)  # logical name ("dashboard.js") -> URL; hashed name -> the file
