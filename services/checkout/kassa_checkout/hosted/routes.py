"""HTTP for the hosted page: `GET /s/{id}`, its assets, and the page's own calls.

The page's script calls routes of its own under `/s/{id}/…` rather than the public cart API: its
credential (`kcp_…`, a signature naming one session) is then checked by one service, the cart
service needs to know nothing about checkout sessions, each call is exactly one thing the page
does (no line items, no metadata), and the answers carry the summary rendered by the same
template and money formatter as the page itself. They are not in the OpenAPI document: they are
the page's, not an integrator's. They pass the usual authentication, rate limits and
idempotency (the script sends an `Idempotency-Key` with every POST).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any

import msgspec
from jinja2 import Environment, FileSystemLoader, select_autoescape
from jinja2.utils import htmlsafe_json_dumps
from kassa_contract.base import UNSET
from kassa_contract.base import Request as Body
from kassa_contract.cart import Cart, CartAddress, ShippingOption, UpdateCart
from kassa_contract.checkout import CompleteCheckoutSession
from kassa_contract.common import Email
from kassa_contract.errors import KassaError
from kassa_platform.app import caller, runtime_of
from litestar import Request, Response, delete, get, patch, post, put
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from markupsafe import Markup

from ..embed_script import accepts_gzip
from ..service import module_of
from . import assets, i18n
from .fragments import Fragments
from .i18n import Messages
from .money import format_money
from .page import address_lines, collects_shipping, palette, summarize
from .security import (
    NO_SOURCES,
    EmbedRefused,
    embed_origin,
    new_nonce,
    origin_of,
    page_headers,
    safe_color,
    safe_image_url,
    stripe_sources,
)

TEMPLATES = Environment(loader=FileSystemLoader(str(Path(__file__).parent / "templates")),
                        autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True,
                        auto_reload=False)
TEMPLATES.globals["assets"] = assets.URLS
TEMPLATES.globals["country_options"] = i18n.country_options
FRAGMENTS = Fragments(TEMPLATES)
TEMPLATES.globals["cached"] = FRAGMENTS.cached
LocaleParam = Annotated[str | None, QueryParameter(name="locale", required=False, max_length=35)]
Language = Annotated[str | None, HeaderParameter(name="accept-language", required=False)]
PAGE = {"page": True}
# What the script needs to speak: the messages it shows itself.
_SCRIPT_MESSAGES = ("error.", "decline.", "payment.", "discount.", "step.")
_PALETTE = ("brand", "on_brand", "ink")  # page.palette's colours


def _boot_json(boot: dict[str, Any]) -> Markup:
    """What `boot | tojson` renders in a template."""
    return htmlsafe_json_dumps(boot, dumps=TEMPLATES.policies["json.dumps_function"],
                               **TEMPLATES.policies["json.dumps_kwargs"])


@lru_cache(maxsize=32)
def _script_messages(locale: str, *, stripe: bool) -> dict[str, str]:
    """The messages the page's script shows itself (the Stripe card fields' too where they draw)."""
    catalog = Messages(locale).catalog
    messages = {k: v for k, v in catalog.items() if k.startswith(_SCRIPT_MESSAGES)}
    if stripe:
        messages.update((k, v) for k, v in catalog.items() if k.startswith("stripe."))
    return messages  # shared by every view: read, never changed


# The address form's values before the shopper typed any.
EMPTY_ADDRESS = SimpleNamespace(**{f: None for f in CartAddress.__struct_fields__})


def _pages(request: Request[Any, Any, Any]) -> Any:
    return module_of(runtime_of(request)).pages


def _html(body: str, status: int, headers: dict[str, str]) -> Response[str]:
    return Response(body, status_code=status, media_type="text/html", headers=headers)


def error_page(kind: str, status: int, locale: str) -> Response[str]:
    """A plain page nobody may frame; it names no session and loads no script."""
    body = TEMPLATES.get_template("error.html").render(t=Messages(locale), locale=locale, kind=kind, embedded=False,
                                                       palette=None, nonce=None)
    return _html(body, status, page_headers(nonce=None, frame_origin=None))


def _recaps(cart: Cart, t: Messages, locale: str) -> dict[str, str]:
    """What each finished step shows the shopper back."""
    recaps = {"contact": cart.customer_email or "", "shipping": ", ".join(address_lines(cart.shipping_address, t)),
              "billing": ", ".join(address_lines(cart.billing_address, t))}
    if cart.shipping_method is not None:
        recaps["shipping_method"] = (f"{cart.shipping_method.name} · "
                                     f"{format_money(cart.shipping_total, cart.currency, locale)}")
    return recaps


def _summary_html(cart: Cart, t: Messages, locale: str, *, removable: bool, shipping: bool) -> str:
    return TEMPLATES.get_template("_summary.html").render(
        t=t, summary=summarize(cart, locale, collects_shipping=shipping), codes=[d for d in cart.discounts if d.code],
        removable=removable)


def _options_html(cart: Cart, options: list[ShippingOption], t: Messages, locale: str) -> str:
    priced = [{"id": o.id, "name": o.name, "selected": o.selected, "price": format_money(o.amount, o.currency, locale)}
              for o in options]
    return TEMPLATES.get_template("_shipping_options.html").render(t=t, options=priced)


async def checkout_page(request: Request[Any, Any, Any], session_id: FromPath[str], locale: LocaleParam = None,
                        embed: Annotated[str | None, QueryParameter(name="embed", required=False, max_length=2000)] = None,
                        mode: Annotated[str | None, QueryParameter(name="mode", required=False, max_length=40)] = None,
                        accept_language: Language = None) -> Response[str]:
    lang = i18n.negotiate(locale, accept_language)
    pages = _pages(request)
    row = await pages.find(session_id)
    if row is None:
        return error_page("not_found", 404, lang)
    frame_origin = None
    settings = runtime_of(request).settings
    if embed is not None:
        try:
            frame_origin = embed_origin(settings.signing_key, embed, row, pages.clock.now())
        except EmbedRefused as refused:
            return error_page("bad_request" if refused.status == 400 else "forbidden", refused.status, lang)
    try:
        view = await pages.view(row, embed_origin=frame_origin, payment_only=mode == "payment-only")
    except KassaError as exc:
        if exc.status >= 500:
            return error_page("unavailable", 503, lang)
        raise
    t = Messages(lang)
    branding = view.branding
    color = safe_color(branding.primary_color)
    logo = safe_image_url(branding.logo_url)
    nonce = new_nonce() if color else None
    embedded = frame_origin is not None
    success_url = row.success_url if (row.success_url or "").startswith(("https://", "http://")) else None
    cancel_url = row.cancel_url if (row.cancel_url or "").startswith(("https://", "http://")) else None
    cart = view.cart
    boot = None
    # Stripe.js draws the card fields of an application that pays through Stripe: only while it can pay.
    takes_cards = any(m.id == "card" for m in view.methods)
    stripe_js = settings.stripe_js_url if view.state is None and view.stripe_key and takes_cards else None
    if view.state is None:
        boot = {"sessionId": row.id, "credential": view.credential, "embedOrigin": frame_origin, "locale": lang,
                "steps": view.steps, "current": view.current, "successUrl": success_url,
                "billingSameDefault": True, "messages": _script_messages(lang, stripe=bool(stripe_js))}
        if stripe_js:
            boot["stripe"] = {"publishableKey": view.stripe_key}
    default_country = {"de": "DE"}.get(lang, "US")
    shipping = "shipping" in view.steps
    summary = summarize(cart, lang, collects_shipping=shipping)
    # What the page shows of this view's own: put into the page kept for everything else (fragments.page).
    values: dict[str, Any] = {
        "boot_json": _boot_json(boot) if boot else None, "nonce": nonce, "logo_url": logo,
        "display_name": branding.display_name or t("page.secure"), "success_url": success_url,
        "cancel_url": cancel_url, "email": cart.customer_email,
        "shipping_fields": FRAGMENTS.address_fields(lang, "shipping", "shipping", cart.shipping_address or EMPTY_ADDRESS,
                                                    default_country) if shipping else None,
        "billing_fields": FRAGMENTS.address_fields(lang, "billing", "billing", cart.billing_address or EMPTY_ADDRESS,
                                                   default_country) if "billing" in view.steps else None,
        "summary_html": Markup(TEMPLATES.get_template("_summary.html").render(
            t=t, summary=summary, codes=[d for d in cart.discounts if d.code], removable=view.state is None)),
        "pay_total": summary.total,
        **{f"recap_{step}": text for step, text in _recaps(cart, t, lang).items()},
        **{f"palette_{name}": c for name, c in (palette(color) if color else dict.fromkeys(_PALETTE)).items()},
    }
    billing_same = cart.billing_address is None or cart.billing_address == cart.shipping_address

    def render(v: dict[str, Any]) -> str:
        rest = {k: x for k, x in v.items() if not k.startswith(("recap_", "palette_"))}
        return TEMPLATES.get_template("page.html").render(
            t=t, locale=lang, row=row, state=view.state, steps=view.steps, current=view.current,
            recaps={k[6:]: x for k, x in v.items() if k.startswith("recap_")}, methods=view.methods, embedded=embedded,
            palette={k: v[f"palette_{k}"] for k in _PALETTE} if v["palette_brand"] else None,
            billing_same=billing_same, options=None, stripe_js=stripe_js, **rest)

    if view.state is None:  # the steps; a finished session's page (rare) names its order: rendered whole
        key = (lang, tuple(view.steps), view.current, embedded, tuple(m.id for m in view.methods), stripe_js,
               billing_same)
        body = FRAGMENTS.page(key, values, render)
    else:
        body = render(values)
    return _html(body, 200, page_headers(nonce=nonce, frame_origin=frame_origin,
                                          image_origin=origin_of(logo) if logo else None,
                                          sources=stripe_sources(stripe_js) if stripe_js else NO_SOURCES))


async def static_asset(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[bytes]:
    asset = assets.ASSETS.get(name)
    if asset is None:
        raise KassaError("route_not_found", f"No static file {name}")
    headers = {"Cache-Control": assets.IMMUTABLE, "Vary": "Accept-Encoding"}
    if accepts_gzip(request.headers.get("accept-encoding", "")):
        headers["Content-Encoding"] = "gzip"
        return Response(asset.gzipped, media_type=asset.media_type, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


# ---------------------------------------------------------------- the page's own calls


class PageCartUpdate(Body):
    """What the page may change on its cart (never line items or metadata)."""

    customer_email: Email | None = None
    shipping_address: CartAddress | None = None
    billing_address: CartAddress | None = None


class PageShippingMethod(Body):
    shipping_method_id: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]


class PageCode(Body):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


def _state(row: Any, cart: Cart, locale: str | None, **extra: Any) -> dict[str, Any]:
    """The page's answer to each of its changes: what it shows that the change may have moved."""
    lang = i18n.negotiate(locale, None)
    t = Messages(lang)
    return {"summaryHtml": _summary_html(cart, t, lang, removable=True, shipping=collects_shipping(row)),
            "payLabel": t("payment.pay", total=format_money(cart.total, cart.currency, lang)),
            "recaps": _recaps(cart, t, lang), "hasShippingMethod": cart.shipping_method is not None, **extra}


