"""Promotions: campaigns and their groups, voucher codes, validating a code, redemptions, and the
application's promotion settings."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from kassa_contract.base import UNSET, UnsetT
from kassa_contract.common import Page
from kassa_contract.promotions import (
    AssignCode,
    AssignCodes,
    Campaign,
    CampaignGroup,
    CampaignStats,
    CampaignType,
    CancelRedemptions,
    Code,
    CodeAssignment,
    CodesAssigned,
    CodesCreated,
    CreateCampaign,
    CreateCampaignGroup,
    CreateCodes,
    ImportCodes,
    PromotionSettings,
    Redemption,
    Stacking,
    Trigger,
    UpdateCampaign,
    UpdateCampaignGroup,
    UpdateCode,
    UpdatePromotionSettings,
    ValidateLine,
    ValidateVoucher,
    ValidationResult,
)
from kassa_contract.redemptions import (
    Basket,
    BasketRedemption,
    ConfirmRedemption,
    CreateRedemption,
    RedemptionRollback,
    RollbackRedemption,
)

from .._base import (
    Call,
    M,
    RequestOptions,
    Resource,
    operation,
    paginated,
    returns,
    returns_list,
    returns_nothing,
    returns_page,
)
from ._util import iso, seg

CAMPAIGNS = "/api/v1/campaigns"
CODES = "/api/v1/codes"
GROUPS = "/api/v1/campaign-groups"
REDEMPTIONS = "/api/v1/redemptions"


class Campaigns(Resource[M]):
    """`client.campaigns` (scopes `promotions:read`, `promotions:write`). Rewards, items and rules are the
    promotions engine's JSON shapes (shared/promotions/README.md)."""

    @operation
    def create(self, *, name: str, reward: dict[str, Any], trigger: Trigger = "code", items: dict[str, Any] | None = None,
               rules: dict[str, Any] | None = None, priority: int = 0, stacking: Stacking = "stackable",
               starts_at: datetime | None = None, ends_at: datetime | None = None, redemption_grace_hours: int = 0,
               currency: str | None = None, usage_limit: int | None = None, budget: int | None = None,
               active: bool = True, group_id: str | None = None,
               options: RequestOptions | None = None) -> Call[Campaign]:
        """Create a campaign: `trigger="automatic"` applies to every cart it matches, `"code"` needs a voucher code."""
        body = CreateCampaign(name=name, reward=reward, trigger=trigger, items=items, rules=rules, priority=priority,
                              stacking=stacking, starts_at=starts_at, ends_at=ends_at,
                              redemption_grace_hours=redemption_grace_hours, currency=currency,
                              usage_limit=usage_limit, budget=budget, active=active, group_id=group_id)
        return Call("POST", CAMPAIGNS, returns(Campaign), body, options=options)

    @paginated
    def list(self, *, active: bool | None = None, archived: bool | None = None, type: CampaignType | None = None,
             group: str | None = None, status: str | None = None, q: str | None = None,
             created_from: datetime | str | None = None, created_to: datetime | str | None = None,
             updated_from: datetime | str | None = None, updated_to: datetime | str | None = None,
             sort: str | None = None, limit: int | None = None, cursor: str | None = None,
             options: RequestOptions | None = None) -> Call[Page[Campaign]]:
        """The campaigns, a page at a time. Filters combine: `type` (promotion, discount_codes,
        gift_cards), `group` (a group id), `status` (active, scheduled, expired, inactive), `q` (name
        contains, or a code's exact text), time ranges (`from <= t < to`); `archived=True` lists the
        archived ones instead. `sort`: createdAt (default), updatedAt, `-` first for newest first."""
        params = {"active": active, "archived": archived, "type": type, "group": group, "status": status, "q": q,
                  "createdFrom": iso(created_from), "createdTo": iso(created_to),
                  "updatedFrom": iso(updated_from), "updatedTo": iso(updated_to), "sort": sort, "limit": limit,
                  "cursor": cursor}
        return Call("GET", CAMPAIGNS, returns_page(Campaign), params=params, options=options)

    @operation
    def retrieve(self, campaign_id: str, *, options: RequestOptions | None = None) -> Call[Campaign]:
        """One campaign."""
        return Call("GET", f"{CAMPAIGNS}/{seg(campaign_id)}", returns(Campaign), options=options)

    @operation
    def update(self, campaign_id: str, *, name: str | UnsetT = UNSET, reward: dict[str, Any] | UnsetT = UNSET,
               items: dict[str, Any] | None | UnsetT = UNSET, rules: dict[str, Any] | None | UnsetT = UNSET,
               priority: int | UnsetT = UNSET, stacking: Stacking | UnsetT = UNSET,
               starts_at: datetime | None | UnsetT = UNSET, ends_at: datetime | None | UnsetT = UNSET,
               redemption_grace_hours: int | UnsetT = UNSET, usage_limit: int | None | UnsetT = UNSET,
               budget: int | None | UnsetT = UNSET, group_id: str | None | UnsetT = UNSET,
               options: RequestOptions | None = None) -> Call[Campaign]:
        """Change the fields given; `None` clears one that may be empty (`group_id=None`: out of its group)."""
        body = UpdateCampaign(name=name, reward=reward, items=items, rules=rules, priority=priority, stacking=stacking,
                              starts_at=starts_at, ends_at=ends_at, redemption_grace_hours=redemption_grace_hours,
                              usage_limit=usage_limit, budget=budget, group_id=group_id)
        return Call("PATCH", f"{CAMPAIGNS}/{seg(campaign_id)}", returns(Campaign), body, options=options)

    @operation
    def activate(self, campaign_id: str, *, options: RequestOptions | None = None) -> Call[Campaign]:
        """Turn the campaign on."""
        return Call("POST", f"{CAMPAIGNS}/{seg(campaign_id)}/activate", returns(Campaign), options=options)

    @operation
    def deactivate(self, campaign_id: str, *, options: RequestOptions | None = None) -> Call[Campaign]:
        """Turn the campaign off (carts stop getting it on their next pricing)."""
        return Call("POST", f"{CAMPAIGNS}/{seg(campaign_id)}/deactivate", returns(Campaign), options=options)

    @operation
    def archive(self, campaign_id: str, *, options: RequestOptions | None = None) -> Call[Campaign]:
        """Hide the campaign from lists and switch it off (it no longer applies)."""
        return Call("POST", f"{CAMPAIGNS}/{seg(campaign_id)}/archive", returns(Campaign), options=options)

    @operation
    def unarchive(self, campaign_id: str, *, options: RequestOptions | None = None) -> Call[Campaign]:
        """Back in the lists, still off until `activate`."""
        return Call("POST", f"{CAMPAIGNS}/{seg(campaign_id)}/unarchive", returns(Campaign), options=options)

    @operation
    def delete(self, campaign_id: str, *, options: RequestOptions | None = None) -> Call[None]:
        """Delete the campaign and its codes; `CampaignHasRedemptionsError` (409) once it was used."""
        return Call("DELETE", f"{CAMPAIGNS}/{seg(campaign_id)}", returns_nothing, options=options)

    @operation
    def stats(self, campaign_id: str, *, options: RequestOptions | None = None) -> Call[CampaignStats]:
        """Uses, reserved uses, discount granted and what is left of its limits."""
        return Call("GET", f"{CAMPAIGNS}/{seg(campaign_id)}/stats", returns(CampaignStats), options=options)


