"""The event envelope every webhook carries, and the typed payloads of the cart events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .base import Model
from .cart import Cart

EVENT_VERSION = "1"

CART_CREATED = "cart.created"
CART_UPDATED = "cart.updated"


class EventEnvelope(Model):
    id: str
    type: str
    version: str
    created_at: datetime
    data: dict[str, Any]


class CartEventData(Model):
    """`cart.created` / `cart.updated`: the cart as it stands after the change."""

    cart_id: str
    sequence: int
    cart: Cart
