"""`evaluate`: price a cart snapshot against campaigns and codes. Pure: same input, same output.

Order. Candidates (relevant automatic campaigns and applied codes) are evaluated one at a time
by priority (higher first), then `created_at` (older first), then campaign id, then code. Each
discount is computed on what earlier discounts left of the lines and of shipping. Gift cards
come last, after every discount, whatever their priority.

Percentage basket vouchers (a `PercentOff` without item matcher), seed 1.6.6: within one
priority they take the slots the ordering gave them, re-sorted by the discount they would
deliver on the basket as it stands when that priority is reached (cap included, larger first),
then created_at, then id. With `allow_multiple_percentage_basket` each applies in turn on what
is left ("threshold allocation"), each within its own cap; without it only the first that
applies does, and later ones are rejected with `percentage_already_applied`.

Stacking, checked after a candidate's own standing checks (code, dates, customer, limits):
* `stackable`: combines with anything.
* `exclusive`: applies only if nothing has applied before it (else `excluded_by_exclusive`),
  and once it applied every later candidate is rejected with `excluded_by_exclusive`. One that
  does not qualify blocks nothing.
* `stop`: combines with what came before; once it applied, every later candidate is rejected
  with `stopped_by_earlier`. One that does not qualify blocks nothing.
Gift cards are payment, not promotion: they are never blocked and never block.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from .allocation import unit_splits
from .matching import CartView
from .model import (
    AppliedCode,
    AppliedDiscount,
    Campaign,
    Cart,
    Customer,
    EngineOptions,
    Evaluation,
    GiftCard,
    GiftCardSpend,
    LineAllocation,
    PercentOff,
    Rejection,
)
from .reasons import Miss, Reason
from .rewards import Grant, clamp_to_budget, compute, percent_off_delivered
from .rules import basket_miss, date_miss, is_relevant, only_dates_stand, remaining_budget, standing_miss

# Evaluation order: -priority, created_at, campaign id, code ("" for an automatic campaign).
_Key = tuple[int, datetime, str, str]


class Candidate:
    """A campaign (or a code) as the engine considers it, with what it needs to know about it
    that does not depend on the cart, worked out once: `CampaignIndex` keeps one per automatic
    campaign, so pricing a cart builds none of them."""

    __slots__ = ("campaign", "code", "key", "priority", "basket_percentage", "reward_type", "budget", "dates_only")

    def __init__(self, campaign: Campaign, code: AppliedCode | None = None) -> None:
        self.campaign = campaign
        self.code = code
        self.key: _Key = (-campaign.priority, campaign.created_at, campaign.id, code.code if code else "")
        self.priority = campaign.priority
        self.basket_percentage = isinstance(campaign.reward, PercentOff) and campaign.items is None
        self.reward_type = str(type(campaign.reward).__struct_config__.tag)  # every reward's tag is a string
        self.budget = remaining_budget(campaign)
        self.dates_only = code is None and only_dates_stand(campaign)  # see rules.only_dates_stand


def _order_key(candidate: Candidate) -> _Key:
    return candidate.key


class _Run:
    """The state of one evaluation: what is left of each line and of shipping, and what happened."""

    def __init__(self, view: CartView, customer: Customer, now: datetime, options: EngineOptions) -> None:
        cart = view.cart
        self.cart = cart
        self.currency = cart.currency
        self.view = view
        self.customer = customer
        self.now = now
        self.options = options
        self.remaining = {ln.id: ln.unit_price * ln.quantity for ln in cart.lines}
        self.shipping_left = cart.shipping_amount
        self.applied: list[AppliedDiscount] = []
        self.rejected: list[Rejection] = []
        self.applied_campaigns: set[str] = set()
        self.blocker: tuple[Reason, str] | None = None  # (reason for later ones, name of the blocker)
        self.percentage_applied: str | None = None

    def reject(self, candidate: Candidate, miss: Miss) -> None:
        c = candidate.campaign
        code = candidate.code.code if candidate.code else None
        self.rejected.append(Rejection(campaign_id=c.id, code=code, name=c.name, reason=miss.reason._value_,
                                       params=miss.params, currency=self.currency))

    def stacking_miss(self, candidate: Candidate) -> Miss | None:
        campaign = candidate.campaign
        if campaign.id in self.applied_campaigns:
            return Miss(Reason.ALREADY_APPLIED)
        if self.blocker is not None:
            reason, other = self.blocker
            return Miss(reason, {"other": other})
        if campaign.stacking == "exclusive" and self.applied:
            return Miss(Reason.EXCLUDED_BY_EXCLUSIVE, {"variant": "self", "other": self.applied[0].name})
        if (self.percentage_applied is not None and candidate.basket_percentage
                and not self.options.allow_multiple_percentage_basket):
            return Miss(Reason.PERCENTAGE_ALREADY_APPLIED, {"other": self.percentage_applied})
        return None

    def consider(self, candidate: Candidate, *, promotion: bool = True) -> None:
        campaign, code, currency = candidate.campaign, candidate.code, self.currency
        if candidate.dates_only:
            miss = date_miss(campaign, None, self.now)
        elif code is not None and code.bound_cart_id is not None and code.bound_cart_id != self.cart.id:
            miss = Miss(Reason.BOUND_TO_OTHER_CART)
        else:
            miss = standing_miss(campaign, code, self.customer, self.now, currency, candidate.budget)
        if miss is None and promotion:
            miss = self.stacking_miss(candidate)
        if miss is not None:
            self.reject(candidate, miss)
            return
        eligible = self.view.eligible(campaign)
        outcome: Grant | Miss | None = basket_miss(campaign, eligible, self.remaining, currency)
        if outcome is None:
            outcome = compute(campaign, code, self.view, self.remaining, self.shipping_left, currency, eligible)
        if isinstance(outcome, Miss):
            self.reject(candidate, outcome)
            return
        self.grant(candidate, clamp_to_budget(outcome, candidate.budget, currency), promotion)

    def grant(self, candidate: Candidate, grant: Grant, promotion: bool) -> None:
        campaign, code = candidate.campaign, candidate.code
        remaining, lines = self.remaining, grant.lines
        for line_id, part in lines.items():
            remaining[line_id] -= part
        self.shipping_left -= grant.shipping
        amount = sum(lines.values()) + grant.shipping  # (Grant.amount)
        spend = None
        if code is not None and isinstance(campaign.reward, GiftCard):
            spend = GiftCardSpend(spent=amount, balance_left=(code.balance or 0) - amount)
        self.applied.append(AppliedDiscount(
            campaign_id=campaign.id, code=code.code if code else None, name=campaign.name,
            reward_type=candidate.reward_type, amount=amount, lines=lines, shipping=grant.shipping,
            clamped=grant.clamped, note=grant.note, gift_card=spend,
        ))
        self.applied_campaigns.add(campaign.id)
        if not promotion:
            return
        if candidate.basket_percentage:
            self.percentage_applied = self.percentage_applied or campaign.name
        if campaign.stacking == "exclusive":
            self.blocker = (Reason.EXCLUDED_BY_EXCLUSIVE, campaign.name)
        elif campaign.stacking == "stop":
            self.blocker = (Reason.STOPPED_BY_EARLIER, campaign.name)

    def order_percentages(self, tier: list[Candidate]) -> list[Candidate]:
        """Re-sort the percentage basket vouchers of one priority among their own slots."""
        slots = [i for i, cand in enumerate(tier) if cand.basket_percentage]
        if len(slots) < 2:
            return tier
        basket = sum(self.remaining.values())
        currency = self.currency

        def key(cand: Candidate) -> _Key:
            reward = cand.campaign.reward
            assert isinstance(reward, PercentOff)  # the slots hold basket percentage vouchers only
            delivered = percent_off_delivered(reward, basket, currency)
            return (-delivered, *cand.key[1:])

        ordered = sorted((tier[i] for i in slots), key=key)
        tier = list(tier)
        for i, cand in zip(slots, ordered, strict=True):
            tier[i] = cand
        return tier

    def result(self) -> Evaluation:
        remaining = self.remaining
        lines = tuple([
            LineAllocation(line_id=ln.id, amount=amount, unit_splits=unit_splits(amount, ln.quantity))
            for ln in self.cart.lines for amount in (ln.unit_price * ln.quantity - remaining[ln.id],)
        ])
        return Evaluation(currency=self.cart.currency, lines=lines,
                          shipping_discount=self.cart.shipping_amount - self.shipping_left,
                          discounts=tuple(self.applied), rejected=tuple(self.rejected))


def evaluate(
    cart: Cart,
    *,
    now: datetime,
    campaigns: Iterable[Campaign] = (),
    codes: Sequence[AppliedCode] = (),
    customer: Customer | None = None,
    options: EngineOptions | None = None,
) -> Evaluation:
    """Price `cart` against the automatic `campaigns` (all of them, or `CampaignIndex.candidates`:
    the result is the same) and the `codes` the shopper applied, at time `now` (timezone-aware).

    Automatic campaigns that do not concern the cart (see `rules.is_relevant`) are skipped
    silently; every other candidate either applies or is rejected with a reason.
    """
    return evaluate_view(CartView(cart), now=now, campaigns=campaigns, codes=codes, customer=customer,
                         options=options)


def evaluate_view(
    view: CartView,
    *,
    now: datetime,
    campaigns: Iterable[Campaign] = (),
    codes: Sequence[AppliedCode] = (),
    customer: Customer | None = None,
    options: EngineOptions | None = None,
    prepared: list[Candidate] | None = None,
) -> Evaluation:
    """`evaluate` on a cart view that may already know which lines each campaign matches.
    `prepared`: instead of `campaigns`, the `CampaignIndex` candidates, already tested for
    relevance (the very test below) and already in evaluation order."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    run = _Run(view, customer or Customer(), now, options or EngineOptions())

    promotions: list[Candidate] = []
    gift_cards: list[Candidate] = []
    if prepared is not None:
        promotions = prepared
    else:
        seen_campaigns: set[str] = set()
        for campaign in campaigns:
            if campaign.id not in seen_campaigns and is_relevant(campaign, view):
                promotions.append(Candidate(campaign))
            seen_campaigns.add(campaign.id)
    promotions_sorted = prepared is not None
    seen_codes: set[str] = set()
    for code in codes:
        candidate = Candidate(code.campaign, code)
        if code.code in seen_codes:
            run.reject(candidate, Miss(Reason.ALREADY_APPLIED))
            continue
        seen_codes.add(code.code)
        if isinstance(code.campaign.reward, GiftCard):
            gift_cards.append(candidate)
        else:
            if promotions_sorted:
                promotions, promotions_sorted = list(promotions), False  # never reorder the caller's list
            promotions.append(candidate)

    if not promotions_sorted:
        promotions.sort(key=_order_key)
    # One priority at a time (the list is sorted by priority): percentage basket vouchers are
    # re-sorted among their own slots within it.
    start, count = 0, len(promotions)
    while start < count:
        priority, end = promotions[start].priority, start + 1
        while end < count and promotions[end].priority == priority:
            end += 1
        tier = promotions[start:end] if end - start > 1 else [promotions[start]]
        for candidate in run.order_percentages(tier):
            run.consider(candidate)
        start = end
    for candidate in sorted(gift_cards, key=_order_key):
        run.consider(candidate, promotion=False)
    return run.result()
