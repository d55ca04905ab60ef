"""HTTP for the checkout service: thin handlers that decode, call the domain and encode.

docs/contract.md names `/api/v1/checkout/sessions` for create/get/cancel and `/api/v1/checkout-sessions`
for complete and embed tokens; each call answers under both spellings (the other one is kept
out of the OpenAPI document), so an integrator who mixes them up is never stranded.
"""

from __future__ import annotations

from typing import Annotated, Any

from kassa_contract.checkout import (
    CheckoutSession,
    CompleteCheckoutSession,
    CreateCheckoutSession,
    CreateRefund,
    EmbedToken,
    EmbedTokenRequest,
    Order,
    OrderSummary,
    Payment,
    PaymentMethod,
    Refund,
)
from kassa_contract.common import Page
from kassa_contract.payments import PaymentIntentHandle, PaymentSettings, UpdatePaymentSettings
from kassa_platform.app import caller, runtime_of
from kassa_platform.daily import day_window
from kassa_platform.pagination import DEFAULT_LIMIT, Cursor, Limit, check_limit, query_time
from litestar import Request, delete, get, post, put
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter

from .order_rows import OrderFilter
from .payments.methods import method_catalog
from .service import CheckoutModule, module_of

SessionSecret = Annotated[str | None, HeaderParameter(name="x-checkout-secret", required=False)]
BROWSER = {"publishable": True}  # a publishable key with the session's client secret may call it


def _module(request: Request[Any, Any, Any]) -> CheckoutModule:
    return module_of(runtime_of(request))


async def create_session(request: Request[Any, Any, Any], data: JSONBody[CreateCheckoutSession]) -> CheckoutSession:
    return await _module(request).sessions.create(caller(request), data)


async def get_session(request: Request[Any, Any, Any], session_id: FromPath[str],
                      session_secret: SessionSecret = None) -> CheckoutSession:
    return await _module(request).sessions.get(caller(request), session_id, session_secret)


async def cancel_session(request: Request[Any, Any, Any], session_id: FromPath[str]) -> CheckoutSession:
    return await _module(request).sessions.cancel(caller(request), session_id)


async def complete_session(request: Request[Any, Any, Any], session_id: FromPath[str],
                           data: JSONBody[CompleteCheckoutSession],
                           session_secret: SessionSecret = None) -> CheckoutSession:
    return await _module(request).saga.complete(caller(request), session_id, data, session_secret)


async def session_payments(request: Request[Any, Any, Any], session_id: FromPath[str]) -> dict[str, list[Payment]]:
    return {"data": await _module(request).sessions.payments(caller(request), session_id)}


async def create_embed_token(request: Request[Any, Any, Any], data: JSONBody[EmbedTokenRequest]) -> EmbedToken:
    return await _module(request).embed.issue(caller(request), data)


async def list_payment_methods(request: Request[Any, Any, Any],
                               session_id: Annotated[str | None, QueryParameter(name="sessionId", required=False)] = None,
                               session_secret: SessionSecret = None) -> dict[str, list[PaymentMethod]]:
    allowed = None
    if session_id:
        allowed = (await _module(request).sessions.get(caller(request), session_id, session_secret)).allowed_methods
    return {"data": method_catalog(allowed)}


# Taken as text and parsed here, so that an error names the parameter as the client wrote it.
StatusQuery = Annotated[str | None, QueryParameter(name="status", required=False)]
EmailQuery = Annotated[str | None, QueryParameter(name="email", required=False)]
FromQuery = Annotated[str | None, QueryParameter(name="createdFrom", required=False)]
ToQuery = Annotated[str | None, QueryParameter(name="createdTo", required=False)]
DaysQuery = Annotated[str | None, QueryParameter(name="days", required=False)]
TimeZoneQuery = Annotated[str | None, QueryParameter(name="timeZone", required=False)]


async def list_orders(request: Request[Any, Any, Any], limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None,
                      status: StatusQuery = None, email: EmailQuery = None,
                      created_from: FromQuery = None, created_to: ToQuery = None) -> Page[Order]:
    where = OrderFilter(status=status or None, email=(email or "").strip() or None,
                        created_gte=query_time(created_from, "createdFrom"),
                        created_lt=query_time(created_to, "createdTo"))
    return await _module(request).orders.list(caller(request), limit=check_limit(limit), cursor=cursor, where=where)


async def summarize_orders(request: Request[Any, Any, Any], days: DaysQuery = None,
                           time_zone: TimeZoneQuery = None) -> OrderSummary:
    now = runtime_of(request).clock.now()
    return await _module(request).orders.summary(caller(request), day_window(days, time_zone, now))


async def get_order(request: Request[Any, Any, Any], order_id: FromPath[str]) -> Order:
    return await _module(request).orders.get(caller(request), order_id)


