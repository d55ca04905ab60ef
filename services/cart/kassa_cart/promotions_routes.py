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
    Campaign,
    CampaignStats,
    Code,
    CodesCreated,
    CreateCampaign,
    CreateCodes,
    ImportCodes,
    UpdateCampaign,
    ValidateVoucher,
    ValidationResult,
)
from kassa_platform.app import caller
from kassa_platform.db import transaction
from kassa_platform.pagination import DEFAULT_LIMIT, Cursor, Limit, check_limit
from litestar import Controller, Request, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter

from .config import bump_config_version
from .http import cart_module
from .vouchers import validate_voucher

READ = {"scope": "promotions:read"}
WRITE = {"scope": "promotions:write"}


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
                             active: Annotated[bool | None, QueryParameter(name="active", required=False)] = None
                             ) -> Page[Campaign]:
        m = cart_module(request)
        async with m.db() as conn:
            items, nxt = await m.campaigns.list(conn, caller(request).app_id, limit=check_limit(limit), cursor=cursor,
                                                active=active)
        return Page(data=items, next_cursor=nxt)

    @get("/{campaign_id:str}", operation_id="getCampaign", opt=READ)
    async def get_campaign(self, request: Request[Any, Any, Any], campaign_id: FromPath[str]) -> Campaign:
        m = cart_module(request)
        async with m.db() as conn:
            return await m.campaigns.get(conn, caller(request).app_id, campaign_id)

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
        if request.headers.get("content-type", "").startswith("text/csv"):
            data = ImportCodes(codes=parse_csv_codes(body.decode("utf-8-sig")))
        else:
            try:
                data = msgspec.json.decode(body, type=ImportCodes)
            except msgspec.ValidationError as exc:
                message, _, at = str(exc).partition(" - at `$.")
                raise KassaError("validation_error", message, field=at.rstrip("`") or None) from None
            except msgspec.DecodeError:
                raise KassaError("malformed_json", "The request body is not valid JSON", status=400) from None
        m = cart_module(request)
        async with transaction(m.db) as conn:
            count = await m.codes.import_codes(conn, caller(request).app_id, campaign_id, data.codes,
                                               usage_limit=data.usage_limit, balance=data.balance, now=m.clock.now())
        return CodesCreated(created=count, codes=[])

    @get("/{campaign_id:str}/codes", operation_id="listCodes", opt=READ)
    async def list_codes(self, request: Request[Any, Any, Any], campaign_id: FromPath[str], limit: Limit = DEFAULT_LIMIT,
                         cursor: Cursor = None,
                         status: Annotated[str | None, QueryParameter(name="status", required=False)] = None
                         ) -> Page[Code]:
        m = cart_module(request)
        async with m.db() as conn:
            await m.campaigns.row(conn, caller(request).app_id, campaign_id)
            items, nxt = await m.codes.list(conn, caller(request).app_id, campaign_id, limit=check_limit(limit),
                                            cursor=cursor, status=status)
        return Page(data=items, next_cursor=nxt)


def parse_csv_codes(text: str) -> list[str]:
    rows = [r for r in csv.reader(io.StringIO(text)) if r and r[0].strip()]
    if rows and rows[0][0].strip().lower() == "code":
        rows = rows[1:]  # a header line
    if not rows:
        raise KassaError("validation_error", "The CSV holds no codes", field="codes")
    return [r[0].strip() for r in rows]


class CodeController(Controller):
    path = "/api/v1/codes"
    tags = ["promotions"]

    @get("/{code:str}", operation_id="getCode", opt=READ)
    async def get_code(self, request: Request[Any, Any, Any], code: FromPath[str]) -> Code:
        m = cart_module(request)
        async with m.db() as conn:
            return await m.codes.get(conn, caller(request).app_id, code)

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
        m = cart_module(request)
        async with m.db() as conn:
            return await validate_voucher(conn, m, caller(request).app_id, data)


ROUTES = [CampaignController, CodeController, VoucherController]
