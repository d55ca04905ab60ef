"""Why a campaign or a code did not apply: stable reason codes and messages a shopper can read.

The reason code is for programs (stable, snake_case); the message is for people. A code the
shopper typed is "this code"; an automatic offer is called by its name.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import msgspec
from kassa_contract.money import format_amount


class Reason(StrEnum):
    # the code itself
    CODE_INACTIVE = "code_inactive"
    ASSIGNED_TO_OTHER_CUSTOMER = "assigned_to_other_customer"
    BOUND_TO_OTHER_CART = "bound_to_other_cart"
    ALREADY_APPLIED = "already_applied"
    GIFT_CARD_EMPTY = "gift_card_empty"
    # time
    NOT_STARTED = "not_started"
    EXPIRED = "expired"
    # limits
    USAGE_LIMIT_REACHED = "usage_limit_reached"
    CUSTOMER_LIMIT_REACHED = "customer_limit_reached"
    BUDGET_EXHAUSTED = "budget_exhausted"
    # who
    CUSTOMER_NOT_ELIGIBLE = "customer_not_eligible"
    NOT_FIRST_ORDER = "not_first_order"
    # what is in the cart
    CURRENCY_MISMATCH = "currency_mismatch"
    NO_MATCHING_ITEMS = "no_matching_items"
    MIN_QUANTITY_NOT_MET = "min_quantity_not_met"
    BUNDLE_INCOMPLETE = "bundle_incomplete"
    MINIMUM_NOT_MET = "minimum_not_met"
    MAXIMUM_EXCEEDED = "maximum_exceeded"
    NOTHING_TO_DISCOUNT = "nothing_to_discount"
    # stacking
    EXCLUDED_BY_EXCLUSIVE = "excluded_by_exclusive"
    STOPPED_BY_EARLIER = "stopped_by_earlier"
    PERCENTAGE_ALREADY_APPLIED = "percentage_already_applied"


class Miss(msgspec.Struct, frozen=True):
    """A reason plus what the message needs (amounts in minor units, counts, other names).
    A Struct: built for every rejected candidate, and cheaper to build than a frozen dataclass."""

    reason: Reason
    params: dict[str, Any] = {}


def _s(n: int) -> str:
    return "" if n == 1 else "s"


# (for a code, for an automatic offer); {offer} is the quoted campaign name.
_TEMPLATES: dict[Reason, tuple[str, str]] = {
    Reason.CODE_INACTIVE: ("This code is not active", "{offer} is not active"),
    Reason.ASSIGNED_TO_OTHER_CUSTOMER: ("This code belongs to another customer", "{offer} belongs to another customer"),
    Reason.BOUND_TO_OTHER_CART: ("This code was made for another cart and works on that cart only",
                                 "{offer} was made for another cart and works on that cart only"),
    Reason.ALREADY_APPLIED: ("This code is already applied", "{offer} is already applied"),
    Reason.GIFT_CARD_EMPTY: ("This gift card has no balance left", "This gift card has no balance left"),
    Reason.NOT_STARTED: ("This code is not valid yet", "{offer} has not started yet"),
    Reason.EXPIRED: ("This code has expired", "{offer} has ended"),
    Reason.USAGE_LIMIT_REACHED: ("This code has reached its usage limit", "{offer} has reached its usage limit"),
    Reason.CUSTOMER_LIMIT_REACHED: ("You have already used this code as many times as allowed",
                                    "You have already used {offer} as many times as allowed"),
    Reason.BUDGET_EXHAUSTED: ("This code is no longer available: the offer has run out",
                              "{offer} is no longer available: the offer has run out"),
    Reason.CUSTOMER_NOT_ELIGIBLE: ("This code is not available for your account",
                                   "{offer} is not available for your account"),
    Reason.NOT_FIRST_ORDER: ("This code is only valid on your first order",
                             "{offer} is only valid on your first order"),
    Reason.CURRENCY_MISMATCH: ("This code can't be used when paying in {currency}",
                               "{offer} can't be used when paying in {currency}"),
    Reason.NO_MATCHING_ITEMS: ("None of the items in your cart qualify for this code",
                               "None of the items in your cart qualify for {offer}"),
    Reason.MIN_QUANTITY_NOT_MET: ("Add {count} more qualifying item{s} to use this code",
                                  "Add {count} more qualifying item{s} to get {offer}"),
    Reason.BUNDLE_INCOMPLETE: ("Add {count} more item{s} to complete the bundle for this code",
                               "Add {count} more item{s} to complete {offer}"),
    Reason.MINIMUM_NOT_MET: ("Spend {short} more to use this code", "Spend {short} more to get {offer}"),
    Reason.MAXIMUM_EXCEEDED: ("This code is only valid on orders up to {maximum}",
                              "{offer} is only for orders up to {maximum}"),
    Reason.NOTHING_TO_DISCOUNT: ("There is nothing left for this code to discount",
                                 "There is nothing left for {offer} to discount"),
    Reason.EXCLUDED_BY_EXCLUSIVE: ("This code can't be combined with {other}",
                                   "{offer} can't be combined with {other}"),
    Reason.STOPPED_BY_EARLIER: ("This code can't be combined with {other}", "{offer} can't be combined with {other}"),
    Reason.PERCENTAGE_ALREADY_APPLIED: ("Only one percentage discount can apply to an order, and {other} already does",
                                        "Only one percentage discount can apply to an order, and {other} already does"),
}

# More precise wording for some situations, chosen by a `variant` param.
_VARIANTS: dict[tuple[Reason, str], tuple[str, str]] = {
    (Reason.USAGE_LIMIT_REACHED, "redeemed"): ("This code has already been used", "{offer} has already been used"),
    (Reason.ASSIGNED_TO_OTHER_CUSTOMER, "anonymous"): ("Sign in to use this code", "Sign in to get {offer}"),
    (Reason.NOTHING_TO_DISCOUNT, "shipping"): ("Shipping is already free", "Shipping is already free"),
    (Reason.EXCLUDED_BY_EXCLUSIVE, "self"): ("This code can't be combined with {other}, which already applies",
                                             "{offer} can't be combined with {other}, which already applies"),
}


def message(miss: Miss, *, is_code: bool, name: str, currency: str) -> str:
    params = miss.params
    code_text, offer_text = _VARIANTS.get((miss.reason, params.get("variant", "")), _TEMPLATES[miss.reason])
    values: dict[str, Any] = {"offer": f'"{name}"', "currency": currency}
    if "short" in params:
        values["short"] = format_amount(params["short"], currency)
    if "maximum" in params:
        values["maximum"] = format_amount(params["maximum"], currency)
    if "count" in params:
        values["count"] = params["count"]
        values["s"] = _s(params["count"])
    if "other" in params:
        values["other"] = f'"{params["other"]}"'
    return (code_text if is_code else offer_text).format(**values)
