"""The checkout service's parts, built once per runtime and shared by its handlers and jobs."""

from __future__ import annotations

from dataclasses import dataclass

from kassa_platform.runtime import Runtime
from kassa_platform.sealing import Sealer
from kassa_platform.service_client import ServiceClient

from .cart_client import CartClient
from .completion import CompletionSaga
from .embed import EmbedTokens
from .hosted.page import HostedPages
from .orders import OrderService
from .payment_intents import PaymentIntents
from .payment_settings import SEALING_PURPOSE, Connectors, PaymentSettingsService, StripeAccount
from .payments import TestConnector
from .payments.stripe import StripeConnector, new_client
from .provider_webhooks import StripeEvents
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
    payment_settings: PaymentSettingsService
    payment_intents: PaymentIntents
    stripe_events: StripeEvents


def module_of(runtime: Runtime) -> CheckoutModule:
    module = runtime.services.get(KEY)
    if module is None:
        settings = runtime.settings
        cart = CartClient(ServiceClient("cart", settings, runtime.services,
                                        timeout=settings.cart_timeout_seconds))
        store = SessionStore(settings.public_base_url)

        def stripe_connector(account: StripeAccount) -> StripeConnector:
            client = new_client(account.secret_key, api_base=settings.stripe_api_base,
                                timeout=settings.stripe_timeout_seconds)
            return StripeConnector(client, capture_method=account.capture_method,
                                   publishable_key=account.publishable_key)

        payment_settings = PaymentSettingsService(runtime.db, runtime.clock,
                                                  Sealer(settings.signing_key, SEALING_PURPOSE),
                                                  settings.public_base_url, stripe_connector)
        connectors = Connectors(TestConnector(runtime.db, runtime.clock), payment_settings)
        sessions = SessionService(runtime.db, runtime.clock, store, cart)
        saga = CompletionSaga(runtime.db, runtime.clock, store, sessions, cart, connectors, runtime.liveness)
        orders = OrderService(runtime.db, runtime.clock, cart, connectors)
        module = CheckoutModule(
            sessions=sessions, saga=saga, orders=orders,
            embed=EmbedTokens(runtime.db, runtime.clock, store, cart, settings.signing_key),
            cart=cart, connectors=connectors,
            pages=HostedPages(runtime.db, runtime.clock, store, cart, settings.signing_key),
            payment_settings=payment_settings,
            payment_intents=PaymentIntents(runtime.db, runtime.clock, store, cart, connectors),
            stripe_events=StripeEvents(runtime.db, runtime.clock, connectors, saga, orders),
        )
        runtime.services[KEY] = module
        runtime.liveness.watch("checkout", _reaper(module, runtime))
    return module


def _reaper(module: CheckoutModule, runtime: Runtime):  # type: ignore[no-untyped-def]
    """What a dead process leaves to this service: completions cut off mid-way, recovered now (the
    minute's reconcile job would find them too, later)."""

    async def reap() -> None:
        lapsed = await module.saga.rows.lapse_dead_claims(runtime.clock.now())
        for start in range(0, len(lapsed), 50):
            await module.saga.reconcile(session_ids=lapsed[start:start + 50])

    return reap
