"""Kassa's minor units to Stripe's and back: exact for what Stripe can charge, refused otherwise."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kassa_checkout.payments.stripe_amounts import STRIPE_THREE_DECIMAL, from_stripe, to_stripe
from kassa_contract.errors import KassaError
from kassa_contract.money import CURRENCY_EXPONENTS

CURRENCIES = sorted(CURRENCY_EXPONENTS)


@given(st.sampled_from(CURRENCIES), st.integers(min_value=0, max_value=10**12))
def test_what_stripe_takes_comes_back_unchanged(currency: str, amount: int) -> None:
    try:
        value = to_stripe(amount, currency)
    except KassaError as exc:
        assert exc.status == 422 and exc.details["currency"] == currency
        return
    assert from_stripe(value, currency) == amount
    if currency in STRIPE_THREE_DECIMAL:
        assert value % 10 == 0


@pytest.mark.parametrize(("amount", "currency", "stripe"), [
    (1999, "EUR", 1999), (1500, "JPY", 1500), (1500, "KRW", 1500), (5, "ISK", 500), (12340, "KWD", 12340),
    (1200, "MGA", 12), (700, "UGX", 700), (12345, "HUF", 12345),
])
def test_stripes_special_cases(amount: int, currency: str, stripe: int) -> None:
    assert to_stripe(amount, currency) == stripe


@pytest.mark.parametrize(("amount", "currency"), [(12345, "KWD"), (1250, "MGA")])
def test_amounts_stripe_cannot_charge_exactly_are_refused_not_rounded(amount: int, currency: str) -> None:
    with pytest.raises(KassaError) as refused:
        to_stripe(amount, currency)
    assert refused.value.code == "payment_failed" and refused.value.status == 422
