"""Campaigns: persisted definitions, turned into the engine's `Campaign` with what remains of
their limits, the statistics a merchant reads, and their lifecycle (groups, archive, delete).

`status` is computed from the clock on every read and in every list filter (never stored), so a
campaign whose `endsAt` passed is `expired` at once, whatever jobs ran. The definition stays the
engine's source; `type`, `starts_at` and `ends_at` are copied into columns so lists can filter and
index them.

Archiving switches a campaign off as well (Voucherify's and Vouchery's users expect an archived
campaign to stop applying); unarchiving leaves it off until it is activated again, and an archived
campaign cannot be activated.
"""

from __future__ import annotations

import builtins
import contextlib
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa
from kassa_contract.base import UNSET
from kassa_contract.errors import KassaError
from kassa_contract.promotions import (
    CAMPAIGN_SORTS,
    CAMPAIGN_STATUSES,
    CAMPAIGN_TYPES,
    CampaignStats,
    CampaignStatus,
    CreateCampaign,
    UpdateCampaign,
)
from kassa_contract.promotions import Campaign as CampaignView
from kassa_platform import audit
from kassa_platform.db import Reads
from kassa_platform.ids import new_id
from kassa_platform.pagination import decode_keyset_cursor, encode_keyset_cursor, keyset_after
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from .. import model
from .groups import check_group
from .tables import campaigns, codes, redemptions

# The engine-shaped parts of a campaign, kept together as its `definition`.
_DEFINITION_FIELDS = ("reward", "items", "rules", "priority", "stacking", "starts_at", "ends_at",
                      "redemption_grace_hours", "currency")


_OWN_FIELD = re.compile(r"^([a-z][A-Za-z0-9]*): (.+)$", re.DOTALL)


def _engine_part(value: Any, type_: Any, field: str) -> Any:
    """Validate a JSON object against the engine's type; errors name the field (a struct's own
    check names it as `fieldName: what is wrong`)."""
    try:
        return msgspec.convert(value, type_, strict=False)
    except (msgspec.ValidationError, ValueError, TypeError) as exc:
        message = str(exc)
        path = field
        if " - at `$" in message:
            message, _, at = message.partition(" - at `$")
            path = field + at.rstrip("`")
        own = _OWN_FIELD.match(message)
        if own:
            path, message = f"{path}.{own.group(1)}", own.group(2)
        raise KassaError("validation_error", message, field=path) from None


def validate_definition(body: dict[str, Any]) -> dict[str, Any]:
    """Check reward/items/rules against the engine and return the stored (canonical) form."""
    reward = _engine_part(body["reward"], model.Reward, "reward")
    items = _engine_part(body["items"], model.ItemMatcher, "items") if body.get("items") is not None else None
    rules = _engine_part(body["rules"], model.Rules, "rules") if body.get("rules") is not None else None
    if body.get("starts_at") and body.get("ends_at") and body["ends_at"] <= body["starts_at"]:
        raise KassaError("validation_error", "endsAt must be after startsAt", field="endsAt")
    return {
        "reward": msgspec.to_builtins(reward), "items": msgspec.to_builtins(items) if items else None,
        "rules": msgspec.to_builtins(rules) if rules else None, "priority": body["priority"],
        "stacking": body["stacking"],
        "startsAt": body["starts_at"].isoformat() if body.get("starts_at") else None,
        "endsAt": body["ends_at"].isoformat() if body.get("ends_at") else None,
        "redemptionGraceHours": body["redemption_grace_hours"], "currency": body.get("currency"),
    }


def campaign_type(trigger: str, definition: dict[str, Any]) -> str:
    if trigger == "automatic":
        return "promotion"
    return "gift_cards" if (definition.get("reward") or {}).get("type") == "gift_card" else "discount_codes"


def _list_columns(trigger: str, definition: dict[str, Any]) -> dict[str, Any]:
    """The columns lists filter on, derived from the definition."""
    return {"type": campaign_type(trigger, definition),
            "starts_at": datetime.fromisoformat(definition["startsAt"]) if definition.get("startsAt") else None,
            "ends_at": datetime.fromisoformat(definition["endsAt"]) if definition.get("endsAt") else None}


