"""The checkout service as a migration component."""

from pathlib import Path

from kassa_platform.migrate import Component

from .tables import metadata


def checkout_component() -> Component:
    return Component("checkout", Path(__file__).parent / "migrations", metadata)
