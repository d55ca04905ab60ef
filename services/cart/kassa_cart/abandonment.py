"""Abandoned carts: the sweep that marks them, recovery and contact, and the list and summary reads.

The sweep (a cron job every minute) marks `open` and `checkout` carts with items that have been
idle past their application's threshold: it sets `abandoned_at`, moves the cart's `version` on
(the event's `sequence`), records one `cart_abandonments` row and writes `cart.abandoned` to the
outbox, all in one transaction per batch. A cart that becomes active again (any change) loses its
`abandoned_at` and can be abandoned again later: a new row, a new event, a higher sequence.

Cost: one query finds the applications with abandonable carts and, for each, its longest-idle
cart (a loose index scan over `ix_carts_abandonable`: one probe per application); only the
applications whose longest-idle cart is past their threshold are then read, by the range of that
index that is due (applications sharing a threshold together, so a batch spans many of them). So
a sweep reads the due carts and one index entry per application, never the carts that are idle
but not due yet. Several sweepers at once claim disjoint batches (`FOR UPDATE
SKIP LOCKED` on PostgreSQL; SQLite writers are serialized by `BEGIN IMMEDIATE`), and the claim
re-checks `abandoned_at IS NULL` under the lock: every abandonment is emitted exactly once.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa
from kassa_contract.abandoned import (
    DEFAULT_THRESHOLD_MINUTES,
    RECOVERY_STATUSES,
    AbandonedCart,
    AbandonedCartSummary,
    AbandonedCustomer,
    AbandonmentDelivered,
    CurrencyAmount,
)
from kassa_contract.common import Page
from kassa_contract.customers import MarketingConsent
from kassa_contract.errors import KassaError
from kassa_contract.events import (
    CART_ABANDONED,
    CART_RECOVERED,
    EVENT_VERSION,
    AbandonedIncentive,
    AbandonedStore,
    CartAbandonedData,
    CartRecoveredData,
    EventEnvelope,
)
from kassa_contract.versions import LATEST_VERSION
from kassa_platform.clock import Clock
from kassa_platform.columns import UTCDateTime
from kassa_platform.db import Database, transaction
from kassa_platform.ids import new_id
from kassa_platform.outbox import write_event
from kassa_platform.pagination import check_limit, newest_first_page
from kassa_promotions.store.codes import CodeStore, make_code
from sqlalchemy.ext.asyncio import AsyncConnection

from . import abandonment_rows
from .catalog import LinePresentation, presentations
from .recovery import recovery_url
from .tables import cart_abandonments, carts

log = logging.getLogger("kassa.cart.abandonment")

SOURCE = "cart"
SWEEP_BUDGET_SECONDS = 45.0  # the cron job's timeout is 60 s; what is left waits for the next minute

c = carts.c
a = cart_abandonments.c
_encoder = msgspec.json.Encoder()

MAX_APPS_PER_GROUP = 500  # application ids bound in one claim statement


@dataclass(frozen=True)
class DueGroup:
    """Applications with due carts that share one cutoff (the same threshold)."""

    cutoff: datetime
    templates: dict[str, str | None]  # app id -> its recovery URL template
    stores: dict[str, AbandonedStore] = field(default_factory=dict)  # app id -> its store, from the branding
    incentives: dict[str, str] = field(default_factory=dict)  # app id -> its recovery incentive campaign


def customer_of(email: str | None) -> AbandonedCustomer | None:
    """Carts have no customer record yet: a captured email makes a guest, no email an anonymous cart."""
    return None if email is None else AbandonedCustomer(id=None, email=email, first_name=None)


async def due_groups(db: Database, now: datetime, app_ids: Collection[str] | None = None) -> list[DueGroup]:
    """The applications whose longest-idle cart is past their threshold, grouped by threshold."""
    rows = await abandonment_rows.due_apps(db)
    by_threshold: dict[int, dict[str, Any]] = defaultdict(dict)
    for row in rows:
        if app_ids is not None and row.app_id not in app_ids:
            continue
        threshold = row.threshold or DEFAULT_THRESHOLD_MINUTES
        if row.oldest is not None and row.oldest < now - timedelta(minutes=threshold):
            by_threshold[threshold][row.app_id] = row
    groups = []
    for threshold, apps in sorted(by_threshold.items()):
        ids = list(apps)
        for i in range(0, len(ids), MAX_APPS_PER_GROUP):
            chunk = [apps[a] for a in ids[i:i + MAX_APPS_PER_GROUP]]
            groups.append(DueGroup(now - timedelta(minutes=threshold), {r.app_id: r.template for r in chunk},
                                   {r.app_id: store_of(r.branding) for r in chunk},
                                   {r.app_id: r.incentive["campaignId"] for r in chunk
                                    if r.incentive and r.incentive.get("campaignId")}))
    return groups


def store_of(branding: dict[str, Any] | None) -> AbandonedStore:
    b = branding or {}
    return AbandonedStore(display_name=b.get("displayName"), logo_url=b.get("logoUrl"),
                          primary_color=b.get("primaryColor"), locale=b.get("locale"), currency=b.get("currency"))


def customer_for_email(r: Any, customer: abandonment_rows.CustomerRow | None) -> AbandonedCustomer | None:
    """Who an email goes to: the cart's customer, else the guest of its email; names from the customer,
    else from the cart's address (shipping, then billing)."""
    email = (customer.email if customer else None) or r.customer_email
    if customer is None and email is None:
        return None
    # The address that names someone: shipping, else billing.
    address = next((x for x in (r.shipping_address, r.billing_address) if x and x.get("firstName")), None) or {}
    first = customer.first_name if customer and customer.first_name else address.get("firstName")
    last = customer.last_name if customer and customer.last_name else address.get("lastName")
    consent = (msgspec.convert(customer.marketing_consent, MarketingConsent)
               if customer and customer.marketing_consent else None)
    return AbandonedCustomer(id=customer.id if customer else None, email=email, first_name=first, last_name=last,
                             locale=customer.locale if customer else None, marketing_consent=consent)


