"""What the hosted page shows for a session, and the page's own changes to its cart (no HTTP here).

The page walks the steps that apply (`steps_for`), starting at the first one the cart does not
yet satisfy (a returning shopper finds what they entered). Every figure it shows is the cart's
own, as the cart service computed it. Its changes go to the cart service as the checkout service's
calls for the session's application, only while the session is open: the page's credential
names one session, and through it one cart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from kassa_contract.abandoned import Branding
from kassa_contract.cart import Cart, CartAddress, ShippingOption, UpdateCart
from kassa_contract.checkout import CollectFlags, PaymentMethod
from kassa_contract.errors import KassaError
from kassa_platform.auth import Principal, issue_page_key
from kassa_platform.clock import Clock
from kassa_platform.db import Database
from kassa_platform.rows import OneStatement
from kassa_platform.tables import applications

from ..cart_client import CartClient
from ..payments.methods import method_catalog
from ..sessions import SessionStore
from ..tables import checkout_sessions as sessions
from ..tables import payment_settings
from .i18n import Messages
from .money import format_money

STEPS = ("contact", "shipping", "shipping_method", "billing", "payment")
_SETTINGS = payment_settings.c
# The session the page shows, with its application's environment and payment provider.
# On PostgreSQL it runs on the direct asyncpg pool (kassa_platform.rows): through SQLAlchemy's
# async layer the one read cost more CPU than the rest of the page's own work.
_FIND = OneStatement(sa.select(sessions, applications.c.environment, _SETTINGS.provider.label("payment_provider"),
                               _SETTINGS.publishable_key.label("stripe_publishable_key"))
                     .join(applications, applications.c.id == sessions.c.app_id)
                     .outerjoin(payment_settings, _SETTINGS.app_id == sessions.c.app_id)
                     .where(sessions.c.id == sa.bindparam("session_id")))
BRANDING_TTL = 10.0  # seconds a process keeps an application's branding (as it keeps its origins)
S = sessions.c


def steps_for(collect: CollectFlags, cart: Cart | None = None, *, payment_only: bool = False) -> list[str]:
    """The steps a session's page walks, in order. Collecting no address at all is the payment step
    alone. So is the deprecated `?mode=payment-only`, but only when the cart already holds all the
    session collects (the storefront asked for it): a payment without them would be refused, so the
    shopper walks the steps instead, and the summary only ever shows what the cart holds."""
    if not (collect.shipping_address or collect.billing_address):
        return ["payment"]
    if payment_only and cart is not None and first_open_step(steps_for(collect), cart) == "payment":
        return ["payment"]
    steps = ["contact"]
    if collect.shipping_address:
        steps += ["shipping", "shipping_method"]
    if collect.billing_address:
        steps.append("billing")
    return [*steps, "payment"]


def first_open_step(steps: list[str], cart: Cart) -> str:
    missing = {"contact": not cart.customer_email, "shipping": cart.shipping_address is None,
               "shipping_method": cart.shipping_method is None, "billing": cart.billing_address is None}
    return next((s for s in steps if missing.get(s)), steps[-1])


def terminal_state(row: Any, now: datetime) -> str | None:
    """None while the shopper can pay; else the page to show."""
    if row.status == "complete":
        return "completed"
    if row.status in ("cancelled", "expired"):
        return row.status
    return "expired" if row.expires_at <= now else None


@dataclass
class Summary:
    """The order summary, every figure the cart's, formatted for one locale."""

    lines: list[dict[str, Any]]
    discounts: list[dict[str, Any]]
    shipping: str | None
    shipping_name: str | None
    shipping_row: bool  # a checkout without a shipping step shows shipping only when the cart has a method
    tax_lines: list[dict[str, str]]
    taxes_included: bool
    subtotal: str
    total: str
    item_count: int


def summarize(cart: Cart, locale: str, *, collects_shipping: bool = True) -> Summary:
    def money(amount: int) -> str:
        return format_money(amount, cart.currency, locale)

    return Summary(
        lines=[{"name": li.name, "quantity": li.quantity, "total": money(li.subtotal), "sku": li.sku}
               for li in cart.line_items],
        discounts=[{"name": d.name, "code": d.code, "amount": money(-d.amount), "applied": d.applied,
                    "message": d.message} for d in cart.discounts],
        shipping=None if cart.shipping_method is None else money(cart.shipping_total),
        shipping_name=None if cart.shipping_method is None else cart.shipping_method.name,
        shipping_row=collects_shipping or cart.shipping_method is not None,
        tax_lines=[{"name": t.name, "rate": t.rate, "amount": money(t.amount)} for t in cart.tax_lines],
        taxes_included=cart.taxes_included, subtotal=money(cart.subtotal), total=money(cart.total),
        item_count=cart.item_count,
    )


@dataclass
class PageView:
    """Everything the template needs for one session."""

    row: Any
    cart: Cart | None
    state: str | None  # None: the steps; else completed / cancelled / expired
    steps: list[str]
    current: str
    branding: Branding
    methods: list[PaymentMethod]
    credential: str | None
    embed_origin: str | None
    stripe_key: str | None = None  # the application's Stripe publishable key when Stripe takes its payments
    extra: dict[str, Any] = field(default_factory=dict)


