"""The calling application: its view, and its pin to an API version, which only moves forward.

Shared by the HTTP routes (the cart service serves them, beside the API keys) and the `kassa apps`
command. Moving the pin drops the application's keys from every process's cache (a trigger on
PostgreSQL, `changed_at` on SQLite: `key_watch`), so the next request everywhere sees the new pin.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from kassa_contract.applications import Application
from kassa_contract.errors import KassaError
from kassa_contract.versions import LATEST_VERSION, VERSIONS, is_version, version_error_message
from sqlalchemy.ext.asyncio import AsyncConnection

from . import audit
from .tables import api_keys, applications

API_VERSION_UPGRADED = "application.api_version_upgraded"


def view(row: Any) -> Application:
    return Application(id=row.id, name=row.name, environment=row.environment, api_version=row.api_version,
                       latest_api_version=LATEST_VERSION, api_versions=list(VERSIONS), created_at=row.created_at)


async def get(conn: AsyncConnection, app_id: str, *, for_update: bool = False) -> Any:
    query = sa.select(applications).where(applications.c.id == app_id)
    row = (await conn.execute(query.with_for_update() if for_update else query)).first()
    if row is None:  # the key's application is gone (an operator deleted it): nothing to show
        raise KassaError("not_found", "The application no longer exists")
    return row


async def upgrade_api_version(conn: AsyncConnection, app_id: str, version: str, *, now: datetime) -> Application:
    """Pin the application to `version`, newer than (or the same as) its own; the move is audited.

    The same version again is a no-op that answers the application (a retried upgrade succeeds).
    """
    if not is_version(version):
        raise KassaError("api_version_invalid", version_error_message(version), field="version",
                         details={"versions": list(VERSIONS)})
    row = await get(conn, app_id, for_update=True)
    if version < row.api_version:
        raise KassaError("api_version_downgrade",
                         f"The application is on {row.api_version}; its pin only moves forward. To try an older "
                         f"version, send it in the Kassa-Version header of a request.", field="version",
                         details={"apiVersion": row.api_version})
    if version == row.api_version:
        return view(row)
    await conn.execute(sa.update(applications).where(applications.c.id == app_id).values(api_version=version))
    # SQLite's processes watch `changed_at` (PostgreSQL's are told by the trigger on `applications`).
    await conn.execute(sa.update(api_keys).where(api_keys.c.app_id == app_id).values(changed_at=now))
    await audit.record(conn, API_VERSION_UPGRADED, app_id, app_id=app_id, now=now,
                       before={"apiVersion": row.api_version}, after={"apiVersion": version})
    return view(await get(conn, app_id))
