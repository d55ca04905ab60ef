"""The cart service as a migration component."""

from pathlib import Path

from kassa_platform.migrate import Component

from .tables import metadata


def cart_component() -> Component:
    return Component("cart", Path(__file__).parent / "migrations", metadata)
