"""Restoring a cart from its recovery link, on any device: `POST /api/v1/carts/{cartId}/recover`.

The recovery link of a `cart.abandoned` carries a signed token that opens this one cart (see
recovery.py); a storefront page in a fresh browser sends it as `X-Cart-Secret`. The cart is then
re-priced against the catalog and the promotions of now: a catalog line takes its variant's current
price, a line whose variant can no longer be bought leaves the cart, and a discount that applied
before and no longer does is reported. The cart's recovery incentive (a single-use code minted for
this cart when it was abandoned) is applied. The answer says what changed, in words the page shows
as they are. The token works until it expires or the cart converts (a converted cart cannot change:
409 `cart_not_open`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from kassa_contract.abandoned import CartRecovery, RecoveredIncentive, RecoveryChange
from kassa_contract.base import UNSET
from kassa_contract.cart import AppliedDiscount, Cart
from kassa_contract.money import format_amount
from kassa_platform.auth import Principal
from kassa_platform.db import Reads
from kassa_promotions.store.codes import code_key

from . import abandonment_rows
from .carts import CartService, CartState


def _key(d: AppliedDiscount) -> tuple[str | None, str | None]:
    return d.campaign_id, code_key(d.code) if d.code else None


def _ended(before: list[AppliedDiscount], after: list[AppliedDiscount]) -> list[RecoveryChange]:
    """Discounts that applied before and do not now (a promotion ended, a code ran out)."""
    now_applied = {_key(d) for d in after if d.applied}
    now_refused = {_key(d): d for d in after if not d.applied}
    changes = []
    for d in before:
        if not d.applied or _key(d) in now_applied:
            continue
        refused = now_refused.get(_key(d))
        why = f": {refused.message}" if refused is not None and refused.message else ""
        changes.append(RecoveryChange(type="promotion_ended", code=d.code, campaign_id=d.campaign_id, name=d.name,
                                      reason=refused.reason if refused is not None else "no_longer_applies",
                                      message=f"{d.name} no longer applies{why}"))
    return changes


async def recover(carts: CartService, principal: Principal, cart_id: str, cart_secret: str | None,
                  customer: Any = UNSET) -> CartRecovery:
    before = await carts.get(principal, cart_id, cart_secret)
    async with carts.db() as conn:
        incentive_code = await abandonment_rows.incentive_of(conn, principal.app_id, cart_id)
    line_changes: list[RecoveryChange] = []

    async def change(conn: Reads, state: CartState) -> None:
        line_changes.clear()  # an optimistic write that lost its race runs the change again
        kept = []
        for line in state.lines:
            if line.custom or line.variant_id is None:
                kept.append(line)
                continue
            variant = await carts.catalog.priced_variant(conn, state.app_id, line.variant_id)
            price = variant.prices.get(state.currency) if variant is not None and variant.active else None
            if price is None:
                line_changes.append(RecoveryChange(type="unavailable", line_id=line.id, sku=line.sku, name=line.name,
                                                   previous_unit_price=line.unit_price,
                                                   message=f"{line.name} is no longer available and was removed"))
                continue
            if price != line.unit_price:
                word = "dropped" if price < line.unit_price else "went up"
                line_changes.append(RecoveryChange(
                    type="price_changed", line_id=line.id, sku=line.sku, name=line.name,
                    previous_unit_price=line.unit_price, unit_price=price,
                    message=f"The price of {line.name} {word} from {format_amount(line.unit_price, state.currency)} "
                            f"to {format_amount(price, state.currency)}"))
                line = dataclasses.replace(line, unit_price=price)
            kept.append(line)
        state.lines = kept
        if incentive_code and code_key(incentive_code) not in {code_key(c) for c in state.discount_codes}:
            state.discount_codes.append(incentive_code)

    def answer(cart: Cart) -> CartRecovery:
        incentive = None
        if incentive_code:
            mine = next((d for d in cart.discounts if d.code and code_key(d.code) == code_key(incentive_code)), None)
            incentive = RecoveredIncentive(
                code=incentive_code, campaign_id=mine.campaign_id if mine and mine.campaign_id else "",
                applied=bool(mine and mine.applied), amount=mine.amount if mine and mine.applied else 0,
                reason=None if mine is None or mine.applied else mine.reason,
                message=None if mine is None or mine.applied else mine.message)
        return CartRecovery(cart=cart, changes=[*line_changes, *_ended(before.discounts, cart.discounts)],
                            incentive=incentive, previous_total=before.total, abandoned_at=before.abandoned_at)

    recovered: list[CartRecovery] = []

    def remembered(cart: Cart) -> CartRecovery:
        recovered.append(answer(cart))
        return recovered[-1]

    await carts._mutate(principal, cart_id, cart_secret, change, customer=customer, answer=remembered)
    return recovered[-1]
