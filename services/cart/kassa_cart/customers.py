"""Customers: create, read, change, list, delete, segments; each change with its event, atomically.

The cart service owns customers: it owns carts (which a customer's token or a secret key's
`customerId` attaches to one) and the per-customer promotion limits and segments that price them.
Statements live in customer_rows.py; this module holds the rules.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from kassa_contract.base import UNSET
from kassa_contract.common import Page, check_metadata
from kassa_contract.customers import (
    CUSTOMER_CREATED,
    CUSTOMER_DELETED,
    CUSTOMER_UPDATED,
    CartCustomer,
    CreateCustomer,
    Customer,
    CustomerEventData,
    MarketingConsent,
    MarketingConsentInput,
    ShopperIdentity,
    UpdateCustomer,
    UpdateSegments,
)
from kassa_contract.errors import KassaError
from kassa_platform import audit
from kassa_platform.clock import Clock
from kassa_platform.db import Database, transaction
from kassa_platform.ids import new_id
from kassa_platform.outbox import write_event
from sqlalchemy.ext.asyncio import AsyncConnection

from . import customer_rows as rows

SOURCE = "cart"


def _consent(value: MarketingConsentInput | None, now: datetime) -> dict[str, Any]:
    if value is None:
        return msgspec.to_builtins(MarketingConsent())
    return msgspec.to_builtins(MarketingConsent(email=value.email, updated_at=value.updated_at or now,
                                                source=value.source))


def view(row: Any, segments: list[str]) -> Customer:
    identity = (ShopperIdentity(issuer=row.identity_issuer, subject=row.identity_subject)
                if row.identity_issuer else None)
    return Customer(id=row.id, email=row.email, first_name=row.first_name, last_name=row.last_name, phone=row.phone,
                    locale=row.locale, external_id=row.external_id, metadata=row.metadata, segments=segments,
                    marketing_consent=msgspec.convert(row.marketing_consent, MarketingConsent),
                    created_at=row.created_at, updated_at=row.updated_at, identity=identity)


def summary(row: Any) -> CartCustomer:
    return CartCustomer(id=row.id, email=row.email, first_name=row.first_name, last_name=row.last_name)


def _not_found(customer_id: str, field: str | None = None) -> KassaError:
    return KassaError("customer_not_found", f"No customer {customer_id}", field=field)


class CustomerService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        # Moves at every change or deletion of a customer in this process: caches of customers (the shopper
        # identity's) drop what they kept from before.
        self.generation = 0

    async def create(self, app_id: str, body: CreateCustomer) -> Customer:
        check_metadata(body.metadata)
        now = self.clock.now()
        async with transaction(self.db) as conn:
            customer = await self.insert(conn, app_id, now, email=body.email, first_name=body.first_name,
                                         last_name=body.last_name, phone=body.phone, locale=body.locale,
                                         external_id=body.external_id, metadata=body.metadata,
                                         segments=body.segments, consent=_consent(body.marketing_consent, now))
            await audit.record(conn, "customer.created", customer.id, app_id=app_id, now=now, after=customer)
            return customer

    async def insert(self, conn: AsyncConnection, app_id: str, now: datetime, *, segments: list[str] | None = None,
                     consent: dict[str, Any] | None = None, **fields: Any) -> Customer:
        """A new customer and its `customer.created` event in `conn`'s transaction."""
        customer_id = new_id("cus")
        email = fields.get("email")
        await rows.insert(conn, {"id": customer_id, "app_id": app_id, "email_key": email.lower() if email else None,
                                 "marketing_consent": consent or _consent(None, now), "version": 1,
                                 "created_at": now, "updated_at": now, **fields})
        await rows.add_segments(conn, app_id, customer_id, segments or ())
        row = await rows.fetch(conn, app_id, customer_id)
        customer = view(row, sorted(set(segments or ())))
        await self._emit(conn, CUSTOMER_CREATED, app_id, customer, 1, now)
        return customer

    async def get(self, app_id: str, customer_id: str) -> Customer:
        async with self.db() as conn:
            row = await rows.fetch(conn, app_id, customer_id)
            if row is None:
                raise _not_found(customer_id)
            return view(row, (await rows.segments_of(conn, app_id, [row.id]))[row.id])

    async def update(self, app_id: str, customer_id: str, body: UpdateCustomer) -> Customer:
        if body.metadata is not UNSET:
            check_metadata(body.metadata)
        now = self.clock.now()
        values: dict[str, Any] = {}
        for name in ("email", "first_name", "last_name", "phone", "locale", "external_id", "metadata"):
            value = getattr(body, name)
            if value is not UNSET:
                values[name] = value
        if "email" in values:
            values["email_key"] = values["email"].lower() if values["email"] else None
        if body.marketing_consent is not UNSET:
            values["marketing_consent"] = _consent(body.marketing_consent, now)
        async with transaction(self.db) as conn:
            row = await rows.fetch(conn, app_id, customer_id, lock=True)
            if row is None:
                raise _not_found(customer_id)
            current = None
            if body.segments is not UNSET:
                current = set((await rows.segments_of(conn, app_id, [customer_id]))[customer_id])
                wanted = set(body.segments or ())
                await rows.remove_segments(conn, app_id, customer_id, sorted(current - wanted))
                await rows.add_segments(conn, app_id, customer_id, sorted(wanted - current))
            return await self._updated(conn, row, values, now, current)

    async def change_segments(self, app_id: str, customer_id: str, body: UpdateSegments) -> Customer:
        """Incremental and idempotent: the event is written only when the segments changed."""
        now = self.clock.now()
        async with transaction(self.db) as conn:
            row = await rows.fetch(conn, app_id, customer_id, lock=True)
            if row is None:
                raise _not_found(customer_id)
            before = set((await rows.segments_of(conn, app_id, [customer_id]))[customer_id])
            after = (before | set(body.add)) - set(body.remove)
            if after == before:
                return view(row, sorted(before))
            await rows.remove_segments(conn, app_id, customer_id, sorted(before - after))
            await rows.add_segments(conn, app_id, customer_id, sorted(after - before))
            return await self._updated(conn, row, {}, now, before)

    async def _updated(self, conn: AsyncConnection, row: Any, values: dict[str, Any], now: datetime,
                       segments_before: set[str] | None = None) -> Customer:
        before = None
        if audit.current.get() is not None:  # the audit entry's `before`: segments as they were, if they moved
            segments = segments_before if segments_before is not None else \
                (await rows.segments_of(conn, row.app_id, [row.id]))[row.id]
            before = view(row, sorted(segments))
        self.generation += 1
        version = row.version + 1
        await rows.update(conn, row.app_id, row.id, {**values, "version": version, "updated_at": now})
        fresh = await rows.fetch(conn, row.app_id, row.id)
        customer = view(fresh, (await rows.segments_of(conn, row.app_id, [row.id]))[row.id])
        await self._emit(conn, CUSTOMER_UPDATED, row.app_id, customer, version, now)
        await audit.record(conn, "customer.updated", row.id, app_id=row.app_id, now=now, before=before, after=customer)
        return customer

    async def claim_identity(self, conn: AsyncConnection, row: Any, identity: dict[str, str], now: datetime) -> None:
        """A shopper whose verified email is this customer's signs in for the first time: the customer
        is theirs from now on (issuer and subject recorded), with a `customer.updated` event."""
        await self._updated(conn, row, identity, now)

    async def delete(self, app_id: str, customer_id: str) -> Customer:
        """The customer and its segments go; carts and orders keep the id they carried."""
        now = self.clock.now()
        async with transaction(self.db) as conn:
            row = await rows.fetch(conn, app_id, customer_id, lock=True)
            if row is None:
                raise _not_found(customer_id)
            customer = view(row, (await rows.segments_of(conn, app_id, [customer_id]))[customer_id])
            await rows.delete(conn, app_id, customer_id)
            self.generation += 1
            await self._emit(conn, CUSTOMER_DELETED, app_id, customer, row.version + 1, now)
            await audit.record(conn, "customer.deleted", customer_id, app_id=app_id, now=now, before=customer)
        return customer

    async def list(self, app_id: str, *, limit: int, cursor: str | None, email: str | None = None,
                   external_id: str | None = None, segment: str | None = None,
                   created_gte: datetime | None = None, created_lt: datetime | None = None) -> Page[Customer]:
        async with self.db() as conn:
            found = await rows.page(conn, app_id, limit=limit, cursor=cursor, email=email, external_id=external_id,
                                    segment=segment, created_gte=created_gte, created_lt=created_lt)
            segments = await rows.segments_of(conn, app_id, [r.id for r in found.data])
        return Page(data=[view(r, segments[r.id]) for r in found.data], next_cursor=found.next_cursor)

    async def attachable(self, conn: AsyncConnection, app_id: str, customer_id: str,
                         field: str = "customerId") -> CartCustomer:
        """The customer a secret key names on a cart (404 `customer_not_found` naming the field)."""
        row = await rows.fetch(conn, app_id, customer_id)
        if row is None:
            raise _not_found(customer_id, field)
        return summary(row)

    @staticmethod
    async def _emit(conn: AsyncConnection, type_: str, app_id: str, customer: Customer, sequence: int,
                    now: datetime) -> None:
        await write_event(conn, app_id=app_id, type=type_, source=SOURCE, aggregate_id=customer.id,
                          sequence=sequence, data=CustomerEventData(customer_id=customer.id, sequence=sequence,
                                                                    customer=customer), now=now)