class Codes(Resource[M]):
    """`client.codes`: a campaign's voucher codes (scopes `promotions:read`, `promotions:write`)."""

    @operation
    def create(self, campaign_id: str, *, code: str | None = None, count: int | None = None, prefix: str = "",
               pattern: str = "########", usage_limit: int | None = None, balance: int | None = None,
               assigned_to: str | None = None, expires_at: datetime | None = None, external_id: str | None = None,
               metadata: dict[str, Any] | None = None, options: RequestOptions | None = None) -> Call[CodesCreated]:
        """One generic `code` (many uses), or `count` unique codes from `prefix` + `pattern` (`#` is a random character)."""
        body = CreateCodes(code=code, count=count, prefix=prefix, pattern=pattern, usage_limit=usage_limit,
                           balance=balance, assigned_to=assigned_to, expires_at=expires_at, external_id=external_id,
                           metadata=metadata)
        return Call("POST", f"{CAMPAIGNS}/{seg(campaign_id)}/codes", returns(CodesCreated), body, options=options)

    @operation
    def import_codes(self, campaign_id: str, *, codes: Iterable[str], usage_limit: int | None = 1,
                     balance: int | None = None, options: RequestOptions | None = None) -> Call[CodesCreated]:
        """Import existing codes (up to 100,000) into a campaign."""
        body = ImportCodes(codes=list(codes), usage_limit=usage_limit, balance=balance)
        return Call("POST", f"{CAMPAIGNS}/{seg(campaign_id)}/codes/import", returns(CodesCreated), body,
                    options=options)

    @paginated
    def list(self, campaign_id: str, *, status: str | None = None, limit: int | None = None, cursor: str | None = None,
             options: RequestOptions | None = None) -> Call[Page[Code]]:
        """A campaign's codes, a page at a time; `status`: one or more, comma-separated, of the statuses a
        code reads as (created, distributed, assigned, active, reserved, redeemed, expired, deactivated)."""
        return Call("GET", f"{CAMPAIGNS}/{seg(campaign_id)}/codes", returns_page(Code),
                    params={"status": status, "limit": limit, "cursor": cursor}, options=options)

    @operation
    def retrieve(self, code: str, *, options: RequestOptions | None = None) -> Call[Code]:
        """One code: status, uses, balance."""
        return Call("GET", f"{CODES}/{seg(code)}", returns(Code), options=options)

    @operation
    def update(self, code: str, *, external_id: str | None | UnsetT = UNSET,
               metadata: dict[str, Any] | None | UnsetT = UNSET, expires_at: datetime | None | UnsetT = UNSET,
               options: RequestOptions | None = None) -> Call[Code]:
        """Change the code's external id, metadata or own expiry."""
        body = UpdateCode(external_id=external_id, metadata=metadata, expires_at=expires_at)
        return Call("PATCH", f"{CODES}/{seg(code)}", returns(Code), body, options=options)

    @operation
    def assign_many(self, assignments: Iterable[CodeAssignment | tuple[str, str]], *,
                    options: RequestOptions | None = None) -> Call[builtins.list[Code]]:
        """Assign many codes (text or id) to customers in one call, all or nothing: a refused item
        fails the call and names itself (`error.field` = `assignments[i].code`)."""
        items = [a if isinstance(a, CodeAssignment) else CodeAssignment(code=a[0], customer=a[1]) for a in assignments]
        return Call("POST", f"{CODES}/assign", _assigned, AssignCodes(assignments=items), options=options)

    @operation
    def assign(self, code: str, *, customer: str, options: RequestOptions | None = None) -> Call[Code]:
        """Reserve the code for one customer (an email or your customer id)."""
        return Call("POST", f"{CODES}/{seg(code)}/assign", returns(Code), AssignCode(customer=customer),
                    options=options)

    @operation
    def distribute(self, code: str, *, options: RequestOptions | None = None) -> Call[Code]:
        """Mark the code as handed out."""
        return Call("POST", f"{CODES}/{seg(code)}/distribute", returns(Code), options=options)

    @operation
    def deactivate(self, code: str, *, options: RequestOptions | None = None) -> Call[Code]:
        """Stop the code from applying; `CodeRedeemedError` (409) for a redeemed code."""
        return Call("POST", f"{CODES}/{seg(code)}/deactivate", returns(Code), options=options)


