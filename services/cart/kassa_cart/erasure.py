"""Erasure of a customer's (or a guest's) personal data, GDPR art. 17 (docs/contract.md, "Erasure").

The cart service owns customers, so it runs an erasure: it finds the person (the customer by id or
email, else a guest by email), records the request with whom to redact (`customer_erasures`),
redacts its own tables and the promotions store's, deletes the customer with its segments and writes
`customer.erased` (ids only), all in one transaction. Then it asks the checkout service (sessions,
orders, refunds, its events) and the webhook service (stored event bodies, queued deliveries,
attempts) to redact theirs (`/internal/checkout/erasures`, `/internal/webhooks/erasures`), and last the platform's shared records (stored
idempotent answers, the audit log). Each step records its counts on the request.

Every step finds only what is still unredacted, so the whole is re-runnable: a failure midway (a
service down) leaves the request `pending` with its subject, and a retry of the call, or the
`complete_erasures` job, finishes it. Once `completed` the subject (the person's strings) is
cleared and only the counts stay. A repeat finds nothing and answers zeros.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from kassa_contract.erasure import (
    CUSTOMER_ERASED,
    ERASURE_PLACES,
    CustomerErasedData,
    CustomerSettings,
    EraseCustomer,
    Erasure,
    ErasurePart,
    ErasureSubject,
    UpdateCustomerSettings,
    erased_owner,
)
from kassa_contract.errors import KassaError
from kassa_platform import audit
from kassa_platform.clock import Clock
from kassa_platform.db import Database, transaction
from kassa_platform.ids import new_id
from kassa_platform.outbox import write_event
from kassa_platform.redaction import Redactor, clean, document_needles
from kassa_platform.redaction_rows import redact_answers, redact_audit, redact_outbox
from kassa_platform.service_client import ServiceClient
from kassa_platform.settings import Settings

from . import erasure_rows as rows
from .customers import CustomerService

SOURCE = "cart"
# Each service's part, at a path of its own (a router or gateway sends a path to one service).
INTERNAL_PATHS = {"checkout": "/internal/checkout/erasures", "webhooks": "/internal/webhooks/erasures"}
PART_TIMEOUT_SECONDS = 30.0


def erasure_clients(settings: Settings, services: dict[str, Any]) -> tuple[ServiceClient, ServiceClient]:
    """The checkout and webhook services, as an erasure calls them: a part may rewrite many rows, so it
    gets longer than the default timeout."""
    return (ServiceClient("checkout", settings, services, timeout=PART_TIMEOUT_SECONDS),
            ServiceClient("webhooks", settings, services, timeout=PART_TIMEOUT_SECONDS))


def zeros() -> dict[str, int]:
    return dict.fromkeys(ERASURE_PLACES, 0)


def _add(report: dict[str, int], counts: dict[str, int]) -> dict[str, int]:
    total = {**zeros(), **report}
    for place, count in counts.items():
        if place in total:
            total[place] += count
    return total


def _view(row: rows.ErasureRow) -> Erasure:
    return Erasure(id=row.id, status="completed" if row.status == "completed" else "pending",
                   customer_id=row.customer_id, redacted={**zeros(), **row.report}, created_at=row.created_at,
                   completed_at=row.completed_at)


class ErasureService:
    def __init__(self, db: Database, clock: Clock, customers: CustomerService, checkout: ServiceClient,
                 webhooks: ServiceClient) -> None:
        self.db = db
        self.clock = clock
        self.customers = customers
        self.checkout = checkout
        self.webhooks = webhooks

    # ------------------------------------------------------------ settings

    async def settings(self, app_id: str) -> CustomerSettings:
        async with self.db() as conn:
            keys, updated_at = await rows.personal_metadata_keys(conn, app_id)
        return CustomerSettings(personal_metadata_keys=keys, updated_at=updated_at)

    async def update_settings(self, app_id: str, body: UpdateCustomerSettings) -> CustomerSettings:
        now = self.clock.now()
        keys = sorted(set(body.personal_metadata_keys))
        async with transaction(self.db) as conn:
            before, updated_at = await rows.personal_metadata_keys(conn, app_id)
            await rows.save_personal_metadata_keys(conn, app_id, keys, now)
            after = CustomerSettings(personal_metadata_keys=keys, updated_at=now)
            await audit.record(conn, "customer_settings.updated", app_id, app_id=app_id, now=now,
                               before=CustomerSettings(personal_metadata_keys=before, updated_at=updated_at), after=after)
        return after

    # ------------------------------------------------------------ erasure

    async def erase(self, app_id: str, body: EraseCustomer) -> Erasure:
        """Redact the person everywhere; the counts per place. 404 `customer_not_found` for a customer
        id this application never had; an email that matches nothing is a guest with nothing left (zeros)."""
        erasure_id = await self._start(app_id, body)
        return await self.finish(app_id, erasure_id)

    async def _start(self, app_id: str, body: EraseCustomer) -> str:
        """The cart service's own part, in one transaction; the erasure's id."""
        now = self.clock.now()
        email = body.email.lower() if body.email else None
        async with transaction(self.db) as conn:
            customer = await rows.customer(conn, app_id, customer_id=body.customer_id, email=email)
            resumed = next((p for p in await rows.pending(conn, app_id)
                            if (body.customer_id and p.customer_id == body.customer_id)
                            or (customer is not None and p.customer_id == customer.id)
                            or (email and email in (p.subject or {}).get("emails", []))), None)
            if (body.customer_id and customer is None and resumed is None
                    and not await rows.erased_before(conn, app_id, body.customer_id)):
                raise KassaError("customer_not_found", f"No customer {body.customer_id}", field="customerId")
            customer_id = customer.id if customer else (resumed.customer_id if resumed else body.customer_id)
            subject = ErasureSubject(erasure_id=resumed.id if resumed else new_id("era"), customer_id=customer_id)
            if resumed is not None and resumed.subject:
                subject = msgspec.convert(resumed.subject, ErasureSubject)
            keys, _ = await rows.personal_metadata_keys(conn, app_id)
            keys = sorted({*subject.personal_metadata_keys, *keys})
            emails: list[str | None] = [*subject.emails, *([email] if email else []), *([customer.email] if customer and customer.email else [])]
            needles: list[Any] = list(subject.needles)
            if customer is not None:
                needles += [customer.first_name, customer.last_name, customer.phone, customer.external_id,
                            customer.identity_subject, *document_needles({"metadata": customer.metadata}, keys)]
            carts = await rows.subject_carts(conn, app_id, customer_id, clean(emails), subject.cart_ids)
            for cart in carts:
                emails.append(cart.customer_email)
                needles += document_needles({"shippingAddress": cart.shipping_address, "metadata": cart.metadata,
                                             "billingAddress": cart.billing_address, "document": cart.document}, keys)
            subject.emails = clean(emails)
            subject.needles = clean(needles)
            subject.cart_ids = sorted({*subject.cart_ids, *(c.id for c in carts)})
            subject.aggregate_ids = sorted({*subject.aggregate_ids, *subject.cart_ids,
                                            *([customer_id] if customer_id else [])})
            subject.personal_metadata_keys = keys
            redactor = Redactor(subject.emails, subject.needles, subject.personal_metadata_keys)
            owner = customer_id or erased_owner(subject.erasure_id)
            counts = {"carts": await rows.redact_carts(conn, app_id, subject.cart_ids, redactor),
                      "cartAbandonments": await rows.redact_abandonments(conn, app_id, subject.cart_ids, subject.emails),
                      "promotionCodes": await rows.redact_codes(conn, app_id, subject.emails, owner),
                      "redemptions": await rows.redact_redemptions(conn, app_id, subject.emails, owner)}
            if customer is not None:
                counts["customers"], counts["customerSegments"] = await rows.delete_customer(conn, app_id, customer.id)
                self.customers.generation += 1  # caches of customers (shopper identity) forget it
            counts["outboxEvents"] = await redact_outbox(conn, app_id, SOURCE, subject.aggregate_ids, redactor)
            if resumed is None and (customer is not None or any(counts.values())):
                # Ids only: the customer's own sequence moves on; a guest's event is the erasure's.
                await write_event(conn, app_id=app_id, type=CUSTOMER_ERASED, source=SOURCE,
                                  aggregate_id=customer.id if customer else subject.erasure_id,
                                  sequence=customer.version + 1 if customer else 1,
                                  data=CustomerErasedData(customer_id=customer_id, erasure_id=subject.erasure_id),
                                  now=now)
            state = {"subject": msgspec.to_builtins(subject), "updated_at": now}
            if resumed is None:
                # Ids and counts only (this part's; the erasure's own report has the rest): the entry
                # must not bring back what it erased.
                await audit.record(conn, "customer.erased", subject.erasure_id, app_id=app_id, now=now, after={
                    "erasureId": subject.erasure_id, "customerId": customer_id, "redacted": counts})
                await rows.insert(conn, {"id": subject.erasure_id, "app_id": app_id, "customer_id": customer_id,
                                         "status": "pending", "report": _add({}, counts), "created_at": now, **state})
            else:
                await rows.update(conn, resumed.id, {**state, "report": _add(resumed.report, counts)})
        return subject.erasure_id

    async def finish(self, app_id: str, erasure_id: str) -> Erasure:
        """The other services' parts and the platform's records, then the request completed. A service
        that does not answer leaves it pending (503 `service_unavailable`): a retry finishes it."""
        async with self.db() as conn:
            row = await rows.fetch(conn, app_id, erasure_id)
        if row is None:
            raise KassaError("erasure_not_found", f"No erasure {erasure_id}")
        if row.status == "completed":  # finished meanwhile (the job, or another retry)
            return _view(row)
        subject = msgspec.convert(row.subject or {"erasure_id": erasure_id}, ErasureSubject)
        for client, path in ((self.checkout, INTERNAL_PATHS["checkout"]), (self.webhooks, INTERNAL_PATHS["webhooks"])):
            part = await client.call("POST", path, app_id=app_id, json=subject, into=ErasurePart)
            subject.aggregate_ids = sorted({*subject.aggregate_ids, *part.aggregate_ids})
            subject.needles = clean([*subject.needles, *part.needles])
            async with transaction(self.db) as conn:
                current = await rows.fetch(conn, app_id, erasure_id)
                report = _add(current.report if current else {}, part.redacted)
                await rows.update(conn, erasure_id, {"subject": msgspec.to_builtins(subject), "report": report,
                                                     "updated_at": self.clock.now()})
        redactor = Redactor(subject.emails, subject.needles, subject.personal_metadata_keys)
        now = self.clock.now()
        async with transaction(self.db) as conn:
            current = await rows.fetch(conn, app_id, erasure_id)
            report = _add(current.report if current else {}, {
                "idempotencyAnswers": await redact_answers(conn, app_id, subject.aggregate_ids, redactor),
                "auditEvents": await redact_audit(conn, app_id, subject.aggregate_ids, redactor)})
            await rows.update(conn, erasure_id, {"status": "completed", "subject": None, "report": report,
                                                 "updated_at": now, "completed_at": now})
        return Erasure(id=erasure_id, status="completed", customer_id=row.customer_id, redacted=report,
                       created_at=row.created_at, completed_at=now)

    async def complete_pending(self, before: datetime, limit: int = 20) -> int:
        """The job's part: finish erasures left pending (a service was down); how many completed."""
        async with self.db() as conn:
            due = await rows.pending_due(conn, before, limit)
        done = 0
        for app_id, erasure_id in due:
            try:
                await self.finish(app_id, erasure_id)
                done += 1
            except KassaError:
                continue  # still down: the next run tries again
        return done

    async def get(self, app_id: str, erasure_id: str) -> Erasure:
        async with self.db() as conn:
            row = await rows.fetch(conn, app_id, erasure_id)
        if row is None:
            raise KassaError("erasure_not_found", f"No erasure {erasure_id}")
        return _view(row)