def email_line(line: dict[str, Any], shown: LinePresentation | None) -> dict[str, Any]:
    """A stored line (camelCase, as LineItem) with what an email needs: null where the catalog has nothing."""
    return {**line, "productUrl": shown.product_url if shown else None,
            "imageUrl": shown.image_url if shown else None,
            "variantName": shown.variant_name if shown else None,
            "productName": shown.product_name if shown else None, "lineTotal": line.get("total", 0)}


def _store_for(store: AbandonedStore | None, currency: str) -> AbandonedStore:
    """The store of the branding; its currency defaults to the cart's (what the shopper was shown)."""
    store = store or AbandonedStore()
    return store if store.currency else msgspec.structs.replace(store, currency=currency)


def incentive_code() -> str:
    return make_code("BACK-", "####-####-####")


async def abandon_batch(db: Database, clock: Clock, signing_key: str, group: DueGroup, limit: int) -> int:
    """Mark up to `limit` due carts of a group's applications abandoned and emit their events; one transaction."""
    async with transaction(db) as conn:
        now = clock.now()
        rows = await abandonment_rows.mark_batch(conn, app_ids=list(group.templates), cutoff=group.cutoff,
                                                 limit=limit, now=now)
        if not rows:
            return 0
        abandonments: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        people = await abandonment_rows.customers_by_id(conn, [r.customer_id for r in rows if r.customer_id])
        shown = await presentations(conn, [li["variantId"] for r in rows for li in r.document.get("lineItems", [])
                                           if li.get("variantId")])
        live = await abandonment_rows.code_campaigns(conn, list(group.incentives.values()))
        minted: list[dict[str, Any]] = []
        for r in rows:
            sequence = r.version  # moved on by the mark: the event's sequence
            event_id = new_id("evt")
            url = recovery_url(group.templates[r.app_id], signing_key, app_id=r.app_id, cart_id=r.id, now=now)
            incentive = None
            campaign_id = group.incentives.get(r.app_id)
            if campaign_id is not None and live.get(campaign_id) == r.app_id:
                # Single-use, bound to this cart (assigned to its id): it works on no other cart.
                code = incentive_code()
                minted.append(CodeStore.row_values(r.app_id, campaign_id, code, usage_limit=1, balance=None,
                                                   assigned_to=r.id, status="assigned", now=now))
                incentive = AbandonedIncentive(code=code, campaign_id=campaign_id)
            data = CartAbandonedData(
                cart_id=r.id, sequence=sequence,
                customer=customer_for_email(r, people.get(r.customer_id) if r.customer_id else None),
                # The stored lines and addresses already have the wire shape (camelCase dicts of
                # LineItem / CartAddress): they are encoded as they are, not converted and back.
                line_items=[email_line(li, shown.get((r.app_id, li.get("variantId") or "")))  # type: ignore[misc]
                            for li in r.document.get("lineItems", [])],
                currency=r.currency, subtotal=r.subtotal,
                tax_total=r.tax_total, shipping_total=r.shipping_total, discount_total=r.discount_total,
                total=r.total, item_count=r.item_count, recovery_url=url,
                shipping_address=r.shipping_address, billing_address=r.billing_address, abandoned_at=now,
                checkout_url=url, store=_store_for(group.stores.get(r.app_id), r.currency), value=r.total,
                event_id=event_id, recovery_incentive=incentive,
            )
            envelope = EventEnvelope(id=event_id, type=CART_ABANDONED, version=EVENT_VERSION,
                                     api_version=LATEST_VERSION, created_at=now, data=data)  # type: ignore[arg-type]  # msgspec encodes the Struct as is
            events.append({"id": event_id, "app_id": r.app_id, "type": CART_ABANDONED, "source": SOURCE,
                           "aggregate_id": r.id, "sequence": sequence, "payload": _encoder.encode(envelope),
                           "created_at": now})
            abandonments.append({
                "id": new_id("abd"), "app_id": r.app_id, "cart_id": r.id, "sequence": sequence,
                "event_id": event_id, "abandoned_at": now, "currency": r.currency, "subtotal": r.subtotal,
                "discount_total": r.discount_total, "shipping_total": r.shipping_total, "tax_total": r.tax_total,
                "total": r.total, "item_count": r.item_count, "customer_email": r.customer_email,
                "recovery_status": "not_contacted", "contacted_at": None, "recovered_at": None, "order_id": None,
                "recovered_total": None, "incentive_code": incentive.code if incentive else None,
            })
        await abandonment_rows.insert_codes(conn, minted)
        await abandonment_rows.insert_batch(conn, abandonments, events)
    return len(rows)


