"""Discounts for a cart: the promotions engine applied to the cart's lines and codes.

The engine is pure; this module feeds it (a cart snapshot, the codes resolved from the store,
the cached campaign index) and turns its evaluation into what the cart shows: `discounts[]`
(applied, and codes that do not apply with their reason) and per-line allocations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import msgspec
import sqlalchemy as sa
from kassa_contract.cart import AppliedDiscount, LineDiscountAllocation
from kassa_platform.db import Reads
from kassa_promotions import AppliedCode, CampaignIndex, Cart, CartLine, Customer, Evaluation
from kassa_promotions import AppliedDiscount as EngineDiscount
from kassa_promotions.store.codes import CodeStore, code_key
from kassa_promotions.store.tables import redemptions

from .pricing import LineInput
from .tables import carts, customer_segments

UNKNOWN_CODE = "code_not_found"


@dataclass
class CartDiscounts:
    line_discounts: dict[str, int] = field(default_factory=dict)
    shipping_discount: int = 0
    allocations: dict[str, list[LineDiscountAllocation]] = field(default_factory=dict)
    discounts: list[AppliedDiscount] = field(default_factory=list)
    engine: tuple[EngineDiscount, ...] = ()  # the engine's applied discounts: what a checkout reserves

    def rejection_of(self, code: str) -> AppliedDiscount | None:
        key = code_key(code)
        return next((d for d in self.discounts if d.code and code_key(d.code) == key and not d.applied), None)


def engine_cart(currency: str, lines: list[LineInput], shipping_amount: int, cart_id: str | None = None) -> Cart:
    return Cart(id=cart_id, currency=currency, shipping_amount=shipping_amount, lines=tuple(
        CartLine(id=ln.id, unit_price=ln.unit_price, quantity=ln.quantity, product_id=ln.product_id,
                 variant_id=ln.variant_id, categories=ln.categories, tax_class=ln.tax_class) for ln in lines))


class ResolvesCodes(Protocol):
    """What pricing needs of a code store: the codes as the engine sees them (CodeStore, or the
    redemption hot path's DirectCodes)."""

    async def resolve(self, conn: Any, app_id: str, texts: Sequence[str],
                      now: datetime | None = None) -> dict[str, AppliedCode]: ...


async def evaluate_cart(conn: Reads, store: CodeStore | ResolvesCodes, *, app_id: str, currency: str, lines: list[LineInput],
                        shipping_amount: int, codes: list[str], email: str | None, campaigns: CampaignIndex,
                        now: datetime, cart_id: str | None = None, customer_id: str | None = None) -> CartDiscounts:
    resolved = await store.resolve(conn, app_id, codes, now=now)
    applied = [resolved[code_key(c)] for c in codes if code_key(c) in resolved]
    if cart_id is not None and any(_limited(a) for a in applied):
        applied = await with_own_holds(conn, app_id, cart_id, applied)
    cart = engine_cart(currency, lines, shipping_amount, cart_id)
    usage: dict[str, int] = {}
    # Per-customer limits count by the customer's id when the cart has a customer, else by email.
    who = customer_id or email
    if who and (campaigns.has_per_customer_limits or any(a.campaign.rules.per_customer_limit for a in applied)):
        usage = await customer_usage(conn, app_id, who)
    segments: frozenset[str] = frozenset()
    if customer_id and (campaigns.has_segment_rules or any(a.campaign.rules.segments or a.campaign.rules.exclude_segments
                                                           for a in applied)):
        segments = await customer_segments_of(conn, app_id, customer_id)
    first_order = False  # unknown (no email, no customer) fails closed, as the engine expects
    if who and (campaigns.has_first_order_rules or any(a.campaign.rules.first_order_only for a in applied)):
        first_order = not await has_ordered(conn, app_id, email, cart_id, customer_id)
    evaluation = campaigns.evaluate(cart, now=now, codes=applied,
                                    customer=Customer(id=customer_id, email=email, usage=usage, segments=segments,
                                                      is_first_order=first_order))
    result = to_cart_discounts(evaluation)
    for code in codes:  # codes the store does not know stay on the cart, marked
        if code_key(code) not in resolved:
            result.discounts.append(AppliedDiscount(code=code, campaign_id=None, name=code, amount=0, applied=False,
                                                    reason=UNKNOWN_CODE, message="This code does not exist"))
    return result


def _limited(a: AppliedCode) -> bool:
    return (a.remaining_uses is not None or a.balance is not None or a.campaign.remaining_uses is not None
            or a.campaign.remaining_budget is not None)


async def with_own_holds(conn: Reads, app_id: str, cart_id: str,
                         applied: list[AppliedCode]) -> list[AppliedCode]:
    """The codes as this cart sees them: what the cart itself holds (its checkout's reservations) is
    still its own, so a cart repriced while its payment waits (a 3-D Secure step) keeps its
    single-use code, its gift card's value and its share of a budget."""
    r = redemptions.c
    rows = (await conn.execute(sa.select(r.campaign_id, r.code, r.amount).where(
        r.app_id == app_id, r.cart_id == cart_id, r.status == "reserved"))).all()
    if not rows:
        return applied
    by_code: dict[str, list[int]] = {}
    by_campaign: dict[str, list[int]] = {}
    for row in rows:
        for key, acc in ((code_key(row.code) if row.code else None, by_code), (row.campaign_id, by_campaign)):
            if key is not None:
                n_amount = acc.setdefault(key, [0, 0])
                n_amount[0] += 1
                n_amount[1] += row.amount
    out = []
    for a in applied:
        n, amount = by_code.get(code_key(a.code), (0, 0))
        cn, camount = by_campaign.get(a.campaign.id, (0, 0))
        campaign = msgspec.structs.replace(
            a.campaign,
            remaining_uses=None if a.campaign.remaining_uses is None else a.campaign.remaining_uses + cn,
            remaining_budget=None if a.campaign.remaining_budget is None else a.campaign.remaining_budget + camount)
        out.append(msgspec.structs.replace(
            a, campaign=campaign, remaining_uses=None if a.remaining_uses is None else a.remaining_uses + n,
            balance=None if a.balance is None else a.balance + amount))
    return out


async def has_ordered(conn: Reads, app_id: str, email: str | None, cart_id: str | None,
                      customer_id: str | None = None) -> bool:
    """Whether this customer (by id, then by email) placed an order before: every order converts exactly
    one cart, so the cart service's converted carts are the customer's orders (no call to the checkout
    service)."""
    conditions = []
    if customer_id:
        conditions.append(carts.c.customer_id == customer_id)
    if email:
        conditions.append(sa.func.lower(carts.c.customer_email) == email.lower())
    for condition in conditions:  # one index probe each (an OR would not use the partial index on email)
        query = sa.select(carts.c.id).where(carts.c.app_id == app_id, carts.c.status == "converted", condition).limit(1)
        if cart_id is not None:
            query = query.where(carts.c.id != cart_id)
        if (await conn.execute(query)).first() is not None:
            return True
    return False


async def customer_usage(conn: Reads, app_id: str, customer: str) -> dict[str, int]:
    """How often this customer used each campaign (held reservations count): for per-customer limits."""
    rows = await conn.execute(
        sa.select(redemptions.c.campaign_id, sa.func.count())
        .where(redemptions.c.app_id == app_id, sa.func.lower(redemptions.c.customer) == customer.lower(),
               redemptions.c.status.in_(("reserved", "confirmed")))
        .group_by(redemptions.c.campaign_id))
    return {campaign_id: count for campaign_id, count in rows}


async def customer_segments_of(conn: Reads, app_id: str, customer_id: str) -> frozenset[str]:
    """The segments segment-limited campaigns look at (read only when a campaign of the application has one)."""
    rows = await conn.execute(sa.select(customer_segments.c.segment).where(
        customer_segments.c.app_id == app_id, customer_segments.c.customer_id == customer_id))
    return frozenset(rows.scalars())


def to_cart_discounts(evaluation: Evaluation) -> CartDiscounts:
    result = CartDiscounts(line_discounts=evaluation.line_discounts, shipping_discount=evaluation.shipping_discount,
                           engine=evaluation.discounts)
    for d in evaluation.discounts:
        result.discounts.append(AppliedDiscount(code=d.code, campaign_id=d.campaign_id, name=d.name, amount=d.amount,
                                                message=d.note))
        for line_id, amount in d.lines.items():
            result.allocations.setdefault(line_id, []).append(
                LineDiscountAllocation(campaign_id=d.campaign_id, code=d.code, amount=amount))
    for r in evaluation.rejected:
        if r.code is not None:  # automatic campaigns that do not apply are not the shopper's business
            result.discounts.append(AppliedDiscount(code=r.code, campaign_id=r.campaign_id, name=r.name, amount=0,
                                                    applied=False, reason=r.reason, message=r.message))
    return result
