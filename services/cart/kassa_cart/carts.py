"""Carts: the domain operations behind the cart API.

A change reads the cart, applies the change, re-prices the whole cart, writes the row back and
adds a `cart.updated` event to the outbox, atomically. On PostgreSQL the write is optimistic: the
read takes no lock and one statement writes the row, guarded by the version read, together with
its event; a writer that lost the race reads again, and after a few losses takes the row lock
(the path SQLite always takes, where writers are serialized anyway). A line-item add then costs
two statements (the cart with the variant, the guarded write with its event) when the pricing
config is cached. The statements, and which path each database takes, are kassa_cart.cart_rows';
kassa_platform.rows.optimistic_then_lock runs the attempts.
"""

from __future__ import annotations

import dataclasses
import functools
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from kassa_contract.base import UNSET
from kassa_contract.cart import (
    MAX_QUANTITY,
    AppliedDiscount,
    Cart,
    CartAddress,
    CartStatus,
    CreateCart,
    LineItem,
    LineItemInput,
    Notice,
    SelectedShippingMethod,
    ShippingOption,
    TaxLine,
    UpdateCart,
)
from kassa_contract.common import check_metadata
from kassa_contract.customers import CartCustomer
from kassa_contract.errors import KassaError
from kassa_contract.events import CART_CREATED, CART_UPDATED, CartEventData
from kassa_contract.money import is_currency
from kassa_platform import executed
from kassa_platform.auth import Principal, hash_key
from kassa_platform.clock import Clock
from kassa_platform.db import Database, Reads, transaction
from kassa_platform.ids import new_id, random_token
from kassa_platform.rows import NEEDS_LOCK, NeedsLock, optimistic_then_lock
from kassa_promotions import AppliedDiscount as EngineDiscount
from kassa_promotions.store.codes import CodeStore, code_key
from kassa_promotions.store.redemptions import RedemptionStore

from .cart_rows import CartEvent, CartRow, CartRows
from .catalog import Catalog, PricedVariant
from .config import AppPricing, ConfigCache
from .discounts import evaluate_cart
from .pricing import (
    LineInput,
    PricedCart,
    available_shipping,
    price_cart,
    selected_shipping,
)
from .recovery import token_opens


class CartDocument(msgspec.Struct, rename="camel", kw_only=True):
    """The priced parts of a cart that live in its `document` column."""

    line_items: list[LineItem] = []
    shipping_method: SelectedShippingMethod | None = None
    tax_lines: list[TaxLine] = []
    notices: list[Notice] = []
    taxes_included: bool = False
    discount_codes: list[str] = []
    discounts: list[AppliedDiscount] = []
    customer: CartCustomer | None = None  # as attached (customers.summary)


def _address(value: Any) -> CartAddress | None:
    return None if value is None else msgspec.convert(value, CartAddress)


@dataclass
class CartState:
    """A cart loaded for change: the stored row, mutable until written back."""

    id: str
    app_id: str
    status: CartStatus
    currency: str
    customer_email: str | None
    shipping_address: CartAddress | None
    billing_address: CartAddress | None
    shipping_method_id: str | None
    lines: list[LineInput]
    metadata: dict | None
    version: int
    created_at: datetime
    abandoned_at: datetime | None
    config_version: int | None
    prices_include_tax: bool | None
    discount_codes: list[str] = dataclasses.field(default_factory=list)
    checkout_session_id: str | None = None
    customer: CartCustomer | None = None
    # Variants read together with the cart (a line-item add asks for its variant in the same query).
    known_variants: dict[str, PricedVariant | None] = dataclasses.field(default_factory=dict)


@dataclass
class Priced:
    """A cart priced: totals and lines, the discounts it shows, and the engine's own discounts
    (what a checkout reserves)."""

    cart: PricedCart
    discounts: list[AppliedDiscount]
    engine: tuple[EngineDiscount, ...] = ()


