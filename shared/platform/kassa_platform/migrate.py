"""Alembic migrations for every component, run programmatically on PostgreSQL or SQLite.

Each component (the platform, each service) keeps its own migration folder and its own
version table, so a service's schema evolves on its own. `migrate()` runs them in order under
an advisory lock on PostgreSQL, so several processes starting at once migrate once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from sqlalchemy.ext.asyncio import create_async_engine

MIGRATION_LOCK_ID = 7_305_001


@dataclass(frozen=True)
class Component:
    name: str
    script_location: Path
    metadata: sa.MetaData

    @property
    def version_table(self) -> str:
        return f"alembic_version_{self.name}"


def alembic_config(component: Component, connection: sa.Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(component.script_location))
    cfg.attributes["component"] = component
    cfg.attributes["connection"] = connection
    return cfg


def run_env() -> None:
    """Body of every component's `env.py`."""
    cfg = context.config
    component: Component = cfg.attributes["component"]
    connection = cfg.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through `kassa migrate`")
    context.configure(
        connection=connection,
        target_metadata=component.metadata,
        version_table=component.version_table,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # Compare only this component's own tables: the other components' are not ours to drop.
        include_name=lambda name, type_, parent: type_ != "table" or name in component.metadata.tables,
    )
    with context.begin_transaction():
        context.run_migrations()


def _upgrade(connection: sa.Connection, components: list[Component]) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
    for component in components:
        command.upgrade(alembic_config(component, connection), "head")


async def migrate(database_url: str, components: list[Component]) -> None:
    engine = create_async_engine(database_url)
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade, components)
    finally:
        await engine.dispose()


def platform_component() -> Component:
    from .tables import metadata

    return Component("platform", Path(__file__).parent / "migrations", metadata)
