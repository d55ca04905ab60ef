"""Eligibility: whether a campaign may apply to this customer and cart, as reason codes.

Checks come in two kinds, run at different times by the engine:

* `standing_miss`: what holds whatever else is in the cart (code status, dates, currency,
  customer, usage limits, budget). Checked first, so a shopper hears "expired" rather than
  "can't be combined" about a code that would not have worked anyway.
* `basket_miss`: what depends on the cart as it is when the campaign's turn comes (matching
  items, quantities, basket value after earlier discounts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from .matching import CartView
from .model import (
    AppliedCode,
    Bundle,
    Campaign,
    CartLine,
    Customer,
    FixedOff,
    FixedPerUnit,
    GiftCard,
    PercentOff,
    ShippingOff,
)
from .reasons import Miss, Reason

USABLE_CODE_STATUSES = frozenset({"created", "distributed", "assigned", "reserved", "active"})


# ---------------------------------------------------------------------------------- items
# Which lines a campaign picks is `matching.CartView.eligible`.


def targets_items(campaign: Campaign) -> bool:
    """Whether the campaign is about some items only (else it is basket-wide)."""
    return campaign.items is not None or isinstance(campaign.reward, Bundle)


# ---------------------------------------------------------------------------------- currency


def _reward_amounts(campaign: Campaign) -> list[Mapping[str, int]]:
    r = campaign.reward
    if isinstance(r, PercentOff):
        return [r.max_discount] if r.max_discount is not None else []
    if isinstance(r, (FixedOff, FixedPerUnit)):
        return [r.amounts]
    if isinstance(r, Bundle):
        return [r.prices]
    if isinstance(r, ShippingOff):
        return [r.amounts] if r.amounts is not None else []
    return []


def campaign_currencies(campaign: Campaign) -> frozenset[str] | None:
    """The currencies a campaign can work in (None: any). Every amount it needs must exist in
    the cart's currency: a fixed amount is never converted."""
    allowed: frozenset[str] | None = frozenset({campaign.currency}) if campaign.currency else None
    amounts = _reward_amounts(campaign)
    rules = campaign.rules
    amounts += [a for a in (rules.min_subtotal, rules.max_subtotal) if a is not None]
    for a in amounts:
        allowed = frozenset(a) if allowed is None else allowed & frozenset(a)
    return allowed


def currency_ok(campaign: Campaign, currency: str) -> bool:
    """`currency in campaign_currencies(campaign)`, without building sets (hot path)."""
    if campaign.currency and campaign.currency != currency:
        return False
    rules = campaign.rules
    if rules.min_subtotal is not None and currency not in rules.min_subtotal:
        return False
    if rules.max_subtotal is not None and currency not in rules.max_subtotal:
        return False
    r = campaign.reward
    if isinstance(r, (FixedOff, FixedPerUnit)):
        return currency in r.amounts
    if isinstance(r, PercentOff):
        return r.max_discount is None or currency in r.max_discount
    if isinstance(r, Bundle):
        return currency in r.prices
    if isinstance(r, ShippingOff):
        return r.amounts is None or currency in r.amounts
    return True


# ---------------------------------------------------------------------------------- relevance


def is_relevant(campaign: Campaign, view: CartView) -> bool:
    """Whether an automatic campaign concerns this cart at all. Those that do not (a code-only
    campaign, an inactive one, another currency, none of its items in the cart) are skipped
    silently: nobody buying socks needs to hear that the shoe sale did not apply. The index
    answers exactly this question, faster."""
    if campaign.trigger != "automatic" or not campaign.active or isinstance(campaign.reward, GiftCard):
        return False
    if not currency_ok(campaign, view.cart.currency):
        return False
    return not targets_items(campaign) or bool(view.eligible(campaign))


# ---------------------------------------------------------------------------------- standing checks


def remaining_budget(campaign: Campaign) -> int | None:
    budget, period = campaign.remaining_budget, campaign.remaining_period_budget
    if period is None:
        return budget
    return period if budget is None else min(budget, period)


def _customer_eligible(campaign: Campaign, customer: Customer) -> bool:
    rules = campaign.rules
    # Most campaigns restrict nobody, or only by segment: the emptiness tests come first, and
    # the email is lowered only when a rule needs it.
    if rules.exclude_customer_ids and customer.id is not None and customer.id in rules.exclude_customer_ids:
        return False
    if rules.exclude_emails or rules.emails:
        email = customer.email.lower() if customer.email else None
        if email and rules.exclude_emails and email in {e.lower() for e in rules.exclude_emails}:
            return False
    else:
        email = None
    if rules.exclude_segments and not rules.exclude_segments.isdisjoint(customer.segments):
        return False
    if rules.customer_ids or rules.emails:  # an identity list: the customer must be on it
        by_id = customer.id is not None and customer.id in rules.customer_ids
        by_email = bool(email) and email in {e.lower() for e in rules.emails}
        if not (by_id or by_email):
            return False
    # Segments fail closed: a customer without segments is in none of them.
    return not rules.segments or not rules.segments.isdisjoint(customer.segments)


def _assigned_to_customer(code: AppliedCode, customer: Customer) -> bool:
    owner = code.assigned_to
    if owner is None:
        return True
    return owner == customer.id or (customer.email is not None and owner.lower() == customer.email.lower())