def cart_view(row: CartRow, document: CartDocument, *, client_secret: str | None = None) -> Cart:
    return Cart(
        id=row.id, status=row.status, currency=row.currency, customer_email=row.customer_email,
        line_items=document.line_items, shipping_address=_address(row.shipping_address),
        billing_address=_address(row.billing_address), shipping_method=document.shipping_method,
        discounts=document.discounts,
        notices=document.notices, tax_lines=document.tax_lines, taxes_included=document.taxes_included,
        subtotal=row.subtotal, discount_total=row.discount_total, shipping_total=row.shipping_total,
        tax_total=row.tax_total, total=row.total, item_count=row.item_count, metadata=row.metadata,
        created_at=row.created_at, updated_at=row.updated_at, abandoned_at=row.abandoned_at, client_secret=client_secret,
        customer=document.customer,
    )


class CartService:
    def __init__(self, db: Database, clock: Clock, *, max_lines: int, signing_key: str | None = None) -> None:
        self.db = db
        self.clock = clock
        self.max_lines = max_lines
        self.signing_key = signing_key  # recovery tokens (abandoned carts): None accepts none
        self.catalog = Catalog()
        self.configs = ConfigCache()
        self.codes = CodeStore()
        self.redemptions = RedemptionStore()
        self.rows = CartRows(db)

    async def settings_version(self, conn: Reads, app_id: str) -> tuple[int | None, bool | None]:
        return await self.rows.settings(conn, app_id)

    # ---------------------------------------------------------------- access

    def _authorize(self, principal: Principal, secret_hash: str, cart_secret: str | None,
                   cart_id: str | None = None) -> None:
        """Secret keys act on any cart of their application; publishable keys need the cart's secret,
        or the recovery token of this cart from a `cart.abandoned` recovery link (also in X-Cart-Secret)."""
        if principal.is_secret:
            return
        if not cart_secret or not (
                hmac.compare_digest(hash_key(cart_secret), secret_hash)
                or (cart_id is not None and self.signing_key is not None
                    and token_opens(self.signing_key, cart_secret, app_id=principal.app_id, cart_id=cart_id,
                                    now=self.clock.now()))):
            # Same answer as an unknown cart: a browser learns nothing about carts it does not hold.
            raise KassaError("cart_not_found", "No such cart (publishable keys need the cart's client secret "
                             "in the X-Cart-Secret header)")

    async def load(self, conn: Reads, app_id: str, cart_id: str, *, lock: bool,
                   variant_id: str | None = None) -> CartRow:
        """The cart with its pricing settings (and the variant `variant_id` where given); 404 when none.
        `lock`: under the row lock, in `conn`'s transaction."""
        row = await self.rows.load(conn, app_id, cart_id, lock=lock, variant_id=variant_id)
        if row is None:
            raise KassaError("cart_not_found", f"No cart {cart_id}")
        return row

    async def config(self, conn: Reads, state: CartState) -> AppPricing:
        return await self.configs.get(conn, state.app_id, state.config_version, state.prices_include_tax)

    async def price(self, conn: Reads, state: CartState) -> Priced:
        """Price the cart: shipping and tax from the config, discounts from the promotions engine."""
        pricing = await self.config(conn, state)
        addr = state.shipping_address
        country = addr.country_code if addr else None
        priced_at = functools.partial(price_cart, state.lines, currency=state.currency, country=country,
                                      region=addr.region if addr else None,
                                      shipping_method_id=state.shipping_method_id, config=pricing.config)
        if not (state.lines and (len(pricing.campaigns) or state.discount_codes)):
            return Priced(priced_at(),
                          [AppliedDiscount(code=c, campaign_id=None, name=c, amount=0, applied=False,
                                           reason="cart_empty", message="Add items to use this code")
                           for c in state.discount_codes])
        # The engine discounts shipping as quoted before any discount.
        quote, _ = selected_shipping(pricing.config, state.shipping_method_id, state.currency, country,
                                     sum(ln.unit_price * ln.quantity for ln in state.lines))
        found = await evaluate_cart(conn, self.codes, app_id=state.app_id, currency=state.currency, lines=state.lines,
                                    shipping_amount=quote.amount if quote else 0, codes=state.discount_codes,
                                    email=state.customer_email, campaigns=pricing.campaigns, now=self.clock.now(),
                                    cart_id=state.id, customer_id=state.customer.id if state.customer else None)
        priced = priced_at(line_discounts=found.line_discounts, shipping_discount=found.shipping_discount,
                           line_allocations=found.allocations)
        return Priced(priced, found.discounts, found.engine)

    # ---------------------------------------------------------------- operations

    async def create(self, principal: Principal, body: CreateCart, customer: CartCustomer | None = None) -> Cart:
        """`customer`: the customer the cart belongs to, resolved by the caller (customerId or a shopper token)."""
        if not is_currency(body.currency):
            raise KassaError("currency_unsupported", f"`{body.currency}` is not a supported ISO 4217 currency",
                             field="currency")
        check_metadata(body.metadata)
        if len(body.line_items) > self.max_lines:
            raise self._too_many()
        now = self.clock.now()
        cart_id = new_id("cart")
        secret = f"{cart_id}_secret_{random_token(18)}"
        # Optimistic (PostgreSQL): reads without a transaction, then the new row and its event in one
        # statement. A new id meets no other writer.
        async with self.rows.creating() as conn:
            version, includes_tax = await self.rows.settings(conn, principal.app_id)
            state = CartState(
                id=cart_id, app_id=principal.app_id, status="open", currency=body.currency,
                customer_email=body.customer_email, shipping_address=body.shipping_address,
                billing_address=body.billing_address, shipping_method_id=None, lines=[], metadata=body.metadata,
                version=1, created_at=now, abandoned_at=None,
                config_version=version, prices_include_tax=includes_tax, customer=customer,
            )
            if customer is not None and state.customer_email is None:
                state.customer_email = customer.email
            for i, item in enumerate(body.line_items):
                await self._add_line(conn, principal, state, item, field=f"lineItems[{i}]")
            state.discount_codes = _unique_codes(body.discount_codes)
            pricing = await self.price(conn, state)
            for i, code in enumerate(state.discount_codes):
                _require_applied(pricing.discounts, code, field=f"discountCodes[{i}]")
            values, cart = cart_written(state, pricing, now)
            row = {"id": state.id, "app_id": state.app_id, "currency": state.currency,
                   "client_secret_hash": hash_key(secret), "created_at": now, **values}
            # The answer is known now: a retry that lost it gets it from the write's own statement.
            executed.answer_with(msgspec.structs.replace(cart, client_secret=secret))
            await self.rows.insert(conn, row, cart_event(CART_CREATED, state, cart, now))
        cart.client_secret = secret
        return cart

    async def get(self, principal: Principal, cart_id: str, cart_secret: str | None) -> Cart:
        async with self.db.on_demand() as conn:
            row = await self.load(conn, principal.app_id, cart_id, lock=False)
        self._authorize(principal, row.client_secret_hash, cart_secret, row.id)
        return cart_view(row, msgspec.convert(row.document, CartDocument))

    async def update(self, principal: Principal, cart_id: str, cart_secret: str | None, body: UpdateCart,
                     customer: CartCustomer | None | Any = UNSET, *, shopper: bool = False) -> Cart:
        """`customer`: attach this customer (None detaches; UNSET leaves the cart's); resolved by the caller.
        `shopper`: it came from a shopper token, which may not take a cart that belongs to another customer."""
        if body.metadata is not UNSET:
            check_metadata(body.metadata)

        async def change(_: Reads, state: CartState) -> None:
            if body.customer_email is not UNSET:
                state.customer_email = body.customer_email
            if body.shipping_address is not UNSET:
                state.shipping_address = body.shipping_address
            if body.billing_address is not UNSET:
                state.billing_address = body.billing_address
            if body.metadata is not UNSET:
                state.metadata = body.metadata
            if customer is not UNSET:
                if shopper and state.customer is not None and customer is not None and state.customer.id != customer.id:
                    raise KassaError("cart_customer_mismatch", "This cart belongs to another customer")
                attach_customer(state, customer)

        return await self._mutate(principal, cart_id, cart_secret, change)

    async def add_line(self, principal: Principal, cart_id: str, cart_secret: str | None, item: LineItemInput,
                       customer: Any = UNSET) -> Cart:
        async def change(conn: Reads, state: CartState) -> None:
            await self._add_line(conn, principal, state, item, field=None)

        return await self._mutate(principal, cart_id, cart_secret, change, variant_id=item.variant_id,
                                  customer=customer)

    async def update_line(self, principal: Principal, cart_id: str, cart_secret: str | None, line_id: str,
                          quantity: int, customer: Any = UNSET) -> Cart:
        async def change(_: Reads, state: CartState) -> None:
            index = next((i for i, ln in enumerate(state.lines) if ln.id == line_id), None)
            if index is None:
                raise KassaError("cart_line_not_found", f"No line {line_id} in cart {cart_id}")
            if quantity == 0:
                del state.lines[index]
            else:
                state.lines[index] = _with_quantity(state.lines[index], quantity)

        return await self._mutate(principal, cart_id, cart_secret, change, customer=customer)

    async def remove_line(self, principal: Principal, cart_id: str, cart_secret: str | None, line_id: str,
                          customer: Any = UNSET) -> Cart:
        return await self.update_line(principal, cart_id, cart_secret, line_id, 0, customer)

    async def select_shipping(self, principal: Principal, cart_id: str, cart_secret: str | None,
                              method_id: str | None, customer: Any = UNSET) -> Cart:
        async def change(conn: Reads, state: CartState) -> None:
            if method_id is None:
                state.shipping_method_id = None
                return
            config = (await self.config(conn, state)).config
            rule = config.shipping.get(method_id)
            if rule is None:
                raise KassaError("shipping_method_not_found", f"No shipping method {method_id}",
                                 field="shippingMethodId")
            country = state.shipping_address.country_code if state.shipping_address else None
            offered = {q.rule.id for q in available_shipping(config, state.currency, country, 0)}
            if method_id not in offered:
                raise KassaError("shipping_method_unavailable",
                                 f"{rule.name} is not available for this cart's currency or destination",
                                 field="shippingMethodId")
            state.shipping_method_id = method_id

        return await self._mutate(principal, cart_id, cart_secret, change, customer=customer)

    async def shipping_options(self, principal: Principal, cart_id: str, cart_secret: str | None) -> list[ShippingOption]:
        async with self.db.on_demand() as conn:
            row = await self.load(conn, principal.app_id, cart_id, lock=False)
            self._authorize(principal, row.client_secret_hash, cart_secret, row.id)
            state = cart_state(row)
            config = (await self.config(conn, state)).config
        country = state.shipping_address.country_code if state.shipping_address else None
        shipping_discount = (row.document.get("shippingMethod") or {}).get("discountTotal", 0)
        goods = row.subtotal - (row.discount_total - shipping_discount)
        return [ShippingOption(id=q.rule.id, name=q.rule.name, amount=q.amount, currency=state.currency,
                               selected=q.rule.id == row.shipping_method_id)
                for q in available_shipping(config, state.currency, country, goods)]

    async def apply_code(self, principal: Principal, cart_id: str, cart_secret: str | None, code: str,
                         customer: Any = UNSET) -> Cart:
        """Add a code; refused (422 `discount_invalid`, with the reason) unless it applies now."""
        code = code.strip()

        async def change(_: Reads, state: CartState) -> None:
            if code_key(code) in {code_key(c) for c in state.discount_codes}:
                return
            if len(state.discount_codes) >= MAX_CODES:
                raise KassaError("discount_invalid", f"A cart holds at most {MAX_CODES} codes", field="code",
                                 details={"reason": "too_many_codes"})
            state.discount_codes.append(code)

        return await self._mutate(principal, cart_id, cart_secret, change,
                                  check=lambda discounts: _require_applied(discounts, code, field="code"),
                                  customer=customer)

    async def remove_code(self, principal: Principal, cart_id: str, cart_secret: str | None, code: str,
                          customer: Any = UNSET) -> Cart:
        async def change(_: Reads, state: CartState) -> None:
            kept = [c for c in state.discount_codes if code_key(c) != code_key(code)]
            if len(kept) == len(state.discount_codes):
                raise KassaError("discount_code_not_on_cart", f"The code {code} is not on cart {cart_id}", status=404)
            state.discount_codes = kept

        return await self._mutate(principal, cart_id, cart_secret, change, customer=customer)

    # ---------------------------------------------------------------- internals

    async def _mutate(self, principal: Principal, cart_id: str, cart_secret: str | None,
                      change: Callable[[Reads, CartState], Awaitable[None]],
                      check: Callable[[list[AppliedDiscount]], None] | None = None, *,
                      variant_id: str | None = None, customer: Any = UNSET,
                      answer: Callable[[Cart], Any] | None = None) -> Cart:
        """Apply `change` to the cart and re-price it; `check` may refuse the priced result.
        `variant_id`: a variant the change needs, read together with the cart. `customer`: a shopper
        token's customer, attached with the change (refused on a cart of another customer).
        `answer`: what the request answers, from the cart (stored with the write for a replay)."""
        if customer is not UNSET:
            inner = change

            async def change(conn: Reads, state: CartState) -> None:
                await inner(conn, state)
                if state.customer is not None and customer is not None and state.customer.id != customer.id:
                    raise KassaError("cart_customer_mismatch", "This cart belongs to another customer")
                attach_customer(state, customer)

        return await optimistic_then_lock(self.db, self._mutate_unlocked, self._mutate_locked, principal, cart_id,
                                          cart_secret, change, check, variant_id, answer or _same)

    async def _mutate_unlocked(self, principal: Principal, cart_id: str, cart_secret: str | None,
                               change: Callable[[Reads, CartState], Awaitable[None]],
                               check: Callable[[list[AppliedDiscount]], None] | None,
                               variant_id: str | None, answer: Callable[[Cart], Any]) -> Cart | NeedsLock | None:
        """Read without a lock, write guarded by the version read, with the event (one statement on
        PostgreSQL). None when the cart changed since it was read; NEEDS_LOCK when the change needs the lock."""
        now = self.clock.now()
        async with self.db.on_demand() as conn:
            row = await self.load(conn, principal.app_id, cart_id, lock=False, variant_id=variant_id)
            state = await self._changed(conn, principal, row, cart_secret, change, variant_id)
            if not state.lines:
                return NEEDS_LOCK  # emptied: releasing what the cart holds is a second write, under the lock
            pricing = await self.price(conn, state)
            if check is not None:
                check(pricing.discounts)
            values, cart = cart_written(state, pricing, now)
            executed.answer_with(answer(cart))  # stored with the write (a lost answer is replayed)
            written = await self.rows.write_if_unchanged(app_id=principal.app_id, cart_id=cart_id,
                                                         read_version=row.version, values=values,
                                                         event=cart_event(CART_UPDATED, state, cart, now))
        return cart if written else None

    async def _mutate_locked(self, principal: Principal, cart_id: str, cart_secret: str | None,
                             change: Callable[[Reads, CartState], Awaitable[None]],
                             check: Callable[[list[AppliedDiscount]], None] | None,
                             variant_id: str | None, answer: Callable[[Cart], Any]) -> Cart:
        """One transaction holding the cart's row lock (on SQLite, the database's write lock)."""
        now = self.clock.now()
        async with transaction(self.db) as conn:
            row = await self.load(conn, principal.app_id, cart_id, lock=True, variant_id=variant_id)
            state = await self._changed(conn, principal, row, cart_secret, change, variant_id)
            if not state.lines:
                # An emptied cart gives back whatever it holds (seed 001, 1.6.6: a void by empty basket).
                await self.redemptions.release(conn, app_id=state.app_id, cart_id=state.id, now=now,
                                               reason="cart_emptied")
            pricing = await self.price(conn, state)
            if check is not None:
                check(pricing.discounts)  # may refuse the change: the transaction rolls back
            values, cart = cart_written(state, pricing, now)
            executed.answer_with(answer(cart))  # stored at the commit, with the change
            await self.rows.write(conn, app_id=principal.app_id, cart_id=cart_id, values=values,
                                  event=cart_event(CART_UPDATED, state, cart, now))
        return cart

    async def _changed(self, conn: Reads, principal: Principal, row: CartRow, cart_secret: str | None,
                       change: Callable[[Reads, CartState], Awaitable[None]],
                       variant_id: str | None) -> CartState:
        """The cart of `row` with `change` applied and its next version, once the caller may change it."""
        self._authorize(principal, row.client_secret_hash, cart_secret, row.id)
        if row.status != "open":
            raise KassaError("cart_not_open", f"Cart {row.id} is {row.status} and can no longer change",
                             details={"status": row.status})
        state = cart_state(row, variant_id)
        await change(conn, state)
        state.version += 1
        return state

    async def _add_line(self, conn: Reads, principal: Principal, state: CartState, item: LineItemInput,
                        *, field: str | None) -> None:
        prefix = f"{field}." if field else ""
        custom_fields = (item.sku, item.name, item.unit_price)
        if item.variant_id is not None:
            if any(v is not None for v in (*custom_fields, item.categories, item.tax_class)):
                raise KassaError("validation_error", "A catalog line takes `variantId` and `quantity` only; "
                                 "sku, name, unitPrice, categories and taxClass come from the catalog",
                                 field=f"{prefix}variantId")
            for i, line in enumerate(state.lines):
                if line.variant_id == item.variant_id and not line.custom:
                    merged = line.quantity + item.quantity
                    if merged > MAX_QUANTITY:
                        raise KassaError("validation_error", f"A line holds at most {MAX_QUANTITY} units",
                                         field=f"{prefix}quantity")
                    state.lines[i] = _with_quantity(line, merged)
                    return
            self._check_room(state)
            if item.variant_id in state.known_variants:
                variant = state.known_variants[item.variant_id]
            else:
                variant = await self.catalog.priced_variant(conn, state.app_id, item.variant_id)
            if variant is None or not variant.active:
                raise KassaError("variant_not_found", f"No purchasable variant {item.variant_id}",
                                 field=f"{prefix}variantId")
            price = variant.prices.get(state.currency)
            if price is None:
                raise KassaError("variant_price_missing", f"Variant {variant.sku} has no price in {state.currency}",
                                 field=f"{prefix}variantId")
            if item.metadata is not None:
                check_metadata(item.metadata, f"{prefix}metadata")
            state.lines.append(LineInput(id=new_id("li"), variant_id=variant.id, product_id=variant.product_id,
                                         sku=variant.sku, name=variant.name, quantity=item.quantity, unit_price=price,
                                         tax_class=variant.tax_class, categories=tuple(variant.categories),
                                         custom=False, metadata=item.metadata))
            return
        if not principal.is_secret:
            raise KassaError("custom_line_forbidden", "Custom lines with their own price need a secret key",
                             field=f"{prefix}unitPrice")
        missing = [n for n, v in zip(("sku", "name", "unitPrice"), custom_fields, strict=True) if v is None]
        if missing:
            raise KassaError("validation_error", f"A line needs `variantId`, or `sku`, `name` and `unitPrice` "
                             f"for a custom line (missing `{missing[0]}`)", field=f"{prefix}{missing[0]}")
        check_metadata(item.metadata, f"{prefix}metadata")
        self._check_room(state)
        state.lines.append(LineInput(id=new_id("li"), variant_id=None, product_id=None, sku=item.sku or "",
                                     name=item.name or "", quantity=item.quantity, unit_price=item.unit_price or 0,
                                     tax_class=item.tax_class or "standard",
                                     categories=tuple(dict.fromkeys(item.categories or [])), custom=True,
                                     metadata=item.metadata))

    def _check_room(self, state: CartState) -> None:
        if len(state.lines) >= self.max_lines:
            raise self._too_many()

    def _too_many(self) -> KassaError:
        return KassaError("too_many_line_items", f"A cart holds at most {self.max_lines} line items",
                          field="lineItems", details={"max": self.max_lines})

