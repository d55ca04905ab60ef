"""A campaign index: from thousands of automatic campaigns to the few that concern one cart.

Built once per campaign set. Each campaign is filed under its currency (or "any") and under
the product ids, variant ids and categories its item matcher includes (a meal deal: its groups);
a campaign that is not limited to some items goes to the basket-wide bucket. `candidates(cart)`
unions the buckets the cart's lines hit, then applies the exact relevance test to that short
list, so `evaluate(cart, campaigns=index.candidates(cart))` equals
`evaluate(cart, campaigns=all_campaigns)`. `index.evaluate(cart, ...)` does both in one call and
hands the lookup's line matching to the evaluation (the fastest way to price a cart).

Work that does not depend on the cart is done here, once: the evaluation order of the campaigns
(candidates come out sorted), each campaign's engine facts (`engine.Candidate`), and the keys of
each meal deal's groups, so the one pass over the cart's lines that finds the candidates also
finds the lines each of them (and each of its groups) is about.

The index is read-only once built: share one per campaign set across requests and threads,
and build a new one when campaigns change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cached_property
from typing import Any

from .engine import Candidate, evaluate_view
from .matching import CartView
from .model import (
    AppliedCode,
    Bundle,
    Campaign,
    Cart,
    CartLine,
    Customer,
    EngineOptions,
    Evaluation,
    GiftCard,
    ItemMatcher,
)
from .rules import campaign_currencies, targets_items

_KINDS = ("product", "variant", "category")
# How the index knows a candidate's lines: from the lookup alone; the lookup and each meal-deal
# group's; the lookup less the excluded lines; the exact test (`CartView.eligible`).
_PROVEN, _GROUPS, _FILTERED, _EXACT = "proven", "groups", "filtered", "exact"


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
    """The campaigns of one currency (with those of any currency), by what their matchers
    include. Entries are candidate ranks (below the number of campaigns) or bundle-group slots."""

    __slots__ = ("product", "variant", "category", "wide")

    def __init__(self) -> None:
        self.product: dict[str, tuple[int, ...]] = {}
        self.variant: dict[str, tuple[int, ...]] = {}
        self.category: dict[str, tuple[int, ...]] = {}
        self.wide: list[int] = []

    def file(self, keys: dict[str, set[str]], entry: int) -> None:
        for kind in _KINDS:
            table: dict[str, tuple[int, ...]] = getattr(self, kind)
            for value in keys[kind]:
                table[value] = table.get(value, ()) + (entry,)

    def merged(self, other: _Buckets) -> _Buckets:
        out = _Buckets()
        for kind in _KINDS:
            table: dict[str, tuple[int, ...]] = getattr(out, kind)
            for source in (getattr(self, kind), getattr(other, kind)):
                for value, entries in source.items():
                    table[value] = table.get(value, ()) + entries
        out.wide = self.wide + other.wide
        return out


class CampaignIndex:
    def __init__(self, campaigns: Iterable[Campaign], options: EngineOptions | None = None) -> None:
        # The application's engine options, used by `evaluate` when the caller passes none.
        self.options = options
        kept: list[Campaign] = []
        seen: set[str] = set()
        for campaign in campaigns:
            # The cart-independent part of `rules.is_relevant`, decided once here; the first
            # campaign with an id wins, as in `evaluate`.
            first = campaign.id not in seen
            seen.add(campaign.id)
            if (first and campaign.trigger == "automatic" and campaign.active
                    and not isinstance(campaign.reward, GiftCard)):
                kept.append(campaign)
        self._campaigns = kept
        # Candidates in evaluation order (the engine's order key, which is cart-independent for
        # automatic campaigns): a cart's candidates come out sorted by rank, never re-sorted.
        order = sorted(range(len(kept)), key=lambda i: Candidate(kept[i]).key)
        self._ranked: list[Candidate] = [Candidate(kept[i]) for i in order]
        self._position: list[int] = order  # rank -> position among `campaigns`
        self._proven: list[bool] = []  # a bucket hit alone proves relevance (no exact line test)
        # Proven meal deals: rank -> (first slot, groups); slot + i is the entry of group i, so
        # the lookup that finds the deal also finds which lines each group matches.
        self._groups: dict[int, tuple[int, tuple[ItemMatcher, ...]]] = {}
        # Not proven, but an item matcher with includes and excludes: the lines that hit its
        # includes, less the excluded ones, are its lines (rank -> matcher).
        self._filtered: dict[int, ItemMatcher] = {}
        buckets: dict[str | None, _Buckets] = {}
        slot = len(kept)
        for rank, candidate in enumerate(self._ranked):
            campaign = candidate.campaign
            currencies = campaign_currencies(campaign)
            keys, proven = _item_keys(campaign)
            self._proven.append(proven)
            groups: tuple[ItemMatcher, ...] = campaign.reward.groups if isinstance(campaign.reward, Bundle) else ()
            if proven and groups:
                self._groups[rank] = (slot, groups)
            items = campaign.items
            if keys is not None and not proven and not groups and items is not None and items.has_includes:
                self._filtered[rank] = items
            for currency in (sorted(currencies) if currencies is not None else [None]):
                table = buckets.setdefault(currency, _Buckets())
                if keys is None:
                    table.wide.append(rank)
                    continue
                table.file(keys, rank)
                if proven and groups:
                    for i, group in enumerate(groups):
                        table.file(_matcher_keys(group), slot + i)  # type: ignore[arg-type]
            if proven and groups:
                slot += len(groups)
        # What `_candidates` does with each rank: (candidate, id of its campaign, how, extra).
        self._plan: list[tuple[Candidate, int, str, Any]] = [
            (candidate, id(candidate.campaign),
             _GROUPS if rank in self._groups else _FILTERED if rank in self._filtered
             else _PROVEN if self._proven[rank] else _EXACT,
             self._groups.get(rank) or self._filtered.get(rank))
            for rank, candidate in enumerate(self._ranked)
        ]
        # A cart in one currency looks in one place: that currency's campaigns and the others.
        anywhere = buckets.pop(None, _Buckets())
        self._any = anywhere
        self._by_currency = {currency: table.merged(anywhere) for currency, table in buckets.items()}

    @cached_property
    def has_per_customer_limits(self) -> bool:
        """Whether pricing against this index needs the customer's usage counts."""
        return any(c.rules.per_customer_limit for c in self._campaigns)

    @cached_property
    def has_segment_rules(self) -> bool:
        """Whether pricing against this index needs the customer's segments."""
        return any(c.rules.segments or c.rules.exclude_segments for c in self._campaigns)

    @cached_property
    def has_first_order_rules(self) -> bool:
        """Whether pricing against this index needs to know if the customer ordered before."""
        return any(c.rules.first_order_only for c in self._campaigns)

    def __len__(self) -> int:
        return len(self._campaigns)

    def candidates(self, cart: Cart) -> list[Campaign]:
        """The automatic campaigns that concern this cart, in the order they were indexed."""
        found = self._candidates(CartView(cart))
        position = {id(c): self._position[rank] for rank, c in enumerate(self._ranked)}
        return [c.campaign for c in sorted(found, key=lambda c: position[id(c)])]

    def evaluate(self, cart: Cart, *, now: datetime, codes: Sequence[AppliedCode] = (),
                 customer: Customer | None = None, options: EngineOptions | None = None) -> Evaluation:
        """`evaluate(cart, campaigns=self.candidates(cart), ...)`, with the line matching of the
        lookup handed to the evaluation."""
        view = CartView(cart)
        return evaluate_view(view, now=now, codes=codes, customer=customer, options=options or self.options,
                             prepared=self._candidates(view))

    def _candidates(self, view: CartView) -> list[Candidate]:
        """The candidates in evaluation order; tells `view` the lines of those it can answer."""
        buckets = self._by_currency.get(view.cart.currency, self._any)
        products, variants, categories = buckets.product, buckets.variant, buckets.category
        # entry -> the lines that hit it, in cart order (a line hitting an entry twice, by product
        # and by category, is the last one in its list).
        lines_of: dict[int, list[CartLine]] = {}
        for ln in view.lines:
            entries = products.get(ln.product_id, ()) + variants.get(ln.variant_id, ())  # type: ignore[arg-type]
            for category in ln.categories:
                entries += categories.get(category, ())
            for entry in entries:
                got = lines_of.get(entry)
                if got is None:
                    lines_of[entry] = [ln]
                elif got[-1] is not ln:
                    got.append(ln)
        count = len(self._ranked)
        ranks = [entry for entry in lines_of if entry < count]
        ranks += buckets.wide
        ranks.sort()
        plan = self._plan
        eligible: dict[int, tuple[CartLine, ...]] = {}
        matched: dict[int, tuple[CartLine, ...]] = {}
        out: list[Candidate] = []
        for rank in ranks:
            candidate, key, how, extra = plan[rank]
            if how is _PROVEN:
                hit = lines_of.get(rank)
                if hit is not None:  # (a basket-wide campaign's lines are all the lines)
                    eligible[key] = tuple(hit)
                out.append(candidate)
            elif how is _GROUPS:  # a proven meal deal: its lines, and each group's
                eligible[key] = tuple(lines_of[rank])
                slot, groups = extra
                for i, group in enumerate(groups):
                    matched[id(group)] = tuple(lines_of.get(slot + i, ()))
                out.append(candidate)
            elif how is _FILTERED:  # a bucket hit is on an include: the excludes decide
                lines = tuple(ln for ln in lines_of.get(rank, ()) if extra.matches(ln))
                if lines:
                    eligible[key] = lines
                    out.append(candidate)
            elif view.eligible(candidate.campaign):  # the exact test (a meal deal with items, ...)
                out.append(candidate)
        view.know(eligible, matched, self)
        return out
