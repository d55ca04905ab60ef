"""The payment-method catalog: what a checkout may offer, filtered by a session's `allowedMethods`."""

from __future__ import annotations

from kassa_contract.checkout import PaymentMethod

CATALOG: tuple[PaymentMethod, ...] = (
    PaymentMethod(id="card", type="card", name="Card", provider="test"),
    PaymentMethod(id="apple_pay", type="wallet", name="Apple Pay", provider="test"),
    PaymentMethod(id="google_pay", type="wallet", name="Google Pay", provider="test"),
    PaymentMethod(id="paypal", type="wallet", name="PayPal", provider="test"),
)
METHOD_IDS = frozenset(m.id for m in CATALOG)


def method_catalog(allowed: list[str] | None) -> list[PaymentMethod]:
    return [m for m in CATALOG if allowed is None or m.id in allowed]


def card_brand(number: str) -> str:
    """The card network, from the number's leading digits."""
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or number[:2] == "22":
        return "mastercard"
    if number[:2] in {"34", "37"}:
        return "amex"
    return "unknown"
