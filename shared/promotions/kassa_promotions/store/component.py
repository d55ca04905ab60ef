"""The promotions store as a migration component."""

from pathlib import Path

from kassa_platform.migrate import Component

from .tables import metadata


def promotions_component() -> Component:
    return Component("promotions", Path(__file__).parent / "migrations", metadata)