def cart_state(row: CartRow, variant_id: str | None = None) -> CartState:
    """The cart of `row`, to change; with `variant_id`, the variant read with the cart (None where it does
    not exist, which the change then reports without another query)."""
    doc = msgspec.convert(row.document, CartDocument)
    known = {variant_id: row.variant} if variant_id is not None else {}
    return CartState(known_variants=known,
        id=row.id, app_id=row.app_id, status=row.status, currency=row.currency, customer_email=row.customer_email,
        shipping_address=_address(row.shipping_address), billing_address=_address(row.billing_address),
        shipping_method_id=row.shipping_method_id, lines=[LineInput.of(li) for li in doc.line_items],
        metadata=row.metadata, version=row.version, created_at=row.created_at, abandoned_at=row.abandoned_at,
        config_version=row.config_version, prices_include_tax=row.prices_include_tax,
        discount_codes=list(doc.discount_codes), checkout_session_id=row.checkout_session_id, customer=doc.customer,
    )


def cart_written(state: CartState, pricing: Priced, now: datetime) -> tuple[dict[str, Any], Cart]:
    """The row values to store and the Cart they show, from one priced state."""
    priced, discounts = pricing.cart, pricing.discounts
    doc = CartDocument(line_items=priced.lines, shipping_method=priced.shipping, tax_lines=priced.tax_lines,
                       notices=priced.notices, taxes_included=priced.taxes_included,
                       discount_codes=state.discount_codes, discounts=discounts, customer=state.customer)
    values = {
        "status": state.status, "customer_email": state.customer_email,
        "shipping_address": msgspec.to_builtins(state.shipping_address),
        "billing_address": msgspec.to_builtins(state.billing_address),
        "shipping_method_id": priced.shipping.id if priced.shipping else None,
        "document": msgspec.to_builtins(doc), "subtotal": priced.subtotal, "discount_total": priced.discount_total,
        "shipping_total": priced.shipping_total, "tax_total": priced.tax_total, "total": priced.total,
        "item_count": priced.item_count, "metadata": state.metadata, "version": state.version,
        "updated_at": now, "last_activity_at": now, "checkout_session_id": state.checkout_session_id,
        # A write is activity: an abandoned cart is active again (and may be abandoned again later).
        "abandoned_at": None, "customer_id": state.customer.id if state.customer else None,
    }
    cart = Cart(
        id=state.id, status=state.status, currency=state.currency, customer_email=state.customer_email,
        line_items=priced.lines, shipping_address=state.shipping_address, billing_address=state.billing_address,
        shipping_method=priced.shipping, discounts=discounts, notices=priced.notices, tax_lines=priced.tax_lines,
        taxes_included=priced.taxes_included, subtotal=priced.subtotal, discount_total=priced.discount_total,
        shipping_total=priced.shipping_total, tax_total=priced.tax_total, total=priced.total,
        item_count=priced.item_count, metadata=state.metadata, created_at=state.created_at, updated_at=now,
        abandoned_at=None, customer=state.customer,
    )
    return values, cart


