"""The webhook service's part of an erasure (kassa_cart/erasure.py runs it): the stored bodies of
the person's events, which queued deliveries (not sent yet) send as they are when they go out, and
what receivers echoed back in attempts. Re-runnable: a repeat finds nothing left and counts zeros.

A receiver that already got an event keeps its copy: `customer.erased` tells it to erase too."""

from __future__ import annotations

from kassa_contract.erasure import ErasurePart, ErasureSubject
from kassa_platform.db import Database, transaction
from kassa_platform.redaction import Redactor

from . import erasure_rows as rows


async def erase(db: Database, app_id: str, subject: ErasureSubject) -> ErasurePart:
    redactor = Redactor(subject.emails, subject.needles, subject.personal_metadata_keys)
    async with transaction(db) as conn:
        own, others = await rows.subject_events(conn, app_id, subject.aggregate_ids, redactor.emails)
        ids = own + others
        changed: list[str] = []
        events = (await rows.redact_events(conn, app_id, own, redactor, changed)
                  + await rows.redact_events(conn, app_id, others, redactor.values_only(), changed))
        redacted = {"webhookEvents": events,
                    "webhookDeliveriesQueued": await rows.queued_deliveries(conn, app_id, changed),
                    "webhookAttempts": await rows.redact_attempts(conn, app_id, ids, redactor)}
    return ErasurePart(redacted=redacted)
