"""Parts of the hosted page rendered once and kept, so that a view renders only what is its own.

The templates stay the one source of the markup; these only remember what they rendered:

* `cached(*key)`, used as `{% call cached("name", locale) %}…{% endcall %}`: the block's output,
  rendered once per key. The key must name everything the block reads (the locale stands for its
  messages).
* `address_fields(locale, prefix, section, address, default_country)`: the `address` macro of
  `_field.html`, rendered once per locale, form, selected country and set of filled fields, with a
  marker where each value goes; a view puts in its own values, escaped as the macro escapes them.
  (Through the macro, the address forms were the larger part of the page's render time.)

* `page(key, values, render)`: a whole page, rendered once per key with a marker in place of each
  of its own values, which a view then puts in (escaped, unless they are Markup). A value the
  template tests (`{% if … %}`) gets a marker only when it is set, and whether it is set is part
  of the key; everything else the template reads must be named by the key.

`ENABLED = False` renders everything through the templates again (the tests compare both).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from jinja2 import Environment
from markupsafe import Markup, escape

from .i18n import Messages

ENABLED = True
LIMIT = 4096  # kept fragments (a key per locale × country × filled fields: far fewer in practice)
PAGE_LIMIT = 256  # kept pages, ~20 KB each (keys: locale × steps × current step × provider × what is set)
ADDRESS_FIELDS = ("first_name", "last_name", "address_line1", "address_line2", "postal_code", "city")
_MARK = re.compile("\x00([0-9]+)\x00")


class Fragments:
    def __init__(self, templates: Environment) -> None:
        self.templates = templates
        self._blocks: dict[tuple[Any, ...], Markup] = {}
        self._addresses: dict[tuple[Any, ...], list[str]] = {}
        self._pages: dict[tuple[Any, ...], list[str]] = {}

    def cached(self, *key: Any, caller: Any) -> Markup:
        if not ENABLED:
            return caller()
        html = self._blocks.get(key)
        if html is None:
            if len(self._blocks) >= LIMIT:
                self._blocks.clear()
            html = self._blocks[key] = caller()
        return html

    def _macros(self, locale: str) -> Any:
        return self.templates.get_template("_field.html").make_module({"t": Messages(locale), "locale": locale})

    def address_fields(self, locale: str, prefix: str, section: str, address: Any, default_country: str) -> Markup:
        values = [getattr(address, name) or "" for name in ADDRESS_FIELDS]
        if not ENABLED:
            return self._macros(locale).address(prefix, section, address, default_country)
        country = address.country_code or default_country
        key = (locale, prefix, section, country, tuple(bool(v) for v in values))
        parts = self._addresses.get(key)
        if parts is None:
            # The macro's own output with a marker for each filled value (the marker escapes to itself).
            shape = SimpleNamespace(country_code=country, **{
                name: f"\x00{i}\x00" if value else "" for i, (name, value) in enumerate(zip(ADDRESS_FIELDS, values))})
            parts = _MARK.split(str(self._macros(locale).address(prefix, section, shape, default_country)))
            if len(self._addresses) >= LIMIT:
                self._addresses.clear()
            self._addresses[key] = parts
        # parts: text, value index, text, value index, …, text
        return Markup("".join(part if i % 2 == 0 else escape(values[int(part)]) for i, part in enumerate(parts)))

    def page(self, key: tuple[Any, ...], values: dict[str, Any], render: Callable[[dict[str, Any]], str]) -> str:
        """`render(values)` for these values, from the page kept for `key` and whether each value is set."""
        if not ENABLED:
            return render(values)
        key = (*key, tuple(values), *(bool(v) for v in values.values()))
        parts = self._pages.get(key)
        if parts is None:
            markers = {name: (Markup if isinstance(value, Markup) else str)(f"\x00{i}\x00") if value else value
                       for i, (name, value) in enumerate(values.items())}
            if len(self._pages) >= PAGE_LIMIT:
                self._pages.clear()
            parts = self._pages[key] = _MARK.split(render(markers))
        ordered = list(values.values())
        return "".join(part if i % 2 == 0 else escape(ordered[int(part)]) for i, part in enumerate(parts))