class HostedPages:
    def __init__(self, db: Database, clock: Clock, store: SessionStore, cart: CartClient, signing_key: str) -> None:
        self.db = db
        self.clock = clock
        self.store = store
        self.cart = cart
        self.signing_key = signing_key
        self._branding: dict[str, tuple[float, Branding]] = {}

    async def find(self, session_id: str) -> Any:
        """The session (with its application's environment and payment provider), whatever its
        application, or None: the page's URL is a bearer URL, its id unguessable."""
        if not session_id.startswith("cs_") or len(session_id) > 40:
            return None
        return await _FIND.read(self.db, {"session_id": session_id})

    async def branding(self, app_id: str) -> Branding:
        now = time.monotonic()
        hit = self._branding.get(app_id)
        if hit and hit[0] > now:
            return hit[1]
        branding = (await self.cart.embed_config(app_id)).branding or Branding()
        if len(self._branding) > 10_000:
            self._branding.clear()
        self._branding[app_id] = (now + BRANDING_TTL, branding)
        return branding

    async def view(self, row: Any, *, embed_origin: str | None, payment_only: bool) -> PageView:
        now = self.clock.now()
        state = terminal_state(row, now)
        collect = msgspec.convert(row.collect, CollectFlags)
        cart = await self.cart.get(row.app_id, row.cart_id)
        steps = steps_for(collect, cart, payment_only=payment_only)
        credential = None
        if state is None:
            credential = issue_page_key(self.signing_key, app_id=row.app_id, environment=row.environment,
                                        session_id=row.id, expires_at=row.expires_at)
        stripe_key = row.stripe_publishable_key if row.payment_provider == "stripe" else None
        methods = method_catalog(row.allowed_methods)
        if stripe_key:  # Stripe takes cards only, through Stripe.js
            methods = [m for m in methods if m.id == "card"]
        return PageView(row=row, cart=cart, state=state, steps=steps, current=first_open_step(steps, cart),
                        branding=await self.branding(row.app_id), methods=methods,
                        credential=credential, embed_origin=embed_origin, stripe_key=stripe_key)

    # ---------------------------------------------------------------- the page's own calls

    async def _open_session(self, principal: Principal, session_id: str) -> Any:
        """The credential's own session, while it can still be paid."""
        if principal.kind != "page" or principal.session_id != session_id:
            raise KassaError("checkout_session_not_found", f"No checkout session {session_id}")
        async with self.db() as conn:
            row = await self.store.load(conn, principal.app_id, session_id)
        state = terminal_state(row, self.clock.now())
        if state is not None:
            raise KassaError("checkout_session_not_open", f"Checkout session {row.id} is {state}", status=409,
                             details={"status": state})
        return row

    async def update(self, principal: Principal, session_id: str, body: UpdateCart) -> tuple[Any, Cart]:
        row = await self._open_session(principal, session_id)
        return row, await self.cart.update(row.app_id, row.cart_id, UpdateCart(
            customer_email=body.customer_email, shipping_address=body.shipping_address,
            billing_address=body.billing_address))  # never the cart's metadata

    async def shipping_options(self, principal: Principal, session_id: str) -> tuple[Any, Cart, list[ShippingOption]]:
        row = await self._open_session(principal, session_id)
        return (row, await self.cart.get(row.app_id, row.cart_id),
                await self.cart.shipping_options(row.app_id, row.cart_id))

    async def select_shipping(self, principal: Principal, session_id: str, method_id: str | None) -> tuple[Any, Cart]:
        row = await self._open_session(principal, session_id)
        return row, await self.cart.select_shipping(row.app_id, row.cart_id, method_id)

    async def apply_code(self, principal: Principal, session_id: str, code: str) -> tuple[Any, Cart]:
        row = await self._open_session(principal, session_id)
        return row, await self.cart.apply_code(row.app_id, row.cart_id, code)

    async def remove_code(self, principal: Principal, session_id: str, code: str) -> tuple[Any, Cart]:
        row = await self._open_session(principal, session_id)
        return row, await self.cart.remove_code(row.app_id, row.cart_id, code)


def collects_shipping(row: Any) -> bool:
    return bool((row.collect or {}).get("shippingAddress", True))


def address_lines(address: CartAddress | None, messages: Messages) -> list[str]:
    """An address as the shopper reads it back."""
    if address is None:
        return []
    name = " ".join(p for p in (address.first_name, address.last_name) if p)
    city = " ".join(p for p in (address.postal_code, address.city) if p)
    return [p for p in (name, address.company, address.address_line1, address.address_line2, city, address.region,
                        address.country_code) if p]


def _luminance(color: str) -> float:
    def channel(v: int) -> float:
        c = v / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def _contrast(a: float, b: float) -> float:
    hi, lo = max(a, b), min(a, b)
    return (hi + 0.05) / (lo + 0.05)


def palette(color: str) -> dict[str, str]:
    """The brand colour for buttons, the text colour readable on it, and a colour for links and focus
    rings readable on white (the brand itself when it is dark enough, else near-black): whatever
    colour a merchant picks, text keeps a WCAG AA contrast."""
    lum = _luminance(color)
    on_brand = "#ffffff" if _contrast(lum, 1.0) >= _contrast(lum, _luminance("#111111")) else "#111111"
    ink = color if _contrast(lum, 1.0) >= 4.5 else "#1f2328"
    return {"brand": color.lower(), "on_brand": on_brand, "ink": ink.lower()}
