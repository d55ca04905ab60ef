"""Message catalogs: one JSON file per locale in `locales/` (a translator adds `xx.json`, nothing
else). A key missing from a catalog falls back to English. The locale is `?locale=` when it names
a catalog, else the best of `Accept-Language`, else English."""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

import msgspec
from babel import Locale
from markupsafe import Markup

DIR = Path(__file__).parent / "locales"
DEFAULT = "en"


def _load() -> dict[str, dict[str, str]]:
    catalogs = {p.stem: msgspec.json.decode(p.read_bytes(), type=dict[str, str]) for p in sorted(DIR.glob("*.json"))}
    base = catalogs[DEFAULT]
    return {name: {**base, **messages} for name, messages in catalogs.items()}


CATALOGS = _load()


def negotiate(requested: str | None, accept_language: str | None) -> str:
    if requested:
        tag = requested.replace("_", "-").split("-")[0].lower()
        if tag in CATALOGS:
            return tag
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")[:20]):
        lang, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        tag = lang.strip().split("-")[0].lower()
        if tag in CATALOGS and q > 0:
            ranked.append((-q, i, tag))
    return min(ranked)[2] if ranked else DEFAULT


class Messages:
    def __init__(self, locale: str) -> None:
        self.locale = locale
        self.catalog = CATALOGS.get(locale, CATALOGS[DEFAULT])

    def __call__(self, key: str, **values: Any) -> str:
        text = self.catalog.get(key, key)
        return text.format(**values) if values else text


@lru_cache(maxsize=16)
def countries(locale: str) -> list[tuple[str, str]]:
    """(code, name) of every country the contract accepts, sorted by the name in this locale."""
    from kassa_contract.countries import COUNTRY_CODES

    names = Locale.parse(locale).territories
    return sorted(((c, names.get(c, c)) for c in COUNTRY_CODES), key=lambda item: _sort_key(item[1]))


def _sort_key(name: str) -> str:
    """Accents aside ("Österreich" among the O's), as a shopper scans a list."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", name) if not unicodedata.combining(ch)).casefold()


@lru_cache(maxsize=16)
def _country_options(locale: str) -> str:
    from markupsafe import escape

    return "".join(f'<option value="{code}">{escape(name)}</option>' for code, name in countries(locale))


def country_options(locale: str, selected: str | None) -> Markup:
    """The `<option>`s of a country select, built once per locale (about 250 of them: rendering them
    through the template on every page view was half the page's render time)."""
    html = _country_options(locale)
    if selected and len(selected) == 2 and selected.isalpha():
        html = html.replace(f'<option value="{selected}">', f'<option value="{selected}" selected>', 1)
    return Markup(html)
