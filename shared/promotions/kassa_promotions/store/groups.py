"""Campaign groups: a named set of campaigns (a season, a channel), a campaign in at most one.

Deleting a group takes its campaigns out of it (they keep running): a group is a label, not a
container whose end should end campaigns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from kassa_contract.base import UNSET
from kassa_contract.common import Page, check_metadata
from kassa_contract.errors import KassaError
from kassa_contract.promotions import CampaignGroup, CreateCampaignGroup, UpdateCampaignGroup
from kassa_platform import audit
from kassa_platform.ids import new_id
from kassa_platform.pagination import newest_first_page
from kassa_platform.rows import for_update
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import campaign_groups, campaigns


def _not_found(group_id: str, field: str | None = None) -> KassaError:
    return KassaError("campaign_group_not_found", f"No campaign group {group_id}", field=field, status=404)


async def check_group(conn: AsyncConnection, app_id: str, group_id: str) -> None:
    """The group a campaign is put in exists in this application (else 404 naming `groupId`)."""
    found = (await conn.execute(sa.select(campaign_groups.c.id).where(
        campaign_groups.c.app_id == app_id, campaign_groups.c.id == group_id))).first()
    if found is None:
        raise _not_found(group_id, "groupId")


def _count() -> sa.ScalarSelect[int]:
    return (sa.select(sa.func.count()).select_from(campaigns)
            .where(campaigns.c.group_id == campaign_groups.c.id).scalar_subquery())


def _view(row: Any) -> CampaignGroup:
    return CampaignGroup(id=row.id, name=row.name, description=row.description, metadata=row.metadata,
                         campaigns=row.campaigns, created_at=row.created_at, updated_at=row.updated_at)


class GroupStore:
    async def create(self, conn: AsyncConnection, app_id: str, body: CreateCampaignGroup, now: datetime) -> CampaignGroup:
        check_metadata(body.metadata)
        group_id = new_id("cgrp")
        await conn.execute(sa.insert(campaign_groups).values(
            id=group_id, app_id=app_id, name=body.name, description=body.description, metadata=body.metadata,
            created_at=now, updated_at=now))
        created = await self.get(conn, app_id, group_id)
        await audit.record(conn, "campaign_group.created", group_id, app_id=app_id, now=now, after=created)
        return created

    async def get(self, conn: AsyncConnection, app_id: str, group_id: str) -> CampaignGroup:
        row = (await conn.execute(sa.select(campaign_groups, _count().label("campaigns")).where(
            campaign_groups.c.app_id == app_id, campaign_groups.c.id == group_id))).first()
        if row is None:
            raise _not_found(group_id)
        return _view(row)

    async def update(self, conn: AsyncConnection, app_id: str, group_id: str, body: UpdateCampaignGroup,
                     now: datetime) -> CampaignGroup:
        values: dict[str, Any] = {"updated_at": now}
        for f in ("name", "description", "metadata"):
            if getattr(body, f) is not UNSET:
                values[f] = getattr(body, f)
        if body.metadata is not UNSET:
            check_metadata(body.metadata)
        before = await self.get(conn, app_id, group_id)
        await conn.execute(sa.update(campaign_groups).where(
            campaign_groups.c.app_id == app_id, campaign_groups.c.id == group_id).values(**values))
        after = await self.get(conn, app_id, group_id)
        await audit.record(conn, "campaign_group.updated", group_id, app_id=app_id, now=now, before=before, after=after)
        return after

    async def delete(self, conn: AsyncConnection, app_id: str, group_id: str, now: datetime) -> int:
        """Delete the group; its campaigns leave it. Returns how many did.

        The group's row is locked first: that waits for campaigns joining it right now (their
        foreign-key check holds a key-share lock on it) to commit, so the UPDATE below sees them,
        and a join arriving later waits for this delete and is then refused (404)."""
        locked = (await conn.execute(for_update(conn, sa.select(campaign_groups.c.id).where(
            campaign_groups.c.app_id == app_id, campaign_groups.c.id == group_id)))).first()
        if locked is None:
            raise _not_found(group_id)
        before = await self.get(conn, app_id, group_id)
        moved = await conn.execute(sa.update(campaigns).where(campaigns.c.app_id == app_id,
                                                              campaigns.c.group_id == group_id)
                                   .values(group_id=None, updated_at=now))
        await conn.execute(sa.delete(campaign_groups).where(campaign_groups.c.id == group_id))
        await audit.record(conn, "campaign_group.deleted", group_id, app_id=app_id, now=now, before=before)
        return moved.rowcount or 0

    async def list(self, conn: AsyncConnection, app_id: str, *, limit: int, cursor: str | None) -> Page[CampaignGroup]:
        """Newest first."""
        query = sa.select(campaign_groups, _count().label("campaigns")).where(campaign_groups.c.app_id == app_id)
        return await newest_first_page(conn, query, campaign_groups.c.id, limit, cursor, _view)
