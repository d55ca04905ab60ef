"""A campaign index: from thousands of automatic campaigns to the few that concern one cart.

Built once per campaign set. Each campaign is filed under its currency (or "any") and under
the product ids, variant ids and categories its item matcher includes (a meal deal: its groups);
a campaign that is not limited to some items goes to the basket-wide bucket. `candidates(cart)`
unions the buckets the cart's lines hit, then applies the exact relevance test to that short
list, so `evaluate(cart, campaigns=index.candidates(cart))` equals
`evaluate(cart, campaigns=all_campaigns)`. `index.evaluate(cart, ...)` does both in one call and
shares the per-cart line matching between them (the fastest way to price a cart).

The index is read-only once built: share one per campaign set across requests and threads,
and build a new one when campaigns change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cached_property

from .engine import evaluate_view
from .matching import CartView
from .model import (
    AppliedCode,
    Bundle,
    Campaign,
    Cart,
    Customer,
    EngineOptions,
    Evaluation,
    GiftCard,
    ItemMatcher,
)
from .rules import campaign_currencies, targets_items

_KINDS = ("product", "variant", "category")


def _matcher_keys(m: ItemMatcher) -> dict[str, frozenset[str]]:
    return {"product": m.product_ids, "variant": m.variant_ids, "category": m.categories}


def _has_excludes(m: ItemMatcher) -> bool:
    return bool(m.exclude_product_ids or m.exclude_variant_ids or m.exclude_categories)


def _item_keys(campaign: Campaign) -> tuple[dict[str, set[str]] | None, bool]:
    """Keys one of which every eligible line must hit (None when any line may be eligible), and
    whether hitting one proves the campaign relevant (else the lines are checked exactly)."""
    items, reward = campaign.items, campaign.reward
    bundle = isinstance(reward, Bundle)
    if items is not None and items.has_includes:
        matchers, proven = [items], not _has_excludes(items) and not bundle
    elif bundle and all(g.has_includes for g in reward.groups):  # type: ignore[union-attr]
        groups = list(reward.groups)  # type: ignore[union-attr]
        matchers, proven = groups, items is None and not any(_has_excludes(g) for g in groups)
    else:
        return None, not targets_items(campaign)
    keys: dict[str, set[str]] = {kind: set() for kind in _KINDS}
    for m in matchers:
        for kind, values in _matcher_keys(m).items():
            keys[kind].update(values)
    return keys, proven


class _Buckets:
    """The campaigns of one currency (or of any currency), by what their matchers include."""

    __slots__ = ("product", "variant", "category", "wide")

    def __init__(self) -> None:
        self.product: dict[str, list[int]] = {}
        self.variant: dict[str, list[int]] = {}
        self.category: dict[str, list[int]] = {}
        self.wide: list[int] = []


class CampaignIndex:
    def __init__(self, campaigns: Iterable[Campaign]) -> None:
        self._campaigns: list[Campaign] = []
        self._proven: list[bool] = []  # a bucket hit alone proves relevance (no exact line test)
        self._buckets: dict[str | None, _Buckets] = {}
        seen: set[str] = set()
        for campaign in campaigns:
            # The cart-independent part of `rules.is_relevant`, decided once here; the first
            # campaign with an id wins, as in `evaluate`.
            first = campaign.id not in seen
            seen.add(campaign.id)
            if (not first or campaign.trigger != "automatic" or not campaign.active
                    or isinstance(campaign.reward, GiftCard)):
                continue
            position = len(self._campaigns)
            self._campaigns.append(campaign)
            currencies = campaign_currencies(campaign)
            keys, proven = _item_keys(campaign)
            self._proven.append(proven)
            for currency in (sorted(currencies) if currencies is not None else [None]):
                buckets = self._buckets.setdefault(currency, _Buckets())
                if keys is None:
                    buckets.wide.append(position)
                    continue
                for kind in _KINDS:
                    table: dict[str, list[int]] = getattr(buckets, kind)
                    for value in keys[kind]:
                        table.setdefault(value, []).append(position)

    @cached_property
    def has_per_customer_limits(self) -> bool:
        """Whether pricing against this index needs the customer's usage counts."""
        return any(c.rules.per_customer_limit for c in self._campaigns)

    @cached_property
    def has_first_order_rules(self) -> bool:
        """Whether pricing against this index needs to know if the customer ordered before."""
        return any(c.rules.first_order_only for c in self._campaigns)

    def __len__(self) -> int:
        return len(self._campaigns)

    def candidates(self, cart: Cart) -> list[Campaign]:
        """The automatic campaigns that concern this cart, in the order they were indexed."""
        return self._candidates(CartView(cart))

    def evaluate(self, cart: Cart, *, now: datetime, codes: Sequence[AppliedCode] = (),
                 customer: Customer | None = None, options: EngineOptions | None = None) -> Evaluation:
        """`evaluate(cart, campaigns=self.candidates(cart), ...)`, with one line matching per
        campaign shared by the lookup and the evaluation."""
        view = CartView(cart)
        return evaluate_view(view, now=now, campaigns=self._candidates(view), codes=codes, customer=customer,
                             options=options, relevant=True)

    def _candidates(self, view: CartView) -> list[Campaign]:
        cart = view.cart
        hits: set[int] = set()
        for currency in (cart.currency, None):
            buckets = self._buckets.get(currency)
            if buckets is None:
                continue
            hits.update(buckets.wide)
            products, variants, categories = buckets.product, buckets.variant, buckets.category
            for ln in cart.lines:
                if ln.product_id is not None and (found := products.get(ln.product_id)):
                    hits.update(found)
                if ln.variant_id is not None and (found := variants.get(ln.variant_id)):
                    hits.update(found)
                for category in ln.categories:
                    if found := categories.get(category):
                        hits.update(found)
        out = []
        for position in sorted(hits):
            campaign = self._campaigns[position]
            # A bucket hit is on an include; excludes (and a bundle's other groups) may still decide.
            if self._proven[position] or view.eligible(campaign):
                out.append(campaign)
        return out
