"""HTTP for promotions (served by the cart service): campaigns, codes, validation."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

import msgspec
from kassa_contract.common import Page
from kassa_contract.errors import KassaError
from kassa_contract.promotions import (
    AssignCode,
    AssignCodes,
    Campaign,
    CampaignGroup,
    CampaignStats,
    Code,
    CodesAssigned,
    CodesCreated,
    CreateCampaign,
    CreateCampaignGroup,
    CreateCodes,
    ImportCodes,
    PromotionSettings,
    UpdateCampaign,
    UpdateCampaignGroup,
    UpdateCode,
    UpdatePromotionSettings,
    ValidateVoucher,
    ValidationResult,
)
from kassa_platform.app import caller
from kassa_platform.db import transaction
from kassa_platform.pagination import DEFAULT_LIMIT, Cursor, Limit, check_limit, query_time
from kassa_promotions.store.codes import parse_statuses
from litestar import Controller, Request, delete, get, patch, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from .config import bump_config_version
from .http import cart_module
from .vouchers import record_refusal, validate_voucher

READ = {"scope": "promotions:read"}
WRITE = {"scope": "promotions:write"}


TextQuery = Annotated[str | None, QueryParameter(name="q", required=False)]
TypeQuery = Annotated[str | None, QueryParameter(name="type", required=False)]
GroupQuery = Annotated[str | None, QueryParameter(name="group", required=False)]
StatusQuery = Annotated[str | None, QueryParameter(name="status", required=False)]
SortQuery = Annotated[str | None, QueryParameter(name="sort", required=False)]
CreatedFromQuery = Annotated[str | None, QueryParameter(name="createdFrom", required=False)]
CreatedToQuery = Annotated[str | None, QueryParameter(name="createdTo", required=False)]
UpdatedFromQuery = Annotated[str | None, QueryParameter(name="updatedFrom", required=False)]
UpdatedToQuery = Annotated[str | None, QueryParameter(name="updatedTo", required=False)]
ArchivedQuery = Annotated[bool, QueryParameter(name="archived", required=False)]


class CampaignController(Controller):
    path = "/api/v1/campaigns"
    tags = ["promotions"]

    @post("/", operation_id="createCampaign", opt=WRITE)
    async def create(self, request: Request[Any, Any, Any], data: JSONBody[CreateCampaign]) -> Campaign:
        m, app_id = cart_module(request), caller(request).app_id
        async with transaction(m.db) as conn:
            campaign = await m.campaigns.create(conn, app_id, data, m.clock.now())
            await bump_config_version(conn, app_id, m.clock.now())  # carts re-read automatic campaigns
            return campaign

    @get("/", operation_id="listCampaigns", opt=READ)
    async def list_campaigns(self, request: Request[Any, Any, Any], limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None,
                             active: Annotated[bool | None, QueryParameter(name="active", required=False)] = None,
                             archived: ArchivedQuery = False, type_: TypeQuery = None, group: GroupQuery = None,
                             status: StatusQuery = None, q: TextQuery = None, sort: SortQuery = None,
                             created_from: CreatedFromQuery = None, created_to: CreatedToQuery = None,
                             updated_from: UpdatedFromQuery = None, updated_to: UpdatedToQuery = None,
                             ) -> Page[Campaign]:
        """Filters combine (AND). `archived=true` lists the archived campaigns (hidden otherwise);
        `sort`: createdAt (default), updatedAt, or either with `-` for newest first."""
        m = cart_module(request)
        async with m.db() as conn:
            items, nxt = await m.campaigns.list(
                conn, caller(request).app_id, limit=check_limit(limit), cursor=cursor, now=m.clock.now(),
                active=active, archived=archived, type_=type_, group_id=group, status=status, q=q,
                sort=sort or "createdAt", created_from=query_time(created_from, "createdFrom"),
                created_to=query_time(created_to, "createdTo"), updated_from=query_time(updated_from, "updatedFrom"),
                updated_to=query_time(updated_to, "updatedTo"))
        return Page(data=items, next_cursor=nxt)

    @get("/{campaign_id:str}", operation_id="getCampaign", opt=READ)
    async def get_campaign(self, request: Request[Any, Any, Any], campaign_id: FromPath[str]) -> Campaign:
        m = cart_module(request)
        async with m.db() as conn:
            return await m.campaigns.get(conn, caller(request).app_id, campaign_id, m.clock.now())

    @post("/{campaign_id:str}/archive", operation_id="archiveCampaign", status_code=200, opt=WRITE)
    async def archive(self, request: Request[Any, Any, Any], campaign_id: FromPath[str]) -> Campaign:
        """Hidden from lists (`?archived=true` shows it) and switched off: it no longer applies."""
        m, app_id = cart_module(request), caller(request).app_id
        async with transaction(m.db) as conn:
            campaign = await m.campaigns.archive(conn, app_id, campaign_id, m.clock.now())
            await bump_config_version(conn, app_id, m.clock.now())
            return campaign

    @post("/{campaign_id:str}/unarchive", operation_id="unarchiveCampaign", status_code=200, opt=WRITE)
    async def unarchive(self, request: Request[Any, Any, Any], campaign_id: FromPath[str]) -> Campaign:
        """Back in the lists, still switched off until activated."""
        m = cart_module(request)
        async with transaction(m.db) as conn:
            return await m.campaigns.unarchive(conn, caller(request).app_id, campaign_id, m.clock.now())

    @delete("/{campaign_id:str}", operation_id="deleteCampaign", status_code=204, opt=WRITE)
    async def delete_campaign(self, request: Request[Any, Any, Any], campaign_id: FromPath[str]) -> None:
        """With its codes; 409 `campaign_has_redemptions` once it was reserved or redeemed (archive it)."""
        m, app_id = cart_module(request), caller(request).app_id
        async with transaction(m.db) as conn:
            await m.campaigns.delete(conn, app_id, campaign_id, m.clock.now())
            await bump_config_version(conn, app_id, m.clock.now())

    @patch("/{campaign_id:str}", operation_id="updateCampaign", opt=WRITE)
    async def update(self, request: Request[Any, Any, Any], campaign_id: FromPath[str],
                     data: JSONBody[UpdateCampaign]) -> Campaign:
        m, app_id = cart_module(request), caller(request).app_id
        async with transaction(m.db) as conn:
            campaign = await m.campaigns.update(conn, app_id, campaign_id, data, m.clock.now())
            await bump_config_version(conn, app_id, m.clock.now())
            return campaign

    @post("/{campaign_id:str}/activate", operation_id="activateCampaign", status_code=200, opt=WRITE)
    async def activate(self, request: Request[Any, Any, Any], campaign_id: FromPath[str]) -> Campaign:
        return await self._set_active(request, campaign_id, True)

    @post("/{campaign_id:str}/deactivate", operation_id="deactivateCampaign", status_code=200, opt=WRITE)
    async def deactivate(self, request: Request[Any, Any, Any], campaign_id: FromPath[str]) -> Campaign:
        return await self._set_active(request, campaign_id, False)

    async def _set_active(self, request: Request[Any, Any, Any], campaign_id: str, active: bool) -> Campaign:
        m, app_id = cart_module(request), caller(request).app_id
        async with transaction(m.db) as conn:
            campaign = await m.campaigns.set_active(conn, app_id, campaign_id, active, m.clock.now())
            await bump_config_version(conn, app_id, m.clock.now())
            return campaign

    @get("/{campaign_id:str}/stats", operation_id="getCampaignStats", opt=READ)
    async def stats(self, request: Request[Any, Any, Any], campaign_id: FromPath[str]) -> CampaignStats:
        m = cart_module(request)
        async with m.db() as conn:
            return await m.campaigns.stats(conn, caller(request).app_id, campaign_id)

    @post("/{campaign_id:str}/codes", operation_id="createCodes", opt=WRITE)
    async def create_codes(self, request: Request[Any, Any, Any], campaign_id: FromPath[str],
                           data: JSONBody[CreateCodes]) -> CodesCreated:
        m = cart_module(request)
        count, sample = await m.codes.create(m.db, caller(request).app_id, campaign_id, data, m.clock.now())
        return CodesCreated(created=count, codes=sample)

    @post("/{campaign_id:str}/codes/import", operation_id="importCodes", opt=WRITE)
    async def import_codes(self, request: Request[Any, Any, Any], campaign_id: FromPath[str]) -> CodesCreated:
        """JSON (`{"codes": [...], "usageLimit", "balance"}`) or a CSV file whose first column is the code."""
        body = await request.body()
        try:
            if request.headers.get("content-type", "").startswith("text/csv"):
                # Converted, not constructed: a CSV's codes meet the same limits as JSON's.
                data = msgspec.convert({"codes": parse_csv_codes(body.decode("utf-8-sig"))}, ImportCodes)
            else:
                data = msgspec.json.decode(body, type=ImportCodes)
        except msgspec.ValidationError as exc:
            message, _, at = str(exc).partition(" - at `$.")
            raise KassaError("validation_error", message, field=at.rstrip("`") or None) from None
        except msgspec.DecodeError:
            raise KassaError("malformed_json", "The request body is not valid JSON", status=400) from None
        except UnicodeDecodeError:
            raise KassaError("validation_error", "The CSV file is not UTF-8 text", field="codes") from None
        m = cart_module(request)
        async with transaction(m.db) as conn:
            count = await m.codes.import_codes(conn, caller(request).app_id, campaign_id, data.codes,
                                               usage_limit=data.usage_limit, balance=data.balance, now=m.clock.now())
        return CodesCreated(created=count, codes=[])

    @get("/{campaign_id:str}/codes", operation_id="listCodes", opt=READ)
    async def list_codes(self, request: Request[Any, Any, Any], campaign_id: FromPath[str], limit: Limit = DEFAULT_LIMIT,
                         cursor: Cursor = None, status: StatusQuery = None) -> Page[Code]:
        """`status`: one or more (comma-separated) of the statuses a code reads as, e.g. `reserved` or
        `created,distributed,assigned,active` (the usable ones)."""
        m = cart_module(request)
        statuses = parse_statuses(status)
        async with m.db() as conn:
            campaign = await m.campaigns.row(conn, caller(request).app_id, campaign_id)
            items, nxt = await m.codes.list(conn, caller(request).app_id, campaign, limit=check_limit(limit),
                                            cursor=cursor, now=m.clock.now(), statuses=statuses)
        return Page(data=items, next_cursor=nxt)


def parse_csv_codes(text: str) -> list[str]:
    rows = [r for r in csv.reader(io.StringIO(text)) if r and r[0].strip()]
    if rows and rows[0][0].strip().lower() == "code":
        rows = rows[1:]  # a header line
    if not rows:
        raise KassaError("validation_error", "The CSV holds no codes", field="codes")
    return [r[0].strip() for r in rows]


class CampaignGroupController(Controller):
    path = "/api/v1/campaign-groups"
    tags = ["promotions"]

    @post("/", operation_id="createCampaignGroup", opt=WRITE)
    async def create(self, request: Request[Any, Any, Any], data: JSONBody[CreateCampaignGroup]) -> CampaignGroup:
        m = cart_module(request)
        async with transaction(m.db) as conn:
            return await m.groups.create(conn, caller(request).app_id, data, m.clock.now())

    @get("/", operation_id="listCampaignGroups", opt=READ)
    async def list_groups(self, request: Request[Any, Any, Any], limit: Limit = DEFAULT_LIMIT,
                          cursor: Cursor = None) -> Page[CampaignGroup]:
        """Newest first; a group's campaigns: `GET /api/v1/campaigns?group={id}`."""
        m = cart_module(request)
        async with m.db() as conn:
            return await m.groups.list(conn, caller(request).app_id, limit=check_limit(limit), cursor=cursor)

    @get("/{group_id:str}", operation_id="getCampaignGroup", opt=READ)
    async def get_group(self, request: Request[Any, Any, Any], group_id: FromPath[str]) -> CampaignGroup:
        m = cart_module(request)
        async with m.db() as conn:
            return await m.groups.get(conn, caller(request).app_id, group_id)

    @patch("/{group_id:str}", operation_id="updateCampaignGroup", opt=WRITE)
    async def update(self, request: Request[Any, Any, Any], group_id: FromPath[str],
                     data: JSONBody[UpdateCampaignGroup]) -> CampaignGroup:
        m = cart_module(request)
        async with transaction(m.db) as conn:
            return await m.groups.update(conn, caller(request).app_id, group_id, data, m.clock.now())

    @delete("/{group_id:str}", operation_id="deleteCampaignGroup", status_code=204, opt=WRITE)
    async def delete_group(self, request: Request[Any, Any, Any], group_id: FromPath[str]) -> None:
        """Its campaigns leave the group and keep running."""
        m = cart_module(request)
        async with transaction(m.db) as conn:
            await m.groups.delete(conn, caller(request).app_id, group_id, m.clock.now())


