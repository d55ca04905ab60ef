"""Kassa promotions core: a pure engine (no I/O, no clock) that prices a cart snapshot against
campaigns and applied codes, and a campaign index for fast candidate lookup.

    from kassa_promotions import evaluate, CampaignIndex, Cart, CartLine, Campaign, ...

    index = CampaignIndex(automatic_campaigns)            # once per campaign set
    result = index.evaluate(cart, now=now, codes=codes, customer=customer)
    # == evaluate(cart, now=now, campaigns=automatic_campaigns, codes=codes, customer=customer)
    price_cart(..., line_discounts=result.line_discounts, shipping_discount=result.shipping_discount)

See README.md for the decisions (order, stacking, percentage vouchers, gift cards).
"""

from .engine import evaluate
from .index import CampaignIndex
from .model import (
    Amounts,
    AppliedCode,
    AppliedDiscount,
    Bundle,
    BuyXGetY,
    Campaign,
    Cart,
    CartLine,
    CodeStatus,
    Customer,
    EngineOptions,
    Evaluation,
    FixedOff,
    FixedPerUnit,
    GiftCard,
    GiftCardSpend,
    ItemMatcher,
    LineAllocation,
    PercentOff,
    Rejection,
    Reward,
    Rules,
    ShippingOff,
    Stacking,
    Trigger,
    UnitSplit,
)
from .reasons import Reason

__all__ = [
    "Amounts", "AppliedCode", "AppliedDiscount", "Bundle", "BuyXGetY", "Campaign", "CampaignIndex", "Cart", "CartLine",
    "CodeStatus", "Customer", "EngineOptions", "Evaluation", "FixedOff", "FixedPerUnit", "GiftCard", "GiftCardSpend",
    "ItemMatcher", "LineAllocation", "PercentOff", "Reason", "Rejection", "Reward", "Rules", "ShippingOff", "Stacking",
    "Trigger", "UnitSplit", "evaluate",
]
