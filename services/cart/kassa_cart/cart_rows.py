"""Every statement of a cart change, on PostgreSQL and on SQLite (kassa_cart.carts holds the rules).

A change reads the cart, then writes it back with its `cart.*` event. On PostgreSQL the hot
statements run on asyncpg directly (kassa_platform.direct): the read takes no lock, and the write
is ONE statement guarded by the version read, with its event (kassa_platform.outbox
`insert_event_after`), so an optimistic change costs two round trips and no transaction. Under the
row lock (the path SQLite always takes, where writers are serialized anyway) the same statements
run through SQLAlchemy in the caller's transaction. The domain asks for neither by name: it calls
these methods, and `kassa_platform.rows.optimistic_then_lock` picks the path.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from kassa_contract.cart import CartStatus
from kassa_contract.events import CartEventData
from kassa_platform.db import Database, Reads, is_postgres, transaction
from kassa_platform.direct import DirectStatement
from kassa_platform.outbox import event_params, insert_event_after, write_event
from sqlalchemy.ext.asyncio import AsyncConnection

from .catalog import PRICED_VARIANT_COLUMNS, VARIANT_WITH_PRODUCT, PricedVariant, priced_variant_of
from .tables import cart_abandonments, cart_settings, carts, variants

SOURCE = "cart"

c = carts.c

CART_COLUMNS = (c.id, c.app_id, c.status, c.currency, c.customer_email, c.shipping_address, c.billing_address,
                c.shipping_method_id, c.document, c.subtotal, c.discount_total, c.shipping_total, c.tax_total,
                c.total, c.item_count, c.metadata, c.client_secret_hash, c.version, c.created_at, c.updated_at,
                c.abandoned_at, c.checkout_session_id)


@dataclass(slots=True)
class CartRow:
    """A stored cart with its application's pricing settings, as one read returns it."""

    id: str
    app_id: str
    status: CartStatus
    currency: str
    customer_email: str | None
    shipping_address: dict[str, Any] | None
    billing_address: dict[str, Any] | None
    shipping_method_id: str | None
    document: dict[str, Any]  # kassa_cart.carts.CartDocument, as stored
    subtotal: int
    discount_total: int
    shipping_total: int
    tax_total: int
    total: int
    item_count: int
    metadata: dict[str, Any] | None
    client_secret_hash: str
    version: int
    created_at: datetime
    updated_at: datetime
    abandoned_at: datetime | None
    checkout_session_id: str | None
    config_version: int | None  # of cart_settings: None where the application configured nothing
    prices_include_tax: bool | None
    # Read with the cart where asked: the variant a line-item add needs (None: no such variant),
    # and whether the cart was ever abandoned (a conversion then records its recovery).
    variant: PricedVariant | None = None
    abandoned: bool = False


_STORED = len(fields(CartRow)) - 2  # the columns every cart read selects, in CartRow's order


@dataclass(frozen=True, slots=True)
class CartEvent:
    """A `cart.*` event of one change: its sequence is the cart's new version."""

    type: str
    app_id: str
    cart_id: str
    sequence: int
    data: CartEventData
    now: datetime

    def arguments(self) -> dict[str, Any]:
        return {"app_id": self.app_id, "type": self.type, "source": SOURCE, "aggregate_id": self.cart_id,
                "sequence": self.sequence, "data": self.data, "now": self.now}


# Built once: SQLAlchemy then reuses their compiled form, and the direct pool their asyncpg SQL.
_LOAD = (
    sa.select(*CART_COLUMNS, cart_settings.c.config_version, cart_settings.c.prices_include_tax)
    .select_from(carts.outerjoin(cart_settings, cart_settings.c.app_id == c.app_id))
    .where(c.id == sa.bindparam("cart_id"), c.app_id == sa.bindparam("app_id"))
)
_LOAD_WITH_VARIANT = (
    sa.select(*CART_COLUMNS, cart_settings.c.config_version, cart_settings.c.prices_include_tax,
              *PRICED_VARIANT_COLUMNS)
    .select_from(carts.outerjoin(cart_settings, cart_settings.c.app_id == c.app_id)
                 .outerjoin(VARIANT_WITH_PRODUCT, sa.and_(variants.c.app_id == c.app_id,
                                                          variants.c.id == sa.bindparam("variant_id"))))
    .where(c.id == sa.bindparam("cart_id"), c.app_id == sa.bindparam("app_id"))
)
assert [col.name for col in _LOAD.selected_columns] == [f.name for f in fields(CartRow)][:_STORED]
_LOADS = {  # (with a variant, locked) -> statement
    (False, False): _LOAD, (False, True): _LOAD.with_for_update(of=carts),
    (True, False): _LOAD_WITH_VARIANT, (True, True): _LOAD_WITH_VARIANT.with_for_update(of=carts),
}
# A cart to convert, with whether it was ever abandoned.
_CONVERT_LOAD = _LOAD.add_columns(
    sa.exists().where(cart_abandonments.c.cart_id == c.id, cart_abandonments.c.app_id == c.app_id).label("abandoned"))
