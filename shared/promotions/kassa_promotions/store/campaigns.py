"""Campaigns: persisted definitions, turned into the engine's `Campaign` with what remains of
their limits, and the statistics a merchant reads."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from kassa_contract.base import UNSET
from kassa_contract.errors import KassaError
from kassa_contract.promotions import Campaign as CampaignView
from kassa_contract.promotions import CampaignStats, CreateCampaign, UpdateCampaign
from kassa_platform import audit
from kassa_platform.ids import new_id
from kassa_platform.pagination import decode_cursor, encode_cursor
from sqlalchemy.ext.asyncio import AsyncConnection

from .. import model
from .tables import campaigns, codes

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


def view(row: Any) -> CampaignView:
    d = row.definition
    return CampaignView(
        id=row.id, name=row.name, trigger=row.trigger, reward=d["reward"], items=d.get("items"), rules=d.get("rules"),
        priority=d["priority"], stacking=d["stacking"],
        starts_at=datetime.fromisoformat(d["startsAt"]) if d.get("startsAt") else None,
        ends_at=datetime.fromisoformat(d["endsAt"]) if d.get("endsAt") else None,
        redemption_grace_hours=d["redemptionGraceHours"], currency=d.get("currency"), usage_limit=row.usage_limit,
        budget=row.budget, active=row.active, created_at=row.created_at, updated_at=row.updated_at,
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
        campaign_id = new_id("camp")
        await conn.execute(sa.insert(campaigns).values(
            id=campaign_id, app_id=app_id, name=body.name, trigger=body.trigger, definition=definition,
            active=body.active, usage_limit=body.usage_limit, budget=body.budget, uses=0, reserved_uses=0,
            granted=0, reserved_amount=0, created_at=now, updated_at=now))
        created = await self.get(conn, app_id, campaign_id)
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

    async def get(self, conn: AsyncConnection, app_id: str, campaign_id: str) -> CampaignView:
        return view(await self.row(conn, app_id, campaign_id))

    async def update(self, conn: AsyncConnection, app_id: str, campaign_id: str, body: UpdateCampaign,
                     now: datetime) -> CampaignView:
        row = await self.row(conn, app_id, campaign_id, lock=True)
        current = view(row)
        merged = {f: getattr(current, f) for f in _DEFINITION_FIELDS}
        merged.update({f: getattr(body, f) for f in _DEFINITION_FIELDS if getattr(body, f, UNSET) is not UNSET})
        values: dict[str, Any] = {"definition": validate_definition(merged), "updated_at": now}
        for f in ("name", "usage_limit", "budget"):
            if getattr(body, f) is not UNSET:
                values[f] = getattr(body, f)
        await conn.execute(sa.update(campaigns).where(campaigns.c.id == campaign_id).values(**values))
        updated = await self.get(conn, app_id, campaign_id)
        await audit.record(conn, "campaign.updated", campaign_id, app_id=app_id, now=now, before=current, after=updated)
        return updated

    async def set_active(self, conn: AsyncConnection, app_id: str, campaign_id: str, active: bool,
                         now: datetime) -> CampaignView:
        before = view(await self.row(conn, app_id, campaign_id))
        await conn.execute(sa.update(campaigns).where(campaigns.c.id == campaign_id)
                           .values(active=active, updated_at=now))
        after = await self.get(conn, app_id, campaign_id)
        await audit.record(conn, "campaign.activated" if active else "campaign.deactivated", campaign_id, app_id=app_id,
                           now=now, before=before, after=after)
        return after

    async def list(self, conn: AsyncConnection, app_id: str, *, limit: int, cursor: str | None,
                   active: bool | None = None) -> tuple[list[CampaignView], str | None]:
        query = sa.select(campaigns).where(campaigns.c.app_id == app_id)
        after = decode_cursor(cursor)
        if after:
            query = query.where(campaigns.c.id > after)
        if active is not None:
            query = query.where(campaigns.c.active == active)
        rows = (await conn.execute(query.order_by(campaigns.c.id).limit(limit + 1))).all()
        return [view(r) for r in rows[:limit]], encode_cursor(rows[limit - 1].id) if len(rows) > limit else None

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

    async def automatic(self, conn: AsyncConnection, app_id: str) -> list[model.Campaign]:
        """Every active automatic campaign of the application, as the engine needs them."""
        rows = await conn.execute(sa.select(campaigns).where(
            campaigns.c.app_id == app_id, campaigns.c.active.is_(True), campaigns.c.trigger == "automatic"))
        return [to_engine(r) for r in rows]
