"""Static files served under content-hashed names (`checkout.3f2a9c1b04de.js`), so that browsers and
proxies may keep them forever (a changed file is a new name), each gzipped once at import: the hosted
page's and the dashboard's."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Asset:
    name: str  # hashed
    body: bytes
    gzipped: bytes
    media_type: str


def hashed_assets(directory: Path, prefix: str, types: Mapping[str, str]) -> tuple[dict[str, str], dict[str, Asset]]:
    """The files of `directory` whose suffix `types` names: logical name ("checkout.js") -> URL under
    `prefix`, and hashed name -> the file."""
    urls: dict[str, str] = {}
    by_name: dict[str, Asset] = {}
    for path in sorted(directory.iterdir()) if directory.is_dir() else []:
        if path.suffix not in types:
            continue
        body = path.read_bytes()
        hashed = f"{path.stem}.{hashlib.sha256(body).hexdigest()[:12]}{path.suffix}"
        by_name[hashed] = Asset(hashed, body, gzip.compress(body, 9, mtime=0), types[path.suffix])
        urls[path.name] = f"{prefix}/{hashed}"
    return urls, by_name
