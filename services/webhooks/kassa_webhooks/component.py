"""The webhook service as a migration component."""

from pathlib import Path

from kassa_platform.migrate import Component

from .tables import metadata


def webhooks_component() -> Component:
    return Component("webhooks", Path(__file__).parent / "migrations", metadata)