def date_miss(campaign: Campaign, code: AppliedCode | None, now: datetime) -> Miss | None:
    if campaign.starts_at is not None and now < campaign.starts_at:
        return Miss(Reason.NOT_STARTED)
    if campaign.ends_at is not None:
        # A code stays redeemable for the grace period: vouchers handed out on the last day work.
        if code is not None and campaign.redemption_grace_hours:
            expired = now >= campaign.ends_at + timedelta(hours=campaign.redemption_grace_hours)
        else:
            expired = now >= campaign.ends_at
        if expired:
            return Miss(Reason.EXPIRED)
    return None


def only_dates_stand(campaign: Campaign) -> bool:
    """Whether, for an automatic campaign, `standing_miss` comes down to `date_miss` whoever the
    customer: no rule on who may buy, no limit reached, budget left. Worked out once per
    campaign (`engine.Candidate`), so most candidates skip the other checks."""
    rules = campaign.rules
    budget = remaining_budget(campaign)
    return not (rules.customer_ids or rules.exclude_customer_ids or rules.emails or rules.exclude_emails
                or rules.segments or rules.exclude_segments or rules.first_order_only
                or rules.per_customer_limit is not None
                or (campaign.remaining_uses is not None and campaign.remaining_uses <= 0)
                or (budget is not None and budget <= 0) or isinstance(campaign.reward, GiftCard))


_UNSET: Any = object()  # budget not given: `standing_miss` works it out


def standing_miss(campaign: Campaign, code: AppliedCode | None, customer: Customer, now: datetime,
                  currency: str, budget: int | None = _UNSET) -> Miss | None:
    """The first reason, in a fixed order, why this campaign (or code) cannot apply to any cart
    of this customer right now; None if it can. `budget`: `remaining_budget(campaign)`, when
    the caller has it already."""
    if code is not None:
        if code.status == "deactivated" or not campaign.active:
            return Miss(Reason.CODE_INACTIVE)
        if code.status == "expired":
            return Miss(Reason.EXPIRED)
        if code.status == "redeemed":
            return Miss(Reason.USAGE_LIMIT_REACHED, {"variant": "redeemed"})
        if code.status not in USABLE_CODE_STATUSES:
            return Miss(Reason.CODE_INACTIVE)
    # (An inactive automatic campaign is not relevant, so it never gets here.)

    miss = date_miss(campaign, code, now)
    if miss is not None:
        return miss

    if code is not None:
        # An automatic campaign got here only if relevant, which includes the currency.
        if not currency_ok(campaign, currency):
            return Miss(Reason.CURRENCY_MISMATCH)
        if not _assigned_to_customer(code, customer):
            anonymous = customer.id is None and customer.email is None
            return Miss(Reason.ASSIGNED_TO_OTHER_CUSTOMER, {"variant": "anonymous"} if anonymous else {})
    rules = campaign.rules
    if not _customer_eligible(campaign, customer):
        return Miss(Reason.CUSTOMER_NOT_ELIGIBLE)
    if rules.first_order_only and not customer.is_first_order:
        return Miss(Reason.NOT_FIRST_ORDER)

    if code is not None and code.remaining_uses is not None and code.remaining_uses <= 0:
        return Miss(Reason.USAGE_LIMIT_REACHED)
    if campaign.remaining_uses is not None and campaign.remaining_uses <= 0:
        return Miss(Reason.USAGE_LIMIT_REACHED)
    limit = rules.per_customer_limit
    if limit is not None and customer.usage.get(campaign.id, 0) >= limit:
        return Miss(Reason.CUSTOMER_LIMIT_REACHED)
    if budget is _UNSET:
        budget = remaining_budget(campaign)
    if budget is not None and budget <= 0:
        return Miss(Reason.BUDGET_EXHAUSTED)
    if isinstance(campaign.reward, GiftCard) and (code is None or not code.balance or code.balance <= 0):
        return Miss(Reason.GIFT_CARD_EMPTY)
    return None


# ---------------------------------------------------------------------------------- basket checks


def basket_miss(campaign: Campaign, eligible: Sequence[CartLine], remaining: Mapping[str, int],
                currency: str) -> Miss | None:
    """Conditions on the cart as it is when this campaign's turn comes."""
    if not eligible and targets_items(campaign):
        return Miss(Reason.NO_MATCHING_ITEMS)
    rules = campaign.rules
    if rules.min_quantity is not None:
        quantity = sum(ln.quantity for ln in eligible)
        if quantity < rules.min_quantity:
            return Miss(Reason.MIN_QUANTITY_NOT_MET, {"count": rules.min_quantity - quantity})
    if rules.min_subtotal is not None or rules.max_subtotal is not None:
        # Every line (ids are unique): what is left of the basket, without a lookup per line.
        if len(eligible) == len(remaining):
            value = sum(remaining.values())
        else:
            value = sum(remaining[ln.id] for ln in eligible)
        if rules.min_subtotal is not None and value < rules.min_subtotal[currency]:
            return Miss(Reason.MINIMUM_NOT_MET, {"short": rules.min_subtotal[currency] - value})
        if rules.max_subtotal is not None and value > rules.max_subtotal[currency]:
            return Miss(Reason.MAXIMUM_EXCEEDED, {"maximum": rules.max_subtotal[currency]})
    return None
