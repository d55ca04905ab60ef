"""What every route module of the cart service needs from a request: the service's module."""

from __future__ import annotations

from typing import Any

from kassa_platform.app import runtime_of
from litestar import Request

from .service import CartModule, module_of


def cart_module(request: Request[Any, Any, Any]) -> CartModule:
    return module_of(runtime_of(request))