class CampaignGroups(Resource[M]):
    """`client.campaign_groups`: named sets of campaigns; a campaign is in at most one (its `group_id`)."""

    @operation
    def create(self, *, name: str, description: str | None = None, metadata: dict[str, Any] | None = None,
               options: RequestOptions | None = None) -> Call[CampaignGroup]:
        """Create a group (a season, a channel) to put campaigns in."""
        body = CreateCampaignGroup(name=name, description=description, metadata=metadata)
        return Call("POST", GROUPS, returns(CampaignGroup), body, options=options)

    @paginated
    def list(self, *, limit: int | None = None, cursor: str | None = None,
             options: RequestOptions | None = None) -> Call[Page[CampaignGroup]]:
        """Newest first; a group's campaigns: `client.campaigns.list(group=...)`."""
        return Call("GET", GROUPS, returns_page(CampaignGroup), params={"limit": limit, "cursor": cursor},
                    options=options)

    @operation
    def retrieve(self, group_id: str, *, options: RequestOptions | None = None) -> Call[CampaignGroup]:
        """One group, with how many campaigns it holds."""
        return Call("GET", f"{GROUPS}/{seg(group_id)}", returns(CampaignGroup), options=options)

    @operation
    def update(self, group_id: str, *, name: str | UnsetT = UNSET, description: str | None | UnsetT = UNSET,
               metadata: dict[str, Any] | None | UnsetT = UNSET,
               options: RequestOptions | None = None) -> Call[CampaignGroup]:
        """Change the fields given; `None` clears `description` or `metadata`."""
        body = UpdateCampaignGroup(name=name, description=description, metadata=metadata)
        return Call("PATCH", f"{GROUPS}/{seg(group_id)}", returns(CampaignGroup), body, options=options)

    @operation
    def delete(self, group_id: str, *, options: RequestOptions | None = None) -> Call[None]:
        """Delete the group; its campaigns leave it and keep running."""
        return Call("DELETE", f"{GROUPS}/{seg(group_id)}", returns_nothing, options=options)