def status_of(row: Any, now: datetime) -> CampaignStatus:
    if row.ends_at is not None and row.ends_at <= now:
        return "expired"
    if not row.active:
        return "inactive"
    if row.starts_at is not None and row.starts_at > now:
        return "scheduled"
    return "active"


def _status_condition(status: str, now: datetime) -> sa.ColumnElement[bool]:
    """`status_of` as SQL, for one status."""
    c = campaigns.c
    running = sa.or_(c.ends_at.is_(None), c.ends_at > now)
    if status == "expired":
        return c.ends_at <= now
    if status == "inactive":
        return sa.and_(c.active.is_(False), running)
    if status == "scheduled":
        return sa.and_(c.active.is_(True), c.starts_at > now, running)
    return sa.and_(c.active.is_(True), sa.or_(c.starts_at.is_(None), c.starts_at <= now), running)


def codes_end(row: Any) -> datetime | None:
    """When the campaign's codes stop being redeemable: its end plus the grace period."""
    if row.ends_at is None:
        return None
    return row.ends_at + timedelta(hours=int(row.definition.get("redemptionGraceHours") or 0))


def view(row: Any, now: datetime) -> CampaignView:
    d = row.definition
    return CampaignView(
        id=row.id, name=row.name, trigger=row.trigger, reward=d["reward"], items=d.get("items"), rules=d.get("rules"),
        priority=d["priority"], stacking=d["stacking"],
        starts_at=datetime.fromisoformat(d["startsAt"]) if d.get("startsAt") else None,
        ends_at=datetime.fromisoformat(d["endsAt"]) if d.get("endsAt") else None,
        redemption_grace_hours=d["redemptionGraceHours"], currency=d.get("currency"), usage_limit=row.usage_limit,
        budget=row.budget, active=row.active, created_at=row.created_at, updated_at=row.updated_at,
        type=row.type, status=status_of(row, now), group_id=row.group_id, archived=row.archived_at is not None,
        archived_at=row.archived_at,
    )


def to_engine(row: Any) -> model.Campaign:
    """The engine's campaign, with what is left of its uses and budget (reservations count)."""
    d = row.definition
    remaining_uses = None if row.usage_limit is None else max(0, row.usage_limit - row.uses - row.reserved_uses)
    remaining_budget = None if row.budget is None else max(0, row.budget - row.granted - row.reserved_amount)
    return msgspec.convert({
        "id": row.id, "name": row.name, "trigger": row.trigger, "createdAt": row.created_at.isoformat(),
        "active": row.active, "remainingUses": remaining_uses, "remainingBudget": remaining_budget,
        **{k: v for k, v in d.items() if v is not None},
    }, model.Campaign, strict=False)


