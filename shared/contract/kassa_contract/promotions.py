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
from .common import Amount, CurrencyCode, Email, Metadata, Name, ShortText

Trigger = Literal["automatic", "code"]
Stacking = Literal["stackable", "exclusive", "stop"]
CodeText = Annotated[str, Meta(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")]
Limit = Annotated[int, Meta(ge=1, le=10**9)]
ExternalId = Annotated[str, Meta(min_length=1, max_length=100)]
GroupId = Annotated[str, Meta(min_length=1, max_length=40)]
# `type` is derived from trigger and reward: automatic campaigns are promotions, a gift-card reward
# makes gift cards, every other code campaign is discount codes.
CampaignType = Literal["promotion", "discount_codes", "gift_cards"]
CAMPAIGN_TYPES: tuple[str, ...] = ("promotion", "discount_codes", "gift_cards")
# Computed from the clock on every read: `expired` once `endsAt` passed, else `inactive` while
# switched off, else `scheduled` before `startsAt`, else `active`.
CampaignStatus = Literal["active", "scheduled", "expired", "inactive"]
CAMPAIGN_STATUSES: tuple[str, ...] = ("active", "scheduled", "expired", "inactive")
CAMPAIGN_SORTS: tuple[str, ...] = ("createdAt", "-createdAt", "updatedAt", "-updatedAt")
# A code's status as read: `reserved` only while a live hold exists, `expired` as soon as its own
# `expiresAt` or its campaign's `endsAt` passed (no job needed). created/distributed/assigned/active
# are the usable ones (how far the code went out to shoppers).
CodeStatus = Literal["created", "distributed", "assigned", "active", "reserved", "redeemed", "expired",
                     "deactivated"]
CODE_STATUSES: tuple[str, ...] = ("created", "distributed", "assigned", "active", "reserved", "redeemed", "expired",
                                  "deactivated")


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
    group_id: GroupId | None = None


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
    group_id: GroupId | None | UnsetT = UNSET  # null takes the campaign out of its group


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
    type: CampaignType = "discount_codes"
    status: CampaignStatus = "active"
    group_id: str | None = None
    archived: bool = False
    archived_at: datetime | None = None


class CreateCampaignGroup(Request):
    name: Name
    description: ShortText | None = None
    metadata: Metadata | None = None


class UpdateCampaignGroup(Request):
    name: Name | UnsetT = UNSET
    description: ShortText | None | UnsetT = UNSET
    metadata: Metadata | None | UnsetT = UNSET


class CampaignGroup(Model):
    id: str
    name: str
    description: str | None
    metadata: dict[str, Any] | None
    campaigns: int  # how many campaigns are in the group
    created_at: datetime
    updated_at: datetime


class PromotionSettings(Model):
    """How the engine combines discounts for every cart of the application."""

    allow_multiple_percentage_basket: bool  # several percent-off-basket discounts may stack


class UpdatePromotionSettings(Request):
    allow_multiple_percentage_basket: bool


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
    expires_at: datetime | None = None
    external_id: ExternalId | None = None  # one generic code only: unique codes have none
    metadata: Metadata | None = None


class UpdateCode(Request):
    external_id: ExternalId | None | UnsetT = UNSET
    metadata: Metadata | None | UnsetT = UNSET
    expires_at: datetime | None | UnsetT = UNSET


class ImportCodes(Request):
    codes: Annotated[list[CodeText], Meta(min_length=1, max_length=100_000)]
    usage_limit: Limit | None = 1
    balance: Amount | None = None


class AssignCode(Request):
    customer: Annotated[str, Meta(min_length=1, max_length=254)]


class CodeAssignment(Request):
    code: Annotated[str, Meta(min_length=1, max_length=64)]  # the code's text or its id
    customer: Annotated[str, Meta(min_length=1, max_length=254)]


class AssignCodes(Request):
    """Many codes to customers at once: all or nothing (the first refused item fails the call and
    names itself as `assignments[i]`)."""

    assignments: Annotated[list[CodeAssignment], Meta(min_length=1, max_length=1000)]


class CodesAssigned(Model):
    data: list["Code"]


class Code(Model):
    id: str
    campaign_id: str
    code: str
    status: CodeStatus
    usage_limit: int | None
    uses: int
    reserved_uses: int
    balance: int | None
    assigned_to: str | None
    created_at: datetime
    expires_at: datetime | None = None
    external_id: str | None = None
    metadata: dict[str, Any] | None = None
    updated_at: datetime | None = None


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