_WRITTEN = ("status", "customer_email", "shipping_address", "billing_address", "shipping_method_id", "document",
            "subtotal", "discount_total", "shipping_total", "tax_total", "total", "item_count", "metadata", "version",
            "updated_at", "last_activity_at", "checkout_session_id", "abandoned_at", "customer_id")
_BY_ID = (c.id == sa.bindparam("b_id"), c.app_id == sa.bindparam("b_app_id"))
_AT_VERSION = c.version == sa.bindparam("b_version")
_UPDATE = sa.update(carts).where(*_BY_ID).values({name: sa.bindparam(name) for name in _WRITTEN})
_INSERT = carts.insert()
_INSERTED = ("id", "app_id", "currency", "client_secret_hash", "created_at", *_WRITTEN)
# A conversion changes the status only: the cart keeps the document the order copied.
_CONVERTED_COLUMNS = ("status", "checkout_session_id", "version", "updated_at")
_CONVERT = sa.update(carts).where(*_BY_ID).values({name: sa.bindparam(name) for name in _CONVERTED_COLUMNS})
_SETTINGS = (sa.select(cart_settings.c.config_version, cart_settings.c.prices_include_tax)
             .where(cart_settings.c.app_id == sa.bindparam("app_id")))
_CUSTOMER_LOCK = sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(sa.bindparam("key"), 0)))

# PostgreSQL, on asyncpg directly: the reads, and each write with its event in one statement.
_DIRECT_LOADS = {with_variant: DirectStatement(_LOADS[with_variant, False]) for with_variant in (False, True)}
_DIRECT_CONVERT_LOAD = DirectStatement(_CONVERT_LOAD)
_DIRECT_SETTINGS = DirectStatement(_SETTINGS)
_DIRECT_UPDATE_AND_EMIT = DirectStatement(insert_event_after(
    _UPDATE.where(_AT_VERSION).returning(c.id).cte("written")))
_DIRECT_INSERT_AND_EMIT = DirectStatement(insert_event_after(
    carts.insert().values({name: sa.bindparam(name) for name in _INSERTED}).returning(c.id).cte("written")))
_DIRECT_CONVERT_AND_EMIT = DirectStatement(insert_event_after(_CONVERT.where(_AT_VERSION).returning(c.id).cte("written")))


def _cart_row(row: Any, *, with_variant: bool = False, abandoned: bool = False) -> CartRow:
    """A CartRow of a SQLAlchemy or direct row selecting _LOAD's columns first (then the variant's,
    or `abandoned`)."""
    values = tuple(row)
    cart = CartRow(*values[:_STORED])
    if with_variant:
        cart.variant = priced_variant_of(row)
    elif abandoned:
        cart.abandoned = bool(values[_STORED])
    return cart


