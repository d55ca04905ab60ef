"""The team service as a migration component."""

from pathlib import Path

from kassa_platform.migrate import Component

from .tables import metadata


def team_component() -> Component:
    return Component("team", Path(__file__).parent / "migrations", metadata)