def cart_event(type_: str, state: CartState, cart: Cart, now: datetime) -> CartEvent:
    """The outbox event of a cart change (its sequence is the cart's new version)."""
    return CartEvent(type=type_, app_id=state.app_id, cart_id=state.id, sequence=state.version,
                     data=CartEventData(cart_id=state.id, sequence=state.version, cart=cart), now=now)


MAX_CODES = 20


def attach_customer(state: CartState, customer: CartCustomer | None) -> None:
    """The cart now belongs to `customer` (None: a guest cart again). A cart without an email takes the
    customer's (verified, when it came from a shopper token)."""
    state.customer = customer
    if customer is not None and state.customer_email is None:
        state.customer_email = customer.email


def _unique_codes(codes: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for code in codes:
        seen.setdefault(code_key(code), code.strip())
    return list(seen.values())


def _require_applied(discounts: list[AppliedDiscount], code: str, *, field: str) -> None:
    """A code being added must apply now; later it may stop applying and stays, marked."""
    for d in discounts:
        if d.code is not None and code_key(d.code) == code_key(code) and not d.applied:
            raise KassaError("discount_invalid", d.message or "This code cannot be used", field=field,
                             details={"reason": d.reason, "code": code})


def _same(cart: Cart) -> Cart:
    return cart


def _with_quantity(line: LineInput, quantity: int) -> LineInput:
    return dataclasses.replace(line, quantity=quantity)
