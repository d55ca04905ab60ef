"""The engine's inputs and outputs: immutable msgspec Structs, camelCase when encoded.

Money is always an integer in the currency's minor unit. Fixed amounts are given per currency
(`{"EUR": 500, "USD": 550}`), because a campaign sold in several markets needs a number in each;
a percentage is a `Decimal` (or an int) between 0 and 100, never a float.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import msgspec

Amounts = dict[str, int]  # currency -> minor units
Stacking = Literal["stackable", "exclusive", "stop"]
Trigger = Literal["automatic", "code"]
CodeStatus = Literal["created", "distributed", "assigned", "reserved", "active", "redeemed", "expired", "deactivated"]


# msgspec passes `frozen` on to subclasses; each repeats it all the same, because type checkers
# (dataclass_transform) read it per class and would otherwise see mutable subclasses.
class _Frozen(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    pass


# Decimal places a percentage may have (12.3456 %). Together with the range this keeps every
# percentage a plain, exact number: NaN, infinities and far-out exponents ("1E-999999") never
# reach the Decimal arithmetic of pricing.
PERCENT_PLACES = 4
_PERCENT_STEP = Decimal(1).scaleb(-PERCENT_PLACES)


def _check_percent(percent: Decimal, field: str) -> None:
    """The one check of every percentage a reward carries. Errors start with the field's wire
    name (`percent: …`), which the caller reports as the field."""
    if not (percent.is_finite() and 0 < percent <= 100 and percent.quantize(_PERCENT_STEP) == percent):
        raise ValueError(f"{field}: a percentage must be a number in (0, 100] with at most {PERCENT_PLACES} "
                         f"decimal places, got {percent}")


def _check_amounts(amounts: Amounts | None, field: str) -> None:
    if amounts is not None and any(v < 0 for v in amounts.values()):
        raise ValueError(f"{field}: amounts must not be negative")


# ---------------------------------------------------------------------------------- the cart


class CartLine(_Frozen, frozen=True):
    id: str
    unit_price: int
    quantity: int
    product_id: str | None = None
    variant_id: str | None = None
    categories: tuple[str, ...] = ()
    tax_class: str = "standard"

    def __post_init__(self) -> None:
        if self.quantity < 1 or self.unit_price < 0:
            raise ValueError(f"line {self.id}: quantity must be >= 1 and unit price >= 0")

    @property
    def subtotal(self) -> int:
        return self.unit_price * self.quantity


class Cart(_Frozen, frozen=True):
    """A snapshot of the cart as the engine sees it. Line ids must be unique."""

    currency: str
    lines: tuple[CartLine, ...] = ()
    shipping_amount: int = 0
    id: str | None = None  # the cart's id: a code bound to a cart applies to that cart only

    def __post_init__(self) -> None:
        if len({ln.id for ln in self.lines}) != len(self.lines):
            raise ValueError("cart lines must have unique ids")
        if self.shipping_amount < 0:
            raise ValueError("shipping amount must not be negative")


class Customer(_Frozen, frozen=True):
    """Who is buying. `usage` counts this customer's redemptions per campaign id (the caller
    counts by id or email, including reservations held by other carts)."""

    id: str | None = None
    email: str | None = None
    segments: frozenset[str] = frozenset()
    is_first_order: bool = False  # unknown counts as "not first": first-order offers fail closed
    usage: dict[str, int] = msgspec.field(default_factory=dict)


# ---------------------------------------------------------------------------------- campaigns


class ItemMatcher(_Frozen, frozen=True):
    """Which cart lines a campaign (or a bundle group) is about.

    A line matches when it hits any include (product, variant or category) and no exclude.
    A matcher without includes matches every line that is not excluded.
    """

    product_ids: frozenset[str] = frozenset()
    variant_ids: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    exclude_product_ids: frozenset[str] = frozenset()
    exclude_variant_ids: frozenset[str] = frozenset()
    exclude_categories: frozenset[str] = frozenset()

    @property
    def has_includes(self) -> bool:
        return bool(self.product_ids or self.variant_ids or self.categories)

    def matches(self, line: CartLine) -> bool:
        if (line.product_id in self.exclude_product_ids or line.variant_id in self.exclude_variant_ids
                or not self.exclude_categories.isdisjoint(line.categories)):
            return False
        if not self.has_includes:
            return True
        return (line.product_id in self.product_ids or line.variant_id in self.variant_ids
                or not self.categories.isdisjoint(line.categories))


class _Reward(_Frozen, frozen=True, tag_field="type"):
    pass


class PercentOff(_Reward, frozen=True, tag="percent_off"):
    """A percentage off the eligible lines taken together (the whole basket when the campaign has
    no item matcher), rounded half-even once, capped per voucher by `max_discount`."""

    percent: Decimal
    max_discount: Amounts | None = None

    def __post_init__(self) -> None:
        _check_percent(self.percent, "percent")
        _check_amounts(self.max_discount, "maxDiscount")


class FixedOff(_Reward, frozen=True, tag="fixed_off"):
    """A fixed amount off the eligible lines taken together (the basket, or the matching items)."""

    amounts: Amounts

    def __post_init__(self) -> None:
        _check_amounts(self.amounts, "amounts")


class FixedPerUnit(_Reward, frozen=True, tag="fixed_per_unit"):
    """A fixed amount off every unit of every eligible line."""

    amounts: Amounts

    def __post_init__(self) -> None:
        _check_amounts(self.amounts, "amounts")


class BuyXGetY(_Reward, frozen=True, tag="buy_x_get_y"):
    """Buy `buy` eligible units, get the cheapest `get` free (or `percent` off).

    Applied once per complete group of buy + get units, at most `max_applications` times
    (1 = "once"); across all groups the cheapest eligible units are the ones discounted.
    """

    buy: int
    get: int = 1
    percent: Decimal = Decimal(100)
    max_applications: int | None = None

    def __post_init__(self) -> None:
        if self.buy < 1 or self.get < 1:
            raise ValueError(f"{'buy' if self.buy < 1 else 'get'}: buy and get must be >= 1")
        if self.max_applications is not None and self.max_applications < 1:
            raise ValueError("maxApplications: must be >= 1")
        _check_percent(self.percent, "percent")


class Bundle(_Reward, frozen=True, tag="bundle"):
    """One item from each group for a bundle price (meal deal), as many times as complete
    bundles can be formed (at most `max_applications`), most expensive items first."""

    groups: tuple[ItemMatcher, ...]
    prices: Amounts
    max_applications: int | None = None

    def __post_init__(self) -> None:
        if len(self.groups) < 1:
            raise ValueError("groups: a bundle needs at least one group")
        _check_amounts(self.prices, "prices")


class ShippingOff(_Reward, frozen=True, tag="shipping_off"):
    """A discount on shipping: `percent` (100 = free) or a fixed amount per currency."""

    percent: Decimal | None = None
    amounts: Amounts | None = None

    def __post_init__(self) -> None:
        if (self.percent is None) == (self.amounts is None):
            raise ValueError("percent: give exactly one of percent and amounts")
        if self.percent is not None:
            _check_percent(self.percent, "percent")
        _check_amounts(self.amounts, "amounts")


class GiftCard(_Reward, frozen=True, tag="gift_card"):
    """Stored value: the balance lives on the code (`AppliedCode.balance`), in the campaign's
    currency. Spent after every other discount, on lines and shipping."""


Reward = PercentOff | FixedOff | FixedPerUnit | BuyXGetY | Bundle | ShippingOff | GiftCard


class Rules(_Frozen, frozen=True):
    """Conditions to earn the reward. Basket values are measured on the eligible lines, after
    the discounts evaluated before this campaign."""

    min_subtotal: Amounts | None = None
    max_subtotal: Amounts | None = None
    min_quantity: int | None = None
    customer_ids: frozenset[str] = frozenset()
    exclude_customer_ids: frozenset[str] = frozenset()
    emails: frozenset[str] = frozenset()  # compared case-insensitively
    exclude_emails: frozenset[str] = frozenset()
    segments: frozenset[str] = frozenset()
    exclude_segments: frozenset[str] = frozenset()
    first_order_only: bool = False
    per_customer_limit: int | None = None


class Campaign(_Frozen, frozen=True):
    """A campaign as the engine needs it. Limits are given as what remains, precomputed by the
    caller (the redemption store): `None` means unlimited.

    `priority`: higher is evaluated first; then `created_at` (older first), then `id`.
    `remaining_budget` / `remaining_period_budget`: discount amount still available, in the
    cart's currency (the caller converts or keeps budgets single-currency).
    """

    id: str
    name: str
    reward: Reward
    created_at: datetime
    trigger: Trigger = "automatic"
    items: ItemMatcher | None = None
    rules: Rules = Rules()
    priority: int = 0
    stacking: Stacking = "stackable"
    active: bool = True
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    redemption_grace_hours: int = 0  # codes only: still redeemable this long after ends_at
    currency: str | None = None  # limited to one currency
    remaining_uses: int | None = None
    remaining_budget: int | None = None
    remaining_period_budget: int | None = None


class AppliedCode(_Frozen, frozen=True):
    """A code the shopper applied, resolved by the caller to its campaign and its own state.

    `status` is seen from this cart: a code reserved by this very cart is passed as usable
    ("reserved"/"active"); one held by another cart comes with `remaining_uses=0`.
    `assigned_to` is a customer id or email; `bound_cart_id` a cart's id (a recovery incentive minted
    for one abandoned cart), on which alone the code applies.
    """

    code: str
    campaign: Campaign
    status: CodeStatus = "active"
    remaining_uses: int | None = None
    balance: int | None = None  # gift cards: value left, minor units
    assigned_to: str | None = None
    bound_cart_id: str | None = None


class EngineOptions(_Frozen, frozen=True):
    # Seed 1.6.6: chains that allow double discounting apply every eligible percentage
    # basket voucher in turn; otherwise only the best one.
    allow_multiple_percentage_basket: bool = False


# ---------------------------------------------------------------------------------- outputs


class UnitSplit(_Frozen, frozen=True):
    quantity: int
    unit_discount: int


class LineAllocation(_Frozen, frozen=True):
    """The total discount on one line, and how it spreads over the line's units: at most two
    unit discounts that differ by one minor unit."""

    line_id: str
    amount: int
    unit_splits: tuple[UnitSplit, ...]


class GiftCardSpend(_Frozen, frozen=True):
    spent: int
    balance_left: int


class AppliedDiscount(_Frozen, frozen=True):
    campaign_id: str
    code: str | None
    name: str
    reward_type: str
    amount: int  # = sum(lines.values()) + shipping
    lines: dict[str, int]  # line id -> minor units (lines with a part only)
    shipping: int = 0
    clamped: bool = False  # a cap or a budget limited the amount
    note: str | None = None
    gift_card: GiftCardSpend | None = None


class Rejection(_Frozen, frozen=True):
    campaign_id: str
    code: str | None
    name: str
    reason: str
    params: dict[str, Any] = {}  # what the message needs (amounts, counts, other names)
    currency: str = ""

    @property
    def message(self) -> str:
        """For the shopper. Worded when asked: most rejections (automatic campaigns that do not
        fit this cart) are never shown, and wording them cost more than evaluating them."""
        from .reasons import Miss, Reason, message

        return message(Miss(Reason(self.reason), self.params), is_code=self.code is not None, name=self.name,
                       currency=self.currency)


class Evaluation(_Frozen, frozen=True):
    currency: str
    lines: tuple[LineAllocation, ...]  # one per cart line, in cart order
    shipping_discount: int
    discounts: tuple[AppliedDiscount, ...]  # in the order they were applied
    rejected: tuple[Rejection, ...]

    @property
    def line_discounts(self) -> dict[str, int]:
        """What `kassa_cart.pricing.price_cart(line_discounts=...)` takes."""
        return {la.line_id: la.amount for la in self.lines if la.amount}

    @property
    def discount_total(self) -> int:
        return sum(la.amount for la in self.lines) + self.shipping_discount

    @property
    def gift_card_total(self) -> int:
        return sum(d.amount for d in self.discounts if d.gift_card is not None)
