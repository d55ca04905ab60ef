"""Promotions wire types (docs/contract.md, "Promotions"): campaigns, codes, validation, redemptions.

A campaign's `reward`, `items` and `rules` are the promotions engine's own shapes (documented
in shared/promotions/README.md); they travel as JSON objects here, so that this package keeps
depending on msgspec alone, and the cart service validates them against the engine's types.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from msgspec import Meta

from .base import UNSET, Model, Request, UnsetT
from .common import Amount, CurrencyCode, Email, Name

Trigger = Literal["automatic", "code"]
Stacking = Literal["stackable", "exclusive", "stop"]
CodeText = Annotated[str, Meta(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")]
Limit = Annotated[int, Meta(ge=1, le=10**9)]


class CreateCampaign(Request):
    name: Name
    reward: dict[str, Any]
    trigger: Trigger = "code"
    items: dict[str, Any] | None = None
    rules: dict[str, Any] | None = None
    priority: Annotated[int, Meta(ge=-1000, le=1000)] = 0
    stacking: Stacking = "stackable"
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    redemption_grace_hours: Annotated[int, Meta(ge=0, le=24 * 365)] = 0
    currency: CurrencyCode | None = None
    usage_limit: Limit | None = None
    budget: Amount | None = None
    active: bool = True


class UpdateCampaign(Request):
    name: Name | UnsetT = UNSET
    reward: dict[str, Any] | UnsetT = UNSET
    items: dict[str, Any] | None | UnsetT = UNSET
    rules: dict[str, Any] | None | UnsetT = UNSET
    priority: Annotated[int, Meta(ge=-1000, le=1000)] | UnsetT = UNSET
    stacking: Stacking | UnsetT = UNSET
    starts_at: datetime | None | UnsetT = UNSET
    ends_at: datetime | None | UnsetT = UNSET
    redemption_grace_hours: Annotated[int, Meta(ge=0, le=24 * 365)] | UnsetT = UNSET
    usage_limit: Limit | None | UnsetT = UNSET
    budget: Amount | None | UnsetT = UNSET


class Campaign(Model):
    id: str
    name: str
    trigger: Trigger
    reward: dict[str, Any]
    items: dict[str, Any] | None
    rules: dict[str, Any] | None
    priority: int
    stacking: Stacking
    starts_at: datetime | None
    ends_at: datetime | None
    redemption_grace_hours: int
    currency: CurrencyCode | None
    usage_limit: int | None
    budget: int | None
    active: bool
    created_at: datetime
    updated_at: datetime


class CampaignStats(Model):
    campaign_id: str
    uses: int
    reserved_uses: int
    uses_left: int | None
    discount_granted: int
    discount_reserved: int
    budget_left: int | None
    codes: int


class CreateCodes(Request):
    """Either one `code` (a generic code, many uses) or `count` unique codes made from a pattern."""

    code: CodeText | None = None
    count: Annotated[int, Meta(ge=1, le=100_000)] | None = None
    prefix: Annotated[str, Meta(max_length=20, pattern=r"^[A-Za-z0-9_-]*$")] = ""
    pattern: Annotated[str, Meta(min_length=4, max_length=40, pattern=r"^[#A-Za-z0-9_-]*#[#A-Za-z0-9_-]*$")] = "########"
    usage_limit: Limit | None = None
    balance: Amount | None = None
    assigned_to: Annotated[str, Meta(min_length=1, max_length=254)] | None = None


class ImportCodes(Request):
    codes: Annotated[list[CodeText], Meta(min_length=1, max_length=100_000)]
    usage_limit: Limit | None = 1
    balance: Amount | None = None


class AssignCode(Request):
    customer: Annotated[str, Meta(min_length=1, max_length=254)]


class Code(Model):
    id: str
    campaign_id: str
    code: str
    status: str
    usage_limit: int | None
    uses: int
    reserved_uses: int
    balance: int | None
    assigned_to: str | None
    created_at: datetime


class CodesCreated(Model):
    created: int
    codes: list[Code]


class ApplyDiscountCode(Request):
    code: Annotated[str, Meta(min_length=1, max_length=64)]


class ValidateLine(Request):
    unit_price: Amount
    quantity: Annotated[int, Meta(ge=1, le=9999)] = 1
    id: str | None = None
    product_id: str | None = None
    variant_id: str | None = None
    categories: list[str] = []


class ValidateVoucher(Request):
    code: Annotated[str, Meta(min_length=1, max_length=64)]
    currency: CurrencyCode
    line_items: Annotated[list[ValidateLine], Meta(max_length=250)] = []
    shipping_amount: Amount = 0
    customer_email: Email | None = None
    customer_id: str | None = None


class DiscountLine(Model):
    line_id: str
    amount: int


class ValidatedDiscount(Model):
    campaign_id: str
    code: str | None
    name: str
    amount: int
    lines: list[DiscountLine]
    shipping: int
    clamped: bool
    note: str | None = None


class ValidationResult(Model):
    valid: bool
    code: str
    discount_total: int
    discounts: list[ValidatedDiscount]
    reason: str | None = None
    message: str | None = None


class CancelRedemptions(Request):
    """Give back what an order's confirmed redemptions took (a refund or a return)."""

    order_id: Annotated[str, Meta(min_length=1, max_length=60)]


class Redemption(Model):
    id: str
    campaign_id: str
    code: str | None
    cart_id: str | None
    order_id: str | None
    customer: str | None
    amount: int
    currency: CurrencyCode
    status: str
    reason: str | None
    message: str | None
    created_at: datetime
    # The two-step redemption (`rdm_…`, docs/redemptions.md) this line belongs to, and its transaction.
    redemption_id: str | None = None
    transaction_id: str | None = None