async def page_update_cart(request: Request[Any, Any, Any], session_id: FromPath[str], data: JSONBody[PageCartUpdate],
                           locale: LocaleParam = None) -> dict[str, Any]:
    body = UpdateCart(customer_email=data.customer_email if data.customer_email is not None else UNSET,
                      shipping_address=data.shipping_address if data.shipping_address is not None else UNSET,
                      billing_address=data.billing_address if data.billing_address is not None else UNSET)
    row, cart = await _pages(request).update(caller(request), session_id, body)
    return _state(row, cart, locale)


async def page_shipping_options(request: Request[Any, Any, Any], session_id: FromPath[str],
                                locale: LocaleParam = None) -> dict[str, Any]:
    row, cart, options = await _pages(request).shipping_options(caller(request), session_id)
    lang = i18n.negotiate(locale, None)
    return _state(row, cart, locale, optionsHtml=_options_html(cart, options, Messages(lang), lang),
                  optionCount=len(options))


async def page_select_shipping(request: Request[Any, Any, Any], session_id: FromPath[str],
                               data: JSONBody[PageShippingMethod], locale: LocaleParam = None) -> dict[str, Any]:
    row, cart = await _pages(request).select_shipping(caller(request), session_id, data.shipping_method_id)
    return _state(row, cart, locale)