class CartRows:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ---------------------------------------------------------------- reads

    async def settings(self, conn: Reads, app_id: str) -> tuple[int | None, bool | None]:
        """The application's pricing config version and whether its prices include tax (None, None: none yet)."""
        if self.db.direct is not None:
            row: Any = await self.db.direct.fetchrow(_DIRECT_SETTINGS, {"app_id": app_id})
        else:
            row = (await conn.execute(_SETTINGS, {"app_id": app_id})).first()
        return (row.config_version, row.prices_include_tax) if row else (None, None)

    async def load(self, conn: Reads, app_id: str, cart_id: str, *, lock: bool,
                   variant_id: str | None = None) -> CartRow | None:
        """The cart with its pricing settings, and the variant `variant_id` where given. `lock`: under
        the row lock, in `conn`'s transaction (on SQLite the transaction already holds the database)."""
        params = {"cart_id": cart_id, "app_id": app_id}
        with_variant = variant_id is not None
        if with_variant:
            params["variant_id"] = variant_id  # type: ignore[assignment]
        locked = lock and is_postgres(conn)
        if self.db.direct is not None and not locked:
            row: Any = await self.db.direct.fetchrow(_DIRECT_LOADS[with_variant], params)
        else:
            row = (await conn.execute(_LOADS[with_variant, locked], params)).first()
        return None if row is None else _cart_row(row, with_variant=with_variant)

    async def load_to_convert(self, app_id: str, cart_id: str) -> CartRow | None:
        """The cart without a lock, with whether it was ever abandoned (`abandoned`)."""
        params = {"cart_id": cart_id, "app_id": app_id}
        if self.db.direct is not None:
            row: Any = await self.db.direct.fetchrow(_DIRECT_CONVERT_LOAD, params)
        else:
            async with self.db() as conn:
                row = (await conn.execute(_CONVERT_LOAD, params)).first()
        return None if row is None else _cart_row(row, abandoned=True)

    # ---------------------------------------------------------------- writes

    def creating(self) -> AbstractAsyncContextManager[AsyncConnection]:
        """The connection a new cart is built on: on PostgreSQL reads on demand and no transaction
        (`insert` is one statement); elsewhere one transaction, `insert` included."""
        if self.db.direct is not None:
            return cast(AbstractAsyncContextManager[AsyncConnection], self.db.on_demand())
        return transaction(self.db)

    async def insert(self, conn: AsyncConnection, values: dict[str, Any], event: CartEvent) -> None:
        """A new cart row (`values`: its columns) and its event, on a connection of `creating()`."""
        if self.db.direct is not None:
            await self.db.direct.fetchrow(_DIRECT_INSERT_AND_EMIT, {**values, **event_params(**event.arguments())})
        else:
            await conn.execute(_INSERT, values)
            await write_event(conn, **event.arguments())

    async def write_if_unchanged(self, *, app_id: str, cart_id: str, read_version: int, values: dict[str, Any],
                                 event: CartEvent) -> bool:
        """The cart's columns `values` and its event, only if the cart is still at `read_version`: one
        statement on PostgreSQL. False when another writer got there first (nothing written)."""
        params = {"b_id": cart_id, "b_app_id": app_id, "b_version": read_version, **values}
        return await self._if_unchanged(_DIRECT_UPDATE_AND_EMIT, _UPDATE.where(_AT_VERSION), params, event)

    async def write(self, conn: AsyncConnection, *, app_id: str, cart_id: str, values: dict[str, Any],
                    event: CartEvent) -> None:
        """The cart's columns `values` and its event, in `conn`'s transaction holding the row lock."""
        await conn.execute(_UPDATE, {"b_id": cart_id, "b_app_id": app_id, **values})
        await write_event(conn, **event.arguments())

    async def convert_if_unchanged(self, *, app_id: str, cart_id: str, read_version: int, session_id: str,
                                   version: int, now: datetime, event: CartEvent) -> bool:
        """The cart `converted` for the session, at its next version, with its event, only if it is still
        at `read_version` (one statement on PostgreSQL). False when it changed meanwhile."""
        params = {"b_id": cart_id, "b_app_id": app_id, "b_version": read_version,
                  **_converted(session_id, version, now)}
        return await self._if_unchanged(_DIRECT_CONVERT_AND_EMIT, _CONVERT.where(_AT_VERSION), params, event)

    async def convert(self, conn: AsyncConnection, *, app_id: str, cart_id: str, session_id: str, version: int,
                      now: datetime, event: CartEvent) -> None:
        """The cart `converted` for the session, with its event, in `conn`'s transaction holding the row lock."""
        await conn.execute(_CONVERT, {"b_id": cart_id, "b_app_id": app_id, **_converted(session_id, version, now)})
        await write_event(conn, **event.arguments())

    async def lock_customer(self, conn: AsyncConnection, key: str) -> None:
        """Serialize writers acting for one customer until `conn`'s transaction ends: a transaction-scoped
        advisory lock on PostgreSQL; SQLite writers already run one at a time."""
        if is_postgres(conn):
            await conn.execute(_CUSTOMER_LOCK, {"key": key})

    async def _if_unchanged(self, direct: DirectStatement, guarded: sa.Update, params: dict[str, Any],
                            event: CartEvent) -> bool:
        if self.db.direct is not None:
            return await self.db.direct.fetchrow(direct, {**params, **event_params(**event.arguments())}) is not None
        async with transaction(self.db) as conn:
            if (await conn.execute(guarded, params)).rowcount != 1:
                return False
            await write_event(conn, **event.arguments())
        return True


def _converted(session_id: str, version: int, now: datetime) -> dict[str, Any]:
    return {"status": "converted", "checkout_session_id": session_id, "version": version, "updated_at": now}
