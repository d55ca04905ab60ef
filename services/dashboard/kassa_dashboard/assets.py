"""The single-page app's built files (sdk/js/packages/dashboard, built into `static/` by `./dev gen`),
served under content-hashed names (`dashboard.3f2a9c1b04de.js`) so that browsers and proxies may keep
them forever, each compressed once at import: a changed file is a new name."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

DIR = Path(__file__).parent / "static"
PREFIX = "/dashboard/assets"
TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}  # Litestar adds charset=utf-8 to text/*
IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Asset:
    name: str  # hashed
    body: bytes
    gzipped: bytes
    media_type: str


def _build() -> tuple[dict[str, str], dict[str, Asset]]:
    urls: dict[str, str] = {}
    by_name: dict[str, Asset] = {}
    for path in sorted(DIR.iterdir()) if DIR.is_dir() else []:
        if path.suffix not in TYPES:
            continue
        body = path.read_bytes()
        hashed = f"{path.stem}.{hashlib.sha256(body).hexdigest()[:12]}{path.suffix}"
        by_name[hashed] = Asset(hashed, body, gzip.compress(body, 9, mtime=0), TYPES[path.suffix])
        urls[path.name] = f"{PREFIX}/{hashed}"
    return urls, by_name


URLS, ASSETS = _build()  # logical name ("dashboard.js") -> URL; hashed name -> the file
