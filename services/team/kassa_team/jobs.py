"""The team service's background jobs: sending mail, retrying what failed, purging what is done."""

from __future__ import annotations

import logging
from datetime import timedelta

from kassa_platform.db import transaction
from kassa_platform.jobs import JobContext, JobQueue, JobRegistry

from . import mail
from . import team_rows as rows

log = logging.getLogger("kassa.team.mail")
registry = JobRegistry()

# A message claimed by a sender is not due again for this long (longer than one SMTP conversation).
LEASE = timedelta(seconds=120)
# Kept for support questions ("did the invitation go out?"), then deleted; their bodies are blanked
# as soon as they are sent. A password reset is kept a day past its expiry.
MAIL_RETENTION = timedelta(days=30)
RESET_RETENTION = timedelta(days=1)


@registry.job(name="send_mail", timeout_seconds=60, max_tries=1)
async def send_mail(ctx: JobContext, mail_id: str) -> bool:
    """Send one queued message; on failure it is due again later (`send_due_mail` retries it)."""
    now = ctx.clock.now()
    async with transaction(ctx.db) as conn:
        row = await rows.claim_mail(conn, mail_id, now, now + LEASE)
    if row is None:
        return False  # sent already, or another sender holds it
    settings = ctx.settings
    if not settings.smtp_host:
        log.info("mail not sent (KASSA_SMTP_HOST is unset): to %s, %s\n%s", row.recipient, row.subject, row.text_body,
                 extra={"mailId": row.id, "template": row.template})
        async with transaction(ctx.db) as conn:
            await rows.mail_failed(conn, row.id, "KASSA_SMTP_HOST is unset", None)
        return False
    try:
        await mail.deliver(settings, row)
    except Exception as exc:  # noqa: BLE001 - every failure is retried, none escapes
        attempts = row.attempts + 1
        retry = None if attempts >= mail.MAX_ATTEMPTS else ctx.clock.now() + mail.retry_delay(attempts)
        log.warning("mail %s to %s failed (try %d): %s: %s", row.id, row.recipient, attempts, type(exc).__name__, exc,
                    extra={"mailId": row.id})
        async with transaction(ctx.db) as conn:
            await rows.mail_failed(conn, row.id, f"{type(exc).__name__}: {exc}", retry)
        return False
    async with transaction(ctx.db) as conn:
        await rows.mail_sent(conn, row.id, ctx.clock.now())
    return True


@registry.cron(every_minutes=1, name="send_due_mail")
async def send_due_mail(ctx: JobContext) -> int:
    """Messages whose send failed (or whose job was lost) and are due again."""
    async with ctx.db() as conn:
        due = await rows.due_mail(conn, ctx.clock.now())
    sent = 0
    for mail_id in due:
        sent += await send_mail(ctx, mail_id)
    return sent


@registry.cron(every_minutes=60, name="purge_team_records")
async def purge_team_records(ctx: JobContext) -> int:
    """Mail sent or given up past its retention, password resets past theirs."""
    now = ctx.clock.now()
    async with transaction(ctx.db) as conn:
        purged = await rows.purge_records(conn, mail_before=now - MAIL_RETENTION, resets_before=now - RESET_RETENTION)
    if purged:
        log.info("purged %d sent mails and used password resets", purged)
    return purged


async def enqueue_mail(queue: JobQueue, mail_ids: list[str]) -> None:
    """After the commit that wrote them; if the queue fails, the cron job sends them within a minute."""
    for mail_id in mail_ids:
        try:
            await queue.enqueue("send_mail", mail_id, job_id=f"mail:{mail_id}")
        except Exception as exc:  # noqa: BLE001 - the message is safe in the table
            log.warning("could not queue mail %s (%s: %s); the retry job will send it", mail_id,
                        type(exc).__name__, exc)