async def create_refund(request: Request[Any, Any, Any], order_id: FromPath[str], data: JSONBody[CreateRefund]) -> Refund:
    return await _module(request).orders.refund(caller(request), order_id, data)


async def list_refunds(request: Request[Any, Any, Any], order_id: FromPath[str]) -> dict[str, list[Refund]]:
    return {"data": await _module(request).orders.refunds(caller(request), order_id)}


async def get_payment_settings(request: Request[Any, Any, Any]) -> PaymentSettings:
    return await _module(request).payment_settings.get(caller(request))


async def put_payment_settings(request: Request[Any, Any, Any], data: JSONBody[UpdatePaymentSettings]) -> PaymentSettings:
    return await _module(request).payment_settings.update(caller(request), data)


async def create_payment_intent(request: Request[Any, Any, Any], session_id: FromPath[str],
                                session_secret: SessionSecret = None) -> PaymentIntentHandle:
    return await _module(request).payment_intents.for_session(caller(request), session_id, session_secret)


async def stripe_webhook(request: Request[Any, Any, Any], app_id: FromPath[str]) -> dict[str, Any]:
    """Stripe's events for one application, verified by their signature (no API key)."""
    return await _module(request).stripe_events.receive(app_id, await request.body(),
                                                         request.headers.get("stripe-signature"))


SESSIONS, SESSIONS_ALT = "/api/v1/checkout/sessions", "/api/v1/checkout-sessions"


def _both(method: Any, path: str, fn: Any, operation_id: str, *, canonical: str, **kw: Any) -> list[HTTPRouteHandler]:
    """The route under the canonical prefix, and hidden under the other spelling."""
    other = SESSIONS_ALT if canonical == SESSIONS else SESSIONS
    return [method(canonical + path, operation_id=operation_id, **kw)(fn),
            method(other + path, operation_id=operation_id + "Alias", include_in_schema=False, **kw)(fn)]


ROUTES: list[HTTPRouteHandler] = [
    *_both(post, "", create_session, "createCheckoutSession", canonical=SESSIONS, opt={"scope": "checkout:write"}),
    *_both(get, "/{session_id:str}", get_session, "getCheckoutSession", canonical=SESSIONS,
           opt={"scope": "checkout:read", **BROWSER}),
    *_both(delete, "/{session_id:str}", cancel_session, "cancelCheckoutSession", canonical=SESSIONS, status_code=200,
           opt={"scope": "checkout:write"}),
    *_both(get, "/{session_id:str}/payments", session_payments, "listCheckoutSessionPayments", canonical=SESSIONS,
           opt={"scope": "checkout:read"}),
    *_both(post, "/{session_id:str}/complete", complete_session, "completeCheckoutSession", canonical=SESSIONS_ALT,
           status_code=200, opt={"scope": "checkout:write", "rate_limit": "completes", **BROWSER,
                                 # the saga holds a claim on the session: a retry after a crash reruns it
                                 "self_guarded": True}),
    post(SESSIONS_ALT + "/embed-token", operation_id="createEmbedToken", opt={"scope": "checkout:write"})(
        create_embed_token),
    get("/api/v1/payment-methods", operation_id="listPaymentMethods", opt={"scope": "checkout:read", **BROWSER})(
        list_payment_methods),
    *_both(post, "/{session_id:str}/payment-intent", create_payment_intent, "createCheckoutSessionPaymentIntent",
           canonical=SESSIONS_ALT, status_code=200, opt={"scope": "checkout:write", **BROWSER}),
    get("/api/v1/payment-settings", operation_id="getPaymentSettings", opt={"scope": "payments:read"})(
        get_payment_settings),
    put("/api/v1/payment-settings", operation_id="updatePaymentSettings", opt={"scope": "payments:write"})(
        put_payment_settings),
    post("/webhooks/stripe/{app_id:str}", operation_id="receiveStripeEvent", status_code=200,
         opt={"public": True, "self_guarded": True}, include_in_schema=False)(stripe_webhook),
    get("/api/v1/orders", operation_id="listOrders", opt={"scope": "orders:read"})(list_orders),
    get("/api/v1/orders/summary", operation_id="summarizeOrders", opt={"scope": "orders:read"})(summarize_orders),
    get("/api/v1/orders/{order_id:str}", operation_id="getOrder", opt={"scope": "orders:read"})(get_order),
    post("/api/v1/orders/{order_id:str}/refunds", operation_id="createRefund", opt={"scope": "orders:write"})(
        create_refund),
    get("/api/v1/orders/{order_id:str}/refunds", operation_id="listRefunds", opt={"scope": "orders:read"})(
        list_refunds),
]