class CampaignStore:
    async def create(self, conn: AsyncConnection, app_id: str, body: CreateCampaign, now: datetime) -> CampaignView:
        definition = validate_definition(msgspec.structs.asdict(body))
        if body.group_id is not None:
            await check_group(conn, app_id, body.group_id)
        campaign_id = new_id("camp")
        async with _group_gone(body.group_id):
            await conn.execute(sa.insert(campaigns).values(
                id=campaign_id, app_id=app_id, name=body.name, trigger=body.trigger, definition=definition,
                active=body.active, usage_limit=body.usage_limit, budget=body.budget, uses=0, reserved_uses=0,
                granted=0, reserved_amount=0, created_at=now, updated_at=now, group_id=body.group_id,
                **_list_columns(body.trigger, definition)))
        created = await self.get(conn, app_id, campaign_id, now)
        await audit.record(conn, "campaign.created", campaign_id, app_id=app_id, now=now, after=created)
        return created

    async def row(self, conn: AsyncConnection, app_id: str, campaign_id: str, *, lock: bool = False) -> Any:
        query = sa.select(campaigns).where(campaigns.c.app_id == app_id, campaigns.c.id == campaign_id)
        if lock and conn.dialect.name == "postgresql":
            query = query.with_for_update()
        row = (await conn.execute(query)).first()
        if row is None:
            raise KassaError("campaign_not_found", f"No campaign {campaign_id}", status=404)
        return row

    async def get(self, conn: AsyncConnection, app_id: str, campaign_id: str, now: datetime) -> CampaignView:
        return view(await self.row(conn, app_id, campaign_id), now)

    async def update(self, conn: AsyncConnection, app_id: str, campaign_id: str, body: UpdateCampaign,
                     now: datetime) -> CampaignView:
        row = await self.row(conn, app_id, campaign_id, lock=True)
        current = view(row, now)
        merged = {f: getattr(current, f) for f in _DEFINITION_FIELDS}
        merged.update({f: getattr(body, f) for f in _DEFINITION_FIELDS if getattr(body, f, UNSET) is not UNSET})
        definition = validate_definition(merged)
        values: dict[str, Any] = {"definition": definition, "updated_at": now, **_list_columns(row.trigger, definition)}
        for f in ("name", "usage_limit", "budget"):
            if getattr(body, f) is not UNSET:
                values[f] = getattr(body, f)
        if body.group_id is not UNSET:
            if body.group_id is not None:
                await check_group(conn, app_id, body.group_id)
            values["group_id"] = body.group_id
        async with _group_gone(values.get("group_id")):
            await conn.execute(sa.update(campaigns).where(campaigns.c.id == campaign_id).values(**values))
        updated = await self.get(conn, app_id, campaign_id, now)
        await audit.record(conn, "campaign.updated", campaign_id, app_id=app_id, now=now, before=current, after=updated)
        return updated

    async def set_active(self, conn: AsyncConnection, app_id: str, campaign_id: str, active: bool,
                         now: datetime) -> CampaignView:
        row = await self.row(conn, app_id, campaign_id)
        if active and row.archived_at is not None:
            raise KassaError("campaign_archived", "The campaign is archived: unarchive it before activating it",
                             status=409)
        await conn.execute(sa.update(campaigns).where(campaigns.c.id == campaign_id)
                           .values(active=active, updated_at=now))
        after = await self.get(conn, app_id, campaign_id, now)
        await audit.record(conn, "campaign.activated" if active else "campaign.deactivated", campaign_id, app_id=app_id,
                           now=now, before=view(row, now), after=after)
        return after

    async def archive(self, conn: AsyncConnection, app_id: str, campaign_id: str, now: datetime) -> CampaignView:
        """Hide the campaign from lists and switch it off (idempotent: archiving again changes nothing)."""
        row = await self.row(conn, app_id, campaign_id, lock=True)
        if row.archived_at is None:
            await conn.execute(sa.update(campaigns).where(campaigns.c.id == campaign_id)
                               .values(archived_at=now, active=False, updated_at=now))
            after = await self.get(conn, app_id, campaign_id, now)
            await audit.record(conn, "campaign.archived", campaign_id, app_id=app_id, now=now,
                               before=view(row, now), after=after)
            return after
        return await self.get(conn, app_id, campaign_id, now)

    async def unarchive(self, conn: AsyncConnection, app_id: str, campaign_id: str, now: datetime) -> CampaignView:
        """Back in the lists, still switched off: activating it is a decision of its own."""
        row = await self.row(conn, app_id, campaign_id, lock=True)
        if row.archived_at is not None:
            await conn.execute(sa.update(campaigns).where(campaigns.c.id == campaign_id)
                               .values(archived_at=None, updated_at=now))
            after = await self.get(conn, app_id, campaign_id, now)
            await audit.record(conn, "campaign.unarchived", campaign_id, app_id=app_id, now=now,
                               before=view(row, now), after=after)
            return after
        return await self.get(conn, app_id, campaign_id, now)

    async def delete(self, conn: AsyncConnection, app_id: str, campaign_id: str, now: datetime) -> None:
        """Delete the campaign and its codes; refused (409) once anything was reserved or redeemed
        with it (its history must stay). Recorded refusals go with it."""
        row = await self.row(conn, app_id, campaign_id, lock=True)
        r = redemptions.c
        used = (await conn.execute(sa.select(r.id).where(r.campaign_id == campaign_id, r.status != "rejected")
                                   .limit(1))).first()
        if used is not None:
            raise KassaError("campaign_has_redemptions",
                             "The campaign has redemptions and cannot be deleted: archive it instead", status=409)
        await conn.execute(sa.delete(redemptions).where(r.campaign_id == campaign_id))
        await conn.execute(sa.delete(codes).where(codes.c.campaign_id == campaign_id))
        await conn.execute(sa.delete(campaigns).where(campaigns.c.id == campaign_id))
        await audit.record(conn, "campaign.deleted", campaign_id, app_id=app_id, now=now, before=view(row, now))

    async def list(self, conn: AsyncConnection, app_id: str, *, limit: int, cursor: str | None, now: datetime,
                   active: bool | None = None, archived: bool = False, type_: str | None = None,
                   group_id: str | None = None, status: str | None = None, q: str | None = None,
                   created_from: datetime | None = None, created_to: datetime | None = None,
                   updated_from: datetime | None = None, updated_to: datetime | None = None,
                   sort: str = "createdAt") -> tuple[builtins.list[CampaignView], str | None]:
        """One page of the application's campaigns. Archived ones only with `archived=True` (and
        then only them). Time ranges are `from <= t < to`."""
        c = campaigns.c
        _one_of(sort, CAMPAIGN_SORTS, "sort")
        query = sa.select(campaigns).where(c.app_id == app_id)
        query = query.where(c.archived_at.is_not(None) if archived else c.archived_at.is_(None))
        if active is not None:
            query = query.where(c.active == active)
        if type_ is not None:
            query = query.where(c.type == _one_of(type_, CAMPAIGN_TYPES, "type"))
        if group_id is not None:
            query = query.where(c.group_id == group_id)
        if status is not None:
            query = query.where(_status_condition(_one_of(status, CAMPAIGN_STATUSES, "status"), now))
        if q:
            text = q.strip()
            by_code = sa.select(codes.c.campaign_id).where(codes.c.app_id == app_id, codes.c.code_key == text.upper())
            query = query.where(sa.or_(sa.func.lower(c.name).contains(text.lower(), autoescape=True),
                                       c.id.in_(by_code.scalar_subquery())))
        for column, low, high in ((c.created_at, created_from, created_to), (c.updated_at, updated_from, updated_to)):
            if low is not None:
                query = query.where(column >= low)
            if high is not None:
                query = query.where(column < high)
        sort_column = c.updated_at if sort.lstrip("-") == "updatedAt" else c.created_at
        query = keyset_after(query, sort_column, c.id, decode_keyset_cursor(cursor, sort), descending=sort.startswith("-"))
        rows = (await conn.execute(query.limit(limit + 1))).all()
        page = rows[:limit]
        nxt = None
        if len(rows) > limit:
            last = page[-1]
            nxt = encode_keyset_cursor(last.updated_at if sort_column is c.updated_at else last.created_at, last.id, sort)
        return [view(r, now) for r in page], nxt

    async def stats(self, conn: AsyncConnection, app_id: str, campaign_id: str) -> CampaignStats:
        row = await self.row(conn, app_id, campaign_id)
        code_count = (await conn.execute(sa.select(sa.func.count()).select_from(codes)
                                         .where(codes.c.campaign_id == campaign_id))).scalar_one()
        return CampaignStats(
            campaign_id=row.id, uses=row.uses, reserved_uses=row.reserved_uses,
            uses_left=None if row.usage_limit is None else max(0, row.usage_limit - row.uses - row.reserved_uses),
            discount_granted=row.granted, discount_reserved=row.reserved_amount,
            budget_left=None if row.budget is None else max(0, row.budget - row.granted - row.reserved_amount),
            codes=code_count,
        )

    async def automatic(self, conn: Reads, app_id: str) -> builtins.list[model.Campaign]:
        """Every active automatic campaign of the application, as the engine needs them."""
        rows = await conn.execute(sa.select(campaigns).where(
            campaigns.c.app_id == app_id, campaigns.c.active.is_(True), campaigns.c.trigger == "automatic"))
        return [to_engine(r) for r in rows]


@contextlib.asynccontextmanager
async def _group_gone(group_id: str | None) -> AsyncIterator[None]:
    """A group deleted between its check and the write (the foreign key refuses it): 404, not a 500."""
    try:
        yield
    except IntegrityError:
        if group_id is None:
            raise
        raise KassaError("campaign_group_not_found", f"No campaign group {group_id}", field="groupId",
                         status=404) from None


def _one_of(value: str, allowed: tuple[str, ...], field: str) -> str:
    if value not in allowed:
        raise KassaError("validation_error", f"{field} must be one of {', '.join(allowed)}", field=field, status=400)
    return value
