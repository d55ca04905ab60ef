"""The page's static files (script, styles, icon), served under content-hashed names (`checkout.3f2a9c1b04de.js`) so that
browsers and proxies may keep them forever: a changed file is a new name."""

from __future__ import annotations

from pathlib import Path

from kassa_platform.static_assets import IMMUTABLE, Asset, hashed_assets

DIR = Path(__file__).parent / "static"
PREFIX = "/static/checkout"
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}

__all__ = ["ASSETS", "DIR", "IMMUTABLE", "PREFIX", "URLS", "Asset"]

URLS, ASSETS = hashed_assets(DIR, PREFIX, TYPES)  # logical name ("checkout.js") -> URL; hashed name -> the file
