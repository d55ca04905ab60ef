"""The built-in `test` provider's card numbers (its table: kassa_checkout/payments/test_connector.py),
each under one name, and the `paymentMethod` bodies the API tests send with them."""

from __future__ import annotations

from typing import Any

GOOD = "4242424242424242"
DECLINED = "4000000000000002"
NO_FUNDS = "4000000000009995"
PROCESSING_ERROR = "4000000000000119"
CHALLENGE = "4000002760003184"  # asks for a second step (3-D Secure in the test provider)


def spaced(number: str) -> str:
    """As a shopper types it on the page: in groups of four."""
    return " ".join(number[i:i + 4] for i in range(0, len(number), 4))


def card_payment(number: str, *, with_expiry: bool = False) -> dict[str, Any]:
    card: dict[str, Any] = {"number": number}
    if with_expiry:
        card.update(expMonth=12, expYear=2030, cvc="123")
    return {"type": "card", "card": card}


OK_CARD = card_payment(GOOD, with_expiry=True)
DECLINE_CARD = card_payment(DECLINED)
NO_FUNDS_CARD = card_payment(NO_FUNDS)
ERROR_CARD = card_payment(PROCESSING_ERROR)
THREE_DS_CARD = card_payment(CHALLENGE)