async def sweep(db: Database, clock: Clock, signing_key: str, *, batch: int | None = None,
                budget_seconds: float = SWEEP_BUDGET_SECONDS, app_ids: Collection[str] | None = None) -> int:
    """Abandon every due cart (or as many as the time budget allows); returns how many.

    `app_ids` limits the sweep to some applications (tests, operations); the cron job sweeps all.
    """
    deadline = time.monotonic() + budget_seconds
    limit = batch or abandonment_rows.batch_size(db)
    total = 0
    for group in await due_groups(db, clock.now(), app_ids):
        while True:
            done = await abandon_batch(db, clock, signing_key, group, limit)
            total += done
            if time.monotonic() >= deadline:
                log.info("abandonment sweep: time budget spent after %d carts; the next run goes on", total)
                return total
            if done < limit:
                break
    return total


# ---------------------------------------------------------------- recovery


_LATEST = (
    sa.select(a.id, a.recovery_status, a.abandoned_at, a.currency)
    .where(a.cart_id == sa.bindparam("cart_id"), a.app_id == sa.bindparam("app_id"))
    .order_by(a.sequence.desc())
    .limit(1)
)


async def mark_recovered(conn: AsyncConnection, *, app_id: str, cart_id: str, now: datetime, order_id: str | None,
                         sequence: int) -> bool:
    """Record that a cart converted; if it had been abandoned, its latest abandonment is recovered
    and `cart.recovered` goes to the outbox. Call it in the conversion's transaction (the cart row
    locked) with the conversion's sequence. Returns whether the cart counted as recovered; a cart
    never abandoned costs one indexed read.
    """
    latest = (await conn.execute(_LATEST, {"cart_id": cart_id, "app_id": app_id})).first()
    if latest is None or latest.recovery_status == "recovered":
        return False
    total = (await conn.execute(sa.select(c.total).where(c.id == cart_id, c.app_id == app_id))).scalar_one_or_none()
    updated = await conn.execute(
        sa.update(cart_abandonments)
        .where(a.id == latest.id, a.recovery_status != "recovered")
        .values(recovery_status="recovered", recovered_at=now, order_id=order_id, recovered_total=total or 0))
    if updated.rowcount != 1:
        return False
    await write_event(conn, app_id=app_id, type=CART_RECOVERED, source=SOURCE, aggregate_id=cart_id,
                      sequence=sequence,
                      data=CartRecoveredData(cart_id=cart_id, sequence=sequence, order_id=order_id,
                                             currency=latest.currency, total=total or 0,
                                             abandoned_at=latest.abandoned_at, recovered_at=now),
                      now=now)
    return True


# ---------------------------------------------------------------- contact


_CONTACTED = (
    sa.update(cart_abandonments)
    .where(a.app_id == sa.bindparam("b_app_id"), a.event_id == sa.bindparam("b_event_id"),
           a.cart_id == sa.bindparam("b_cart_id"))
    .values(contacted_at=sa.func.coalesce(a.contacted_at, sa.bindparam("b_at", type_=UTCDateTime())),
            recovery_status=sa.case((a.recovery_status == "not_contacted", "contacted"),
                                    else_=a.recovery_status))
)


