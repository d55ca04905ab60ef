"""Validating a code against a basket without reserving anything (`POST /api/v1/vouchers/validate`),
and recording refusals (at validate and at apply) as `rejected` redemptions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from kassa_contract.promotions import (
    DiscountLine,
    ValidatedDiscount,
    ValidateVoucher,
    ValidationResult,
)
from kassa_platform.db import transaction
from kassa_promotions import Cart, CartLine, Customer
from kassa_promotions.store.codes import code_key
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import carts

if TYPE_CHECKING:
    from .service import CartModule


async def validate_voucher(conn: AsyncConnection, m: "CartModule", app_id: str, body: ValidateVoucher) -> ValidationResult:
    resolved = await m.codes.resolve(conn, app_id, [body.code], now=m.clock.now())
    applied = resolved.get(code_key(body.code))
    if applied is None:
        return ValidationResult(valid=False, code=body.code, discount_total=0, discounts=[], reason="code_not_found",
                                message="This code does not exist")
    cart = Cart(currency=body.currency, shipping_amount=body.shipping_amount, lines=tuple(
        CartLine(id=li.id or f"line_{i}", unit_price=li.unit_price, quantity=li.quantity, product_id=li.product_id,
                 variant_id=li.variant_id, categories=tuple(li.categories)) for i, li in enumerate(body.line_items)))
    pricing = await m.carts.configs.get(conn, app_id, *(await m.carts.settings_version(conn, app_id)))
    evaluation = pricing.campaigns.evaluate(cart, now=m.clock.now(), codes=[applied],
                                            customer=Customer(id=body.customer_id, email=body.customer_email))
    mine = [d for d in evaluation.discounts if d.code is not None and code_key(d.code) == code_key(body.code)]
    rejected = next((r for r in evaluation.rejected if r.code and code_key(r.code) == code_key(body.code)), None)
    discounts = [ValidatedDiscount(campaign_id=d.campaign_id, code=d.code, name=d.name, amount=d.amount,
                                   lines=[DiscountLine(line_id=k, amount=v) for k, v in d.lines.items()],
                                   shipping=d.shipping, clamped=d.clamped, note=d.note) for d in mine]
    return ValidationResult(valid=bool(mine), code=applied.code, discount_total=sum(d.amount for d in mine),
                            discounts=discounts, reason=rejected.reason if rejected else None,
                            message=rejected.message if rejected else None)


# Refusals that say nothing about the code itself, or name no code the store knows: not recorded.
NOT_RECORDED = frozenset({"code_not_found", "too_many_codes", "cart_empty"})


async def record_refusal(m: "CartModule", app_id: str, code: str, reason: str | None, message: str | None, *,
                         currency: str | None = None, customer: str | None = None, amount: int = 0,
                         cart_id: str | None = None) -> None:
    """A refused code as a `rejected` redemption (Vouchery), in a transaction of its own: the
    refusal itself rolls back the caller's. Only refused codes pay for this; a cart's currency and
    customer are read here, on that rare path."""
    if not reason or reason in NOT_RECORDED:
        return
    async with transaction(m.db) as conn:
        if cart_id is not None:
            cart = (await conn.execute(sa.select(carts.c.currency, carts.c.customer_id, carts.c.customer_email)
                                       .where(carts.c.app_id == app_id, carts.c.id == cart_id))).first()
            if cart is None:
                return
            currency, customer = cart.currency, cart.customer_id or cart.customer_email
        await m.redemptions.record_rejected(conn, app_id=app_id, code=code, cart_id=cart_id, customer=customer,
                                            amount=amount, currency=currency or "XXX", reason=reason,
                                            message=message, now=m.clock.now())
