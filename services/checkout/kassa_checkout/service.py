"""The checkout service's parts, built once per runtime and shared by its handlers and jobs."""

from __future__ import annotations

from dataclasses import dataclass

from kassa_platform.runtime import Runtime
from kassa_platform.service_client import ServiceClient

from .cart_client import CartClient
from .completion import CompletionSaga, Connectors
from .embed import EmbedTokens
from .hosted.page import HostedPages
from .orders import OrderService
from .payments import TestConnector
from .sessions import SessionService, SessionStore

KEY = "checkout"


@dataclass
class CheckoutModule:
    sessions: SessionService
    saga: CompletionSaga
    orders: OrderService
    embed: EmbedTokens
    cart: CartClient
    connectors: Connectors
    pages: HostedPages


def module_of(runtime: Runtime) -> CheckoutModule:
    module = runtime.services.get(KEY)
    if module is None:
        settings = runtime.settings
        cart = CartClient(ServiceClient("cart", settings, runtime.services,
                                        timeout=float(settings.extra.get("cart_timeout", 5.0))))
        store = SessionStore(settings.public_base_url)
        connectors = Connectors(TestConnector(runtime.db, runtime.clock))
        sessions = SessionService(runtime.db, runtime.clock, store, cart)
        module = CheckoutModule(
            sessions=sessions,
            saga=CompletionSaga(runtime.db, runtime.clock, store, sessions, cart, connectors),
            orders=OrderService(runtime.db, runtime.clock, cart, connectors),
            embed=EmbedTokens(runtime.db, runtime.clock, store, cart, settings.signing_key),
            cart=cart, connectors=connectors,
            pages=HostedPages(runtime.db, runtime.clock, store, cart, settings.signing_key),
        )
        runtime.services[KEY] = module
    return module
