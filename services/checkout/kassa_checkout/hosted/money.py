"""Money for shoppers: an amount in minor units shown with its currency's exponent (our table, not
CLDR's digits: JPY 0, EUR 2, KWD 3) in the locale's pattern (CLDR via Babel)."""

from __future__ import annotations

import copy
import re
from decimal import Decimal
from functools import lru_cache

from babel import Locale
from babel.numbers import NumberPattern
from kassa_contract.money import CURRENCY_EXPONENTS

# CLDR separates a letter symbol from the digits ("KWD 1.000"); the pattern alone does not.
_LETTERS_THEN_DIGIT = re.compile(r"([A-Z]{2,3})(?=[\d])")
_DIGIT_THEN_LETTERS = re.compile(r"(?<=\d)([A-Z]{2,3})")


@lru_cache(maxsize=64)
def _pattern(locale: str, exponent: int) -> tuple[Locale, NumberPattern]:
    loc = Locale.parse(locale)
    pattern = copy.copy(loc.currency_formats["standard"])
    pattern.frac_prec = (exponent, exponent)
    return loc, pattern


@lru_cache(maxsize=4096)  # a page shows several amounts, the same prices on many pages: Babel takes ~40 us each
def format_money(amount: int, currency: str, locale: str = "en") -> str:
    exponent = CURRENCY_EXPONENTS.get(currency, 2)
    loc, pattern = _pattern(locale, exponent)
    text = pattern.apply(Decimal(amount).scaleb(-exponent), loc, currency=currency, currency_digits=False)
    text = _LETTERS_THEN_DIGIT.sub("\\1\u00a0", text)
    return _DIGIT_THEN_LETTERS.sub("\u00a0\\1", text)
