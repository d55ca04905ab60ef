"""Pricing a cart: shipping, tax and totals. Pure functions, no I/O.

Tax is computed per line from the exact (unrounded) amount, summed per rate group, rounded
half-even once per group, and the rounded group amount is apportioned back to the lines by
largest remainder, so line taxes always add up to the tax lines and the tax lines to the
total. Prices are either tax-exclusive (tax is added) or tax-inclusive (tax is contained).

The totals identity, always:
    exclusive: total = subtotal - discountTotal + shippingTotal + taxTotal
    inclusive: total = subtotal - discountTotal + shippingTotal   (taxTotal is contained)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from kassa_contract.cart import (
    LineDiscountAllocation,
    LineItem,
    Notice,
    SelectedShippingMethod,
    TaxLine,
)
from kassa_platform.money import apportion, div_half_even

STANDARD = "standard"


@dataclass(frozen=True)
class TaxRule:
    id: str
    country_code: str
    region: str  # "" = the whole country
    tax_class: str
    rate: Decimal  # percent
    name: str


@dataclass(frozen=True)
class ShippingRule:
    id: str
    name: str
    prices: dict[str, int]
    free_above: dict[str, int] | None
    countries: frozenset[str] | None
    tax_class: str
    active: bool


@dataclass(frozen=True)
class PricingConfig:
    prices_include_tax: bool = False
    tax_rules: tuple[TaxRule, ...] = ()
    shipping: dict[str, ShippingRule] = field(default_factory=dict)

    def rate_for(self, country: str, region: str | None, tax_class: str) -> TaxRule | None:
        region_key = (region or "").strip().lower()
        classes = (tax_class, STANDARD) if tax_class != STANDARD else (STANDARD,)
        for cls in classes:
            best: TaxRule | None = None
            for rule in self.tax_rules:
                if rule.country_code != country or rule.tax_class != cls:
                    continue
                if rule.region and rule.region.lower() == region_key:
                    return rule
                if not rule.region:
                    best = rule
            if best:
                return best
        return None


@dataclass(frozen=True)
class ShippingQuote:
    rule: ShippingRule
    amount: int


def shipping_unavailable_reason(rule: ShippingRule, currency: str, country: str | None) -> str | None:
    """Why a method does not apply to a cart, or None if it does."""
    if not rule.active:
        return "inactive"
    if currency not in rule.prices:
        return "currency"
    if rule.countries is not None:
        if country is None:
            return "address_required"
        if country not in rule.countries:
            return "country"
    return None


def quote_shipping(rule: ShippingRule, currency: str, goods_amount: int) -> ShippingQuote:
    threshold = (rule.free_above or {}).get(currency)
    amount = 0 if threshold is not None and goods_amount >= threshold else rule.prices[currency]
    return ShippingQuote(rule, amount)


def available_shipping(config: PricingConfig, currency: str, country: str | None, goods_amount: int) -> list[ShippingQuote]:
    quotes = [
        quote_shipping(rule, currency, goods_amount)
        for rule in config.shipping.values()
        if shipping_unavailable_reason(rule, currency, country) is None
    ]
    return sorted(quotes, key=lambda q: (q.amount, q.rule.name, q.rule.id))


@dataclass(frozen=True)
class LineInput:
    """What a line is, before pricing: the stored part of a cart line."""

    id: str
    variant_id: str | None
    product_id: str | None
    sku: str
    name: str
    quantity: int
    unit_price: int
    tax_class: str
    categories: tuple[str, ...]
    custom: bool
    metadata: dict | None = None

    @classmethod
    def of(cls, line: LineItem) -> "LineInput":
        return cls(line.id, line.variant_id, line.product_id, line.sku, line.name, line.quantity, line.unit_price,
                   line.tax_class, tuple(line.categories), line.custom, line.metadata)


@dataclass
class PricedCart:
    lines: list[LineItem]
    shipping: SelectedShippingMethod | None
    tax_lines: list[TaxLine]
    notices: list[Notice]
    taxes_included: bool
    subtotal: int
    discount_total: int
    shipping_total: int
    tax_total: int
    total: int
    item_count: int


_PPM = 1_000_000  # rates have at most 4 decimals of a percent: exact in millionths


def _tax_ratio(rate: Decimal, inclusive: bool) -> tuple[int, int]:
    """Tax as a fraction of the taxable amount: r (exclusive) or r / (1 + r) (inclusive)."""
    ppm = int(rate * 10_000)
    return (ppm, _PPM + ppm) if inclusive else (ppm, _PPM)


def _rate_text(rate: Decimal) -> str:
    return format(rate.normalize(), "f")


def selected_shipping(config: PricingConfig, shipping_method_id: str | None, currency: str, country: str | None,
                      goods: int) -> tuple[ShippingQuote | None, Notice | None]:
    """The selected method re-quoted for `goods` (the goods after discounts), or the notice that
    clears it because it no longer applies."""
    if shipping_method_id is None:
        return None, None
    rule = config.shipping.get(shipping_method_id)
    reason = "deleted" if rule is None else shipping_unavailable_reason(rule, currency, country)
    if rule is None or reason is not None:
        name = rule.name if rule else "The selected shipping method"
        return None, Notice(code="shipping_method_cleared", message=_cleared_message(name, reason, country, currency))
    return quote_shipping(rule, currency, goods), None


def price_cart(
    lines: list[LineInput],
    *,
    currency: str,
    country: str | None,
    region: str | None,
    shipping_method_id: str | None,
    config: PricingConfig,
    line_discounts: dict[str, int] | None = None,
    shipping_discount: int = 0,
    line_allocations: dict[str, list[LineDiscountAllocation]] | None = None,
) -> PricedCart:
    line_discounts = line_discounts or {}
    line_allocations = line_allocations or {}
    notices: list[Notice] = []
    inclusive = config.prices_include_tax

    subtotals = [ln.unit_price * ln.quantity for ln in lines]
    discounts = [min(line_discounts.get(ln.id, 0), st) for ln, st in zip(lines, subtotals, strict=True)]
    goods_after_discount = sum(subtotals) - sum(discounts)

    quote, cleared = selected_shipping(config, shipping_method_id, currency, country, goods_after_discount)
    if cleared is not None:
        notices.append(cleared)
    shipping_amount = quote.amount if quote else 0
    shipping_discount = min(shipping_discount, shipping_amount)

    # Tax: exact per taxable item, grouped by rule, rounded per group, apportioned back.
    taxable: list[tuple[str, int, TaxRule | None]] = []  # (key, amount, rule)
    for ln, st, disc in zip(lines, subtotals, discounts, strict=True):
        rule = config.rate_for(country, region, ln.tax_class) if country else None
        taxable.append((ln.id, st - disc, rule))
    if quote:
        rule = config.rate_for(country, region, quote.rule.tax_class) if country else None
        taxable.append(("__shipping__", shipping_amount - shipping_discount, rule))

    item_tax: dict[str, int] = {}
    tax_lines: list[TaxLine] = []
    groups: dict[TaxRule, list[tuple[str, int]]] = {}
    for key, amount, rule in taxable:
        if rule is None or rule.rate == 0 or amount <= 0:
            item_tax[key] = 0
            continue
        groups.setdefault(rule, []).append((key, amount))
    for rule, members in sorted(groups.items(), key=lambda g: (g[0].name, g[0].rate, g[0].id)):
        # Every member of a group has the same rate, so each exact tax is amount * num / den: the
        # group's exact tax is sum(amounts) * num / den and its parts are proportional to the
        # amounts. Integers all the way, no fractions.
        num, den = _tax_ratio(rule.rate, inclusive)
        taxable_amount = sum(m[1] for m in members)
        group_tax = div_half_even(taxable_amount * num, den)
        parts = apportion(group_tax, [m[1] for m in members], [(m[1], m[0]) for m in members])
        for (key, _amount), part in zip(members, parts, strict=True):
            item_tax[key] = part
        tax_lines.append(TaxLine(name=rule.name, rate=_rate_text(rule.rate), taxable_amount=taxable_amount,
                                 amount=group_tax))

    priced_lines: list[LineItem] = []
    for ln, st, disc in zip(lines, subtotals, discounts, strict=True):
        tax = item_tax.get(ln.id, 0)
        rule = config.rate_for(country, region, ln.tax_class) if country else None
        priced_lines.append(
            LineItem(
                id=ln.id, variant_id=ln.variant_id, product_id=ln.product_id, sku=ln.sku, name=ln.name,
                quantity=ln.quantity, unit_price=ln.unit_price, subtotal=st, discount_total=disc, tax_total=tax,
                total=st - disc + (0 if inclusive else tax), tax_rate=_rate_text(rule.rate) if rule else "0",
                tax_class=ln.tax_class, categories=list(ln.categories), custom=ln.custom, metadata=ln.metadata,
                discount_allocations=line_allocations.get(ln.id, []),
            )
        )

    shipping = None
    if quote:
        shipping = SelectedShippingMethod(id=quote.rule.id, name=quote.rule.name, amount=shipping_amount,
                                          discount_total=shipping_discount, tax_total=item_tax.get("__shipping__", 0))

    subtotal = sum(subtotals)
    discount_total = sum(discounts) + shipping_discount
    tax_total = sum(t.amount for t in tax_lines)
    total = subtotal - discount_total + shipping_amount + (0 if inclusive else tax_total)
    return PricedCart(
        lines=priced_lines, shipping=shipping, tax_lines=tax_lines, notices=notices, taxes_included=inclusive,
        subtotal=subtotal, discount_total=discount_total, shipping_total=shipping_amount, tax_total=tax_total,
        total=total, item_count=sum(ln.quantity for ln in lines),
    )


def _cleared_message(name: str, reason: str | None, country: str | None, currency: str) -> str:
    if reason == "country":
        return f"{name} does not ship to {country}; choose another shipping method"
    if reason == "address_required":
        return f"{name} needs a shipping address; add one and choose a shipping method again"
    if reason == "currency":
        return f"{name} has no price in {currency}"
    return f"{name} is no longer available; choose another shipping method"

