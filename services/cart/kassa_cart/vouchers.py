"""Validating a code against a basket without reserving anything (`POST /api/v1/vouchers/validate`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kassa_contract.promotions import (
    DiscountLine,
    ValidatedDiscount,
    ValidateVoucher,
    ValidationResult,
)
from kassa_promotions import Cart, CartLine, Customer
from kassa_promotions.store.codes import code_key
from sqlalchemy.ext.asyncio import AsyncConnection

if TYPE_CHECKING:
    from .service import CartModule


async def validate_voucher(conn: AsyncConnection, m: "CartModule", app_id: str, body: ValidateVoucher) -> ValidationResult:
    resolved = await m.codes.resolve(conn, app_id, [body.code])
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