class PromotionSettingsController(Controller):
    path = "/api/v1/promotion-settings"
    tags = ["promotions"]

    @get("/", operation_id="getPromotionSettings", opt=READ)
    async def get_settings(self, request: Request[Any, Any, Any]) -> PromotionSettings:
        m = cart_module(request)
        async with m.db() as conn:
            return await m.config.get_promotion_settings(conn, caller(request).app_id)

    @put("/", operation_id="updatePromotionSettings", opt=WRITE)
    async def put_settings(self, request: Request[Any, Any, Any],
                           data: JSONBody[UpdatePromotionSettings]) -> PromotionSettings:
        m = cart_module(request)
        async with transaction(m.db) as conn:
            return await m.config.set_promotion_settings(conn, caller(request).app_id, data, m.clock.now())


class CodeController(Controller):
    path = "/api/v1/codes"
    tags = ["promotions"]

    @post("/assign", operation_id="assignCodes", status_code=200, opt=WRITE)
    async def assign_many(self, request: Request[Any, Any, Any], data: JSONBody[AssignCodes]) -> CodesAssigned:
        """All or nothing: a refused item fails the call, naming `assignments[i]` (details.index)."""
        m = cart_module(request)
        async with transaction(m.db) as conn:
            return CodesAssigned(data=await m.codes.assign_many(conn, caller(request).app_id, data, m.clock.now()))

    @get("/{code:str}", operation_id="getCode", opt=READ)
    async def get_code(self, request: Request[Any, Any, Any], code: FromPath[str]) -> Code:
        m = cart_module(request)
        async with m.db() as conn:
            return await m.codes.get(conn, caller(request).app_id, code, m.clock.now())

    @patch("/{code:str}", operation_id="updateCode", opt=WRITE)
    async def update_code(self, request: Request[Any, Any, Any], code: FromPath[str], data: JSONBody[UpdateCode]) -> Code:
        m = cart_module(request)
        async with transaction(m.db) as conn:
            return await m.codes.update(conn, caller(request).app_id, code, data, m.clock.now())

    @post("/{code:str}/assign", operation_id="assignCode", status_code=200, opt=WRITE)
    async def assign(self, request: Request[Any, Any, Any], code: FromPath[str], data: JSONBody[AssignCode]) -> Code:
        return await self._status(request, code, "assigned", data.customer)

    @post("/{code:str}/distribute", operation_id="distributeCode", status_code=200, opt=WRITE)
    async def distribute(self, request: Request[Any, Any, Any], code: FromPath[str]) -> Code:
        return await self._status(request, code, "distributed")

    @post("/{code:str}/deactivate", operation_id="deactivateCode", status_code=200, opt=WRITE)
    async def deactivate(self, request: Request[Any, Any, Any], code: FromPath[str]) -> Code:
        return await self._status(request, code, "deactivated")

    async def _status(self, request: Request[Any, Any, Any], code: str, status: str, customer: str | None = None) -> Code:
        m = cart_module(request)
        async with transaction(m.db) as conn:
            return await m.codes.set_status(conn, caller(request).app_id, code, status, m.clock.now(), customer)


class VoucherController(Controller):
    path = "/api/v1/vouchers"
    tags = ["promotions"]

    @post("/validate", operation_id="validateVoucher", status_code=200, opt=READ)
    async def validate(self, request: Request[Any, Any, Any], data: JSONBody[ValidateVoucher]) -> ValidationResult:
        m, app_id = cart_module(request), caller(request).app_id
        async with m.db() as conn:
            result = await validate_voucher(conn, m, app_id, data)
        if not result.valid:  # the rare path: a refusal is recorded as a `rejected` redemption
            await record_refusal(m, app_id, data.code, result.reason, result.message, currency=data.currency,
                                 customer=data.customer_id or data.customer_email)
        return result


ROUTES = [CampaignController, CampaignGroupController, PromotionSettingsController, CodeController, VoucherController]
