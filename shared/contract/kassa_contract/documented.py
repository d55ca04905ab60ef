"""What the OpenAPI documents say beyond the types' own constraints, so that a client (or a
fuzzer) knows the values the API accepts without sending the ones it refuses.

* The constrained scalars are documented as the values they may take: a currency the API prices
  in, a country it knows (by the types' descriptions, which the generated schema carries).
* Ids are documented by their shape: a prefix naming the kind, then 26 symbols of Crockford's
  base32 (`cart_06h2bxs585xy09jqpt74cwey1g`), by the wire name of the field or path parameter.
  An id of another shape names nothing: the API answers it as not found.
"""

from __future__ import annotations

from .common import COUNTRY_DESCRIPTION, CURRENCY_DESCRIPTION
from .countries import COUNTRY_CODES
from .money import CURRENCY_EXPONENTS

ENUMS_BY_DESCRIPTION: dict[str, list[str]] = {
    CURRENCY_DESCRIPTION: sorted(CURRENCY_EXPONENTS),
    COUNTRY_DESCRIPTION: sorted(COUNTRY_CODES),
}

# Wire name of an id field or path parameter -> the prefix of the ids it holds.
ID_PREFIXES: dict[str, str] = {
    "cartId": "cart", "lineId": "li", "productId": "prod", "variantId": "var", "methodId": "shm", "rateId": "txr",
    "campaignId": "camp", "sessionId": "cs", "orderId": "ord", "endpointId": "we", "deliveryId": "whd",
    "eventId": "evt",
}


def id_pattern(prefix: str) -> str:
    return f"^{prefix}_[0-9a-hjkmnp-tv-z]{{26}}$"
