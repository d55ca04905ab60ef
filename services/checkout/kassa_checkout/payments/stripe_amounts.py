"""Kassa's minor units (ISO 4217 exponents) to Stripe's amounts and back.

Stripe's units mostly equal ISO's, with its own exceptions (its currency guide, "special cases"):
* zero-decimal at Stripe while ISO has two decimals (MGA): the ISO amount must be whole units;
* ISK is zero-decimal, but Stripe still takes it in hundredths whose last two digits are 0;
* three-decimal currencies (BHD, JOD, KWD, OMR, TND) must end in 0 for card payments.

An amount Stripe cannot take exactly is refused rather than rounded: the shopper would pay another
amount than the order says.
"""

from __future__ import annotations

from kassa_contract.errors import KassaError
from kassa_contract.money import CURRENCY_EXPONENTS

STRIPE_ZERO_DECIMAL = frozenset("BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split())
STRIPE_THREE_DECIMAL = frozenset("BHD JOD KWD OMR TND".split())


def stripe_exponent(currency: str) -> int:
    if currency == "ISK":
        return 2
    if currency in STRIPE_ZERO_DECIMAL:
        return 0
    if currency in STRIPE_THREE_DECIMAL:
        return 3
    return 2


def to_stripe(amount: int, currency: str) -> int:
    """The amount in Stripe's units, or 422 when Stripe cannot charge it exactly."""
    shift = stripe_exponent(currency) - CURRENCY_EXPONENTS[currency]
    if shift >= 0:
        value = amount * 10 ** shift
    else:
        value, rest = divmod(amount, 10 ** -shift)
        if rest:
            raise _inexact(amount, currency, f"whole {currency} only")
    if currency in STRIPE_THREE_DECIMAL and value % 10:
        raise _inexact(amount, currency, "its last digit must be 0")
    return value


def from_stripe(value: int, currency: str) -> int:
    """Stripe's amount in Kassa's minor units (exact for every amount `to_stripe` produces)."""
    shift = stripe_exponent(currency) - CURRENCY_EXPONENTS[currency]
    return value * 10 ** -shift if shift < 0 else value // 10 ** shift


def _inexact(amount: int, currency: str, rule: str) -> KassaError:
    return KassaError("payment_failed", f"Stripe cannot charge {amount} (minor units) in {currency}: {rule}",
                      status=422, details={"reason": "amount_not_supported_by_provider", "currency": currency,
                                           "retryable": False})