async def page_apply_code(request: Request[Any, Any, Any], session_id: FromPath[str], data: JSONBody[PageCode],
                          locale: LocaleParam = None) -> dict[str, Any]:
    row, cart = await _pages(request).apply_code(caller(request), session_id, data.code)
    return _state(row, cart, locale)


async def page_remove_code(request: Request[Any, Any, Any], session_id: FromPath[str], code: FromPath[str],
                           locale: LocaleParam = None) -> dict[str, Any]:
    row, cart = await _pages(request).remove_code(caller(request), session_id, code)
    return _state(row, cart, locale)


async def page_complete(request: Request[Any, Any, Any], session_id: FromPath[str],
                        data: JSONBody[CompleteCheckoutSession]) -> dict[str, Any]:
    principal = caller(request)
    if principal.kind != "page" or principal.session_id != session_id:
        raise KassaError("checkout_session_not_found", f"No checkout session {session_id}")
    session = await module_of(runtime_of(request)).saga.complete(principal, session_id, data, None)
    return {"status": session.status, "orderId": session.order_id}


ROUTES: list[HTTPRouteHandler] = [
    get("/s/{session_id:str}", operation_id="hostedCheckoutPage", opt={"public": True}, include_in_schema=False)(checkout_page),
    get(assets.PREFIX + "/{name:str}", operation_id="hostedCheckoutAsset", opt={"public": True}, include_in_schema=False)(
        static_asset),
    patch("/s/{session_id:str}/cart", operation_id="hostedPageUpdateCart", opt={"scope": "checkout:write", **PAGE},
          include_in_schema=False)(page_update_cart),
    get("/s/{session_id:str}/shipping-methods", operation_id="hostedPageShippingOptions",
        opt={"scope": "checkout:read", **PAGE}, include_in_schema=False)(page_shipping_options),
    put("/s/{session_id:str}/shipping-method", operation_id="hostedPageSelectShipping",
        opt={"scope": "checkout:write", **PAGE}, include_in_schema=False)(page_select_shipping),
    post("/s/{session_id:str}/discount-codes", operation_id="hostedPageApplyCode", status_code=200,
         opt={"scope": "checkout:write", **PAGE}, include_in_schema=False)(page_apply_code),
    delete("/s/{session_id:str}/discount-codes/{code:str}", operation_id="hostedPageRemoveCode", status_code=200,
           opt={"scope": "checkout:write", **PAGE}, include_in_schema=False)(page_remove_code),
    post("/s/{session_id:str}/complete", operation_id="hostedPageComplete", status_code=200,
         opt={"scope": "checkout:write", "rate_limit": "completes", **PAGE}, include_in_schema=False)(page_complete),
]
