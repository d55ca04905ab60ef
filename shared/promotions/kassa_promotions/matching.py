"""Which cart lines a matcher or a campaign picks, answered fast and once per evaluation.

A `CartView` indexes one cart's lines by product, variant and category. A matcher with a few
includes is answered by looking those up (cost: its includes, not the cart's lines); a large
matcher, or one with only excludes, by scanning the lines. Answers are memoised for the life
of the view, so the index's relevance test, the engine's and the reward all share one answer.
"""

from __future__ import annotations

from .model import Bundle, Campaign, Cart, CartLine, ItemMatcher


class CartView:
    __slots__ = ("cart", "lines", "_by_product", "_by_variant", "_by_category", "_matched", "_eligible", "_alive")

    def __init__(self, cart: Cart) -> None:
        self.cart = cart
        self.lines = cart.lines
        # The lines by product, variant and category: built on the first lookup (the index
        # answers most campaigns itself, see `know`).
        self._by_product: dict[str, list[int]] | None = None
        self._by_variant: dict[str, list[int]] = {}
        self._by_category: dict[str, list[int]] = {}
        # Memos keyed by id(): the objects are kept alive in `_alive`, so an id cannot be reused
        # by another object while this view exists.
        self._matched: dict[int, tuple[CartLine, ...]] = {}
        self._eligible: dict[int, tuple[CartLine, ...]] = {}
        self._alive: list[object] = []

    def _lookups(self) -> None:
        by_product: dict[str, list[int]] = {}
        for i, ln in enumerate(self.lines):
            if ln.product_id is not None:
                by_product.setdefault(ln.product_id, []).append(i)
            if ln.variant_id is not None:
                self._by_variant.setdefault(ln.variant_id, []).append(i)
            for category in ln.categories:
                self._by_category.setdefault(category, []).append(i)
        self._by_product = by_product

    def know(self, eligible: dict[int, tuple[CartLine, ...]], matched: dict[int, tuple[CartLine, ...]],
             owner: object) -> None:
        """Answers worked out elsewhere (`CampaignIndex`, from its own lookups), by id() of the
        campaign (`eligible`) or matcher (`matched`); `owner` keeps those objects alive."""
        self._eligible.update(eligible)
        self._matched.update(matched)
        self._alive.append(owner)

    def matching(self, matcher: ItemMatcher) -> tuple[CartLine, ...]:
        """The lines `matcher` matches, in cart order."""
        found = self._matched.get(id(matcher))
        if found is None:
            found = self._match(matcher)
            self._matched[id(matcher)] = found
            self._alive.append(matcher)
        return found

    def _match(self, m: ItemMatcher) -> tuple[CartLine, ...]:
        products, variants, categories = m.product_ids, m.variant_ids, m.categories
        includes = len(products) + len(variants) + len(categories)
        if includes == 0 or includes > len(self.lines):
            return tuple(ln for ln in self.lines if m.matches(ln))
        # Few includes: look them up rather than scan the lines.
        if self._by_product is None:
            self._lookups()
        positions: set[int] = set()
        for source, keys in ((self._by_product or {}, products), (self._by_variant, variants),
                             (self._by_category, categories)):
            if keys:
                get = source.get
                for key in keys:
                    hit = get(key)
                    if hit:
                        positions.update(hit)
        if not positions:
            return ()
        lines = self.lines
        hits = tuple(lines[i] for i in sorted(positions)) if len(positions) > 1 else (lines[positions.pop()],)
        if m.exclude_product_ids or m.exclude_variant_ids or m.exclude_categories:
            return tuple(ln for ln in hits if m.matches(ln))
        return hits

    def eligible(self, campaign: Campaign) -> tuple[CartLine, ...]:
        """The lines a campaign is about: its item matcher's (all lines without one); for a meal
        deal only those that fit one of its groups."""
        found = self._eligible.get(id(campaign))
        if found is not None:
            return found
        lines = self.lines if campaign.items is None else self.matching(campaign.items)
        reward = campaign.reward
        if isinstance(reward, Bundle) and lines:
            in_groups = {ln.id for g in reward.groups for ln in self.matching(g)}
            lines = tuple(ln for ln in lines if ln.id in in_groups)
        self._eligible[id(campaign)] = lines
        self._alive.append(campaign)
        return lines