class PromotionSettingsResource(Resource[M]):
    """`client.promotion_settings`: how discounts combine on every cart of the application."""

    @operation
    def retrieve(self, *, options: RequestOptions | None = None) -> Call[PromotionSettings]:
        """The application's promotion settings."""
        return Call("GET", "/api/v1/promotion-settings", returns(PromotionSettings), options=options)

    @operation
    def update(self, *, allow_multiple_percentage_basket: bool,
               options: RequestOptions | None = None) -> Call[PromotionSettings]:
        """Whether several percent-off-basket discounts stack on one cart (carts use it at their next change)."""
        body = UpdatePromotionSettings(allow_multiple_percentage_basket=allow_multiple_percentage_basket)
        return Call("PUT", "/api/v1/promotion-settings", returns(PromotionSettings), body, options=options)


class Vouchers(Resource[M]):
    """`client.vouchers`: check a code against a basket without reserving anything."""

    @operation
    def validate(self, *, code: str, currency: str, line_items: Iterable[ValidateLine] = (), shipping_amount: int = 0,
                 customer_email: str | None = None, customer_id: str | None = None,
                 options: RequestOptions | None = None) -> Call[ValidationResult]:
        """Whether `code` applies to these lines, and the discount it would give (or the reason it does not)."""
        body = ValidateVoucher(code=code, currency=currency, line_items=list(line_items),
                               shipping_amount=shipping_amount, customer_email=customer_email, customer_id=customer_id)
        return Call("POST", "/api/v1/vouchers/validate", returns(ValidationResult), body, options=options)