async def mark_contacted(conn: AsyncConnection, app_id: str, deliveries: list[AbandonmentDelivered]) -> int:
    """The webhook service delivered these `cart.abandoned` events: their abandonments were contacted.

    Idempotent: a repeat (another endpoint, a retried notice) keeps the first contact time.
    """
    params = [{"b_app_id": app_id, "b_event_id": d.event_id, "b_cart_id": d.cart_id, "b_at": d.delivered_at}
              for d in deliveries]
    updated = 0
    for p in params:  # a few per call; one statement each keeps the rowcount exact on both dialects
        updated += (await conn.execute(_CONTACTED, p)).rowcount
    return updated


# ---------------------------------------------------------------- reads


def abandoned_view(r: Any) -> AbandonedCart:
    return AbandonedCart(id=r.id, cart_id=r.cart_id, sequence=r.sequence, customer=customer_of(r.customer_email),
                         currency=r.currency, total=r.total, item_count=r.item_count, abandoned_at=r.abandoned_at,
                         recovery_status=r.recovery_status, contacted_at=r.contacted_at, recovered_at=r.recovered_at,
                         order_id=r.order_id)


async def list_abandoned(conn: AsyncConnection, app_id: str, *, limit: int, cursor: str | None,
                         since: datetime | None, until: datetime | None,
                         recovery_status: str | None) -> Page[AbandonedCart]:
    """Newest first; `since <= abandonedAt < until`."""
    check_limit(limit)
    if recovery_status is not None and recovery_status not in RECOVERY_STATUSES:
        raise KassaError("validation_error", f"recoveryStatus must be one of {', '.join(RECOVERY_STATUSES)}",
                         field="recoveryStatus", status=400)
    if since is not None and until is not None and since > until:
        raise KassaError("validation_error", "`from` must not be after `to`", field="from", status=400)
    query = sa.select(cart_abandonments).where(a.app_id == app_id)
    if since is not None:
        query = query.where(a.abandoned_at >= since)
    if until is not None:
        query = query.where(a.abandoned_at < until)
    if recovery_status is not None:
        query = query.where(a.recovery_status == recovery_status)
    return await newest_first_page(conn, query, a.id, limit, cursor, abandoned_view)


WINDOW_DAYS_MIN, WINDOW_DAYS_MAX, WINDOW_DAYS_DEFAULT = 1, 365, 30


async def summary(conn: AsyncConnection, app_id: str, *, window_days: int, now: datetime) -> AbandonedCartSummary:
    """The carts abandoned in the trailing window: how many and how much, how many were contacted
    (a `cart.abandoned` delivered to at least one endpoint) and how many recovered (converted)."""
    if not WINDOW_DAYS_MIN <= window_days <= WINDOW_DAYS_MAX:
        raise KassaError("validation_error", f"windowDays must be between {WINDOW_DAYS_MIN} and {WINDOW_DAYS_MAX}",
                         field="windowDays", status=400, details={"min": WINDOW_DAYS_MIN, "max": WINDOW_DAYS_MAX})
    since = now - timedelta(days=window_days)
    recovered = a.recovery_status == "recovered"
    rows = (await conn.execute(
        sa.select(a.currency, sa.func.count().label("n"), sa.func.sum(a.total).label("value"),
                  sa.func.sum(sa.case((a.contacted_at.is_not(None), 1), else_=0)).label("contacted"),
                  sa.func.sum(sa.case((recovered, 1), else_=0)).label("recovered"),
                  sa.func.sum(sa.case((recovered, a.recovered_total), else_=0)).label("recovered_value"))
        .where(a.app_id == app_id, a.abandoned_at >= since, a.abandoned_at <= now)
        .group_by(a.currency).order_by(a.currency))).all()
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        counts["abandoned"] += r.n
        counts["contacted"] += int(r.contacted or 0)
        counts["recovered"] += int(r.recovered or 0)
    return AbandonedCartSummary(
        window_days=window_days, since=since, until=now, abandoned_count=counts["abandoned"],
        abandoned_value=[CurrencyAmount(currency=r.currency, amount=int(r.value or 0)) for r in rows],
        recovery_emails_sent=counts["contacted"], recovered_count=counts["recovered"],
        recovered_value=[CurrencyAmount(currency=r.currency, amount=int(r.recovered_value or 0))
                         for r in rows if r.recovered],
    )
