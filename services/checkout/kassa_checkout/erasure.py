"""The checkout service's part of an erasure (kassa_cart/erasure.py runs it): the person's checkout
sessions, orders (their contact data; amounts, lines and tax stay for the merchant's legal
retention), refund reasons and this service's events, in one transaction. Re-runnable: a repeat
finds nothing left and counts zeros."""

from __future__ import annotations

from kassa_contract.erasure import ErasurePart, ErasureSubject
from kassa_platform.db import Database, transaction
from kassa_platform.redaction import Redactor, clean, document_needles
from kassa_platform.redaction_rows import redact_outbox

from . import erasure_rows as rows

SOURCE = "checkout"


async def erase(db: Database, app_id: str, subject: ErasureSubject) -> ErasurePart:
    async with transaction(db) as conn:
        found = await rows.subject_orders(conn, app_id, subject.cart_ids, subject.emails)
        emails = clean([*subject.emails, *(o.customer_email for o in found)])
        cart_ids = sorted({*subject.cart_ids, *(o.cart_id for o in found)})
        order_ids = [o.id for o in found]
        sessions = await rows.sessions_of(conn, app_id, cart_ids)
        needles = clean([*subject.needles, *document_needles(
            [{"shippingAddress": o.shipping_address, "billingAddress": o.billing_address, "document": o.document,
              "metadata": o.metadata} for o in found] + [{"metadata": m} for m in sessions.values()],
            subject.personal_metadata_keys)])
        session_ids = sorted({*sessions, *(o.session_id for o in found)})
        others = await rows.payment_and_refund_ids(conn, app_id, session_ids, order_ids)
        aggregates = sorted({*subject.aggregate_ids, *cart_ids, *session_ids, *order_ids, *others})
        redactor = Redactor(emails, needles, subject.personal_metadata_keys)
        redacted = {"checkoutSessions": await rows.redact_sessions(conn, app_id, session_ids, redactor),
                    "orders": await rows.redact_orders(conn, app_id, order_ids, redactor),
                    "refunds": await rows.redact_refunds(conn, app_id, order_ids, redactor),
                    "outboxEvents": await redact_outbox(conn, app_id, SOURCE, aggregates, redactor)}
    return ErasurePart(redacted=redacted, aggregate_ids=aggregates,
                       needles=sorted(set(needles) - set(subject.needles)))