class Redemptions(Resource[M]):
    """`client.redemptions`: every use of a campaign (reserved, confirmed, released, rejected with a reason)."""

    @paginated
    def list(self, *, campaign_id: str | None = None, status: str | None = None,
             created_from: datetime | str | None = None, created_to: datetime | str | None = None,
             limit: int | None = None, cursor: str | None = None,
             options: RequestOptions | None = None) -> Call[Page[Redemption]]:
        """Redemptions, newest first, a page at a time."""
        params = {"campaignId": campaign_id, "status": status, "createdFrom": iso(created_from),
                  "createdTo": iso(created_to), "limit": limit, "cursor": cursor}
        return Call("GET", REDEMPTIONS, returns_page(Redemption), params=params, options=options)

    @operation
    def export(self, *, campaign_id: str | None = None, status: str | None = None,
               created_from: datetime | str | None = None, created_to: datetime | str | None = None,
               options: RequestOptions | None = None) -> Call[str]:
        """Every matching redemption as CSV text (header line first)."""
        params = {"campaignId": campaign_id, "status": status, "createdFrom": iso(created_from),
                  "createdTo": iso(created_to)}
        return Call("GET", f"{REDEMPTIONS}/export", _text, params=params, options=options)

    @operation
    def cancel(self, *, order_id: str, options: RequestOptions | None = None) -> Call[builtins.list[Redemption]]:
        """Give back the usage, budget and gift-card value an order's confirmed redemptions took."""
        return Call("POST", f"{REDEMPTIONS}/cancel", returns_list(Redemption), CancelRedemptions(order_id=order_id),
                    options=options)

    # -- two-step redemptions (tills and other checkouts: docs/redemptions.md)

    @operation
    def reserve(self, *, codes: Iterable[str], basket: Basket | None = None, cart_id: str | None = None,
                customer_id: str | None = None, email: str | None = None, hold_minutes: int = 15,
                options: RequestOptions | None = None) -> Call[BasketRedemption]:
        """Step one: hold the discounts of `codes` on a basket snapshot or a cart for `hold_minutes`."""
        body = CreateRedemption(codes=list(codes), basket=basket, cart_id=cart_id, customer_id=customer_id,
                                email=email, hold_minutes=hold_minutes)
        return Call("POST", REDEMPTIONS, returns(BasketRedemption), body, options=options)

    @operation
    def retrieve(self, redemption_id: str, *, options: RequestOptions | None = None) -> Call[BasketRedemption]:
        """A two-step redemption (`rdm_…`) with its allocations and rollbacks."""
        return Call("GET", f"{REDEMPTIONS}/{seg(redemption_id)}", returns(BasketRedemption), options=options)

    @operation
    def confirm(self, redemption_id: str, *, transaction_id: str,
                options: RequestOptions | None = None) -> Call[BasketRedemption]:
        """Step two: the held discounts are redeemed. A retry with the same `transaction_id` returns the
        same redemption; after the hold expired: `RedemptionExpiredError`."""
        return Call("POST", f"{REDEMPTIONS}/{seg(redemption_id)}/confirm", returns(BasketRedemption),
                    ConfirmRedemption(transaction_id=transaction_id), options=options)

    @operation
    def release(self, redemption_id: str, *, options: RequestOptions | None = None) -> Call[BasketRedemption]:
        """Give a held redemption back (the sale did not happen). Idempotent."""
        return Call("POST", f"{REDEMPTIONS}/{seg(redemption_id)}/cancel", returns(BasketRedemption), options=options)

    @operation
    def rollback(self, redemption_id: str, *, reason: str, amount: int | None = None,
                 options: RequestOptions | None = None) -> Call[RedemptionRollback]:
        """A return: give back `amount` of a confirmed redemption's discounts (None: all that is left)."""
        return Call("POST", f"{REDEMPTIONS}/{seg(redemption_id)}/rollback", returns(RedemptionRollback),
                    RollbackRedemption(reason=reason, amount=amount), options=options)

    @operation
    def find_by_transaction(self, transaction_id: str, *,
                            options: RequestOptions | None = None) -> Call[builtins.list[Redemption]]:
        """The redemption lines of the two-step redemption confirmed with `transaction_id` (empty: none);
        each names it in `redemption_id`."""
        return Call("GET", REDEMPTIONS, returns_list(Redemption), params={"transactionId": transaction_id},
                    options=options)


def _assigned(content: bytes) -> builtins.list[Code]:
    return returns(CodesAssigned)(content).data


def _text(content: bytes) -> str:
    return content.decode("utf-8")
