"""Kassa's mail to people (not merchants' shoppers): invitations, password resets, new sign-ins, role
changes. Each template has a plain-text and an HTML part.

A message is written to `outgoing_mail` in the transaction of the change it tells of (`queue`), and
a job sends it after the commit (`send_one`, through SMTP with aiosmtplib); a cron job retries what
failed (`send_due`) with growing pauses, so a slow or unreachable SMTP server never holds a request
and no message is lost. Without KASSA_SMTP_HOST the message stays in the table and is logged.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import aiosmtplib
from kassa_platform.settings import Settings
from sqlalchemy.ext.asyncio import AsyncConnection

from . import team_rows as rows

log = logging.getLogger("kassa.team.mail")

MAX_ATTEMPTS = 10
SEND_TIMEOUT_SECONDS = 20.0


@dataclass(frozen=True)
class Mail:
    subject: str
    text: str
    html: str


def _page(title: str, paragraphs: list[str], link: tuple[str, str] | None = None) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    if link:
        body += (f'<p><a href="{html.escape(link[1], quote=True)}" style="display:inline-block;padding:10px 16px;'
                 f'background:#1f2937;color:#ffffff;text-decoration:none;border-radius:6px">{html.escape(link[0])}</a>'
                 f'</p><p style="color:#6b7280;font-size:12px">Or open this address: {html.escape(link[1])}</p>')
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
            f'<body style="font-family:system-ui,sans-serif;color:#111827;max-width:560px">{body}'
            '<p style="color:#6b7280;font-size:12px">Kassa</p></body></html>')


def invitation(*, workspace: str, inviter: str, link: str, expires_at: datetime) -> Mail:
    e = html.escape
    day = expires_at.strftime("%Y-%m-%d %H:%M UTC")
    return Mail(
        subject=f"You are invited to {workspace} on Kassa",
        text=f"{inviter} invited you to the workspace {workspace} on Kassa.\n\nAccept the invitation (sign in, or "
             f"create your account, with this email address):\n{link}\n\nThe invitation works once and expires "
             f"{day}. If you did not expect it, ignore this message.\n",
        html=_page(f"Invitation to {workspace}", [f"{e(inviter)} invited you to the workspace <b>{e(workspace)}</b> "
                   "on Kassa.", "Sign in, or create your account, with this email address to accept.",
                   f"The invitation works once and expires {e(day)}. If you did not expect it, ignore this message."],
                   ("Accept the invitation", link)))


def password_reset(*, link: str, expires_at: datetime) -> Mail:
    day = expires_at.strftime("%Y-%m-%d %H:%M UTC")
    return Mail(
        subject="Reset your Kassa password",
        text=f"Someone (hopefully you) asked to reset the password of your Kassa account.\n\nChoose a new password "
             f"here:\n{link}\n\nThe link works once and expires {day}. Resetting signs you out everywhere. If you "
             "did not ask, ignore this message: your password stays as it is.\n",
        html=_page("Reset your password", ["Someone (hopefully you) asked to reset the password of your Kassa "
                   "account.", f"The link works once and expires {html.escape(day)}. Resetting signs you out "
                   "everywhere. If you did not ask, ignore this message: your password stays as it is."],
                   ("Choose a new password", link)))


def new_sign_in(*, when: datetime, address: str, user_agent: str, sessions_link: str) -> Mail:
    e = html.escape
    day = when.strftime("%Y-%m-%d %H:%M UTC")
    return Mail(
        subject="New sign-in to your Kassa account",
        text=f"Your Kassa account was signed in to on {day} from {address} ({user_agent or 'unknown browser'}).\n\n"
             f"If this was not you, reset your password and sign out everywhere:\n{sessions_link}\n",
        html=_page("New sign-in", [f"Your Kassa account was signed in to on {e(day)} from {e(address)} "
                   f"({e(user_agent or 'unknown browser')}).",
                   "If this was not you, reset your password and sign out everywhere."],
                   ("Secure my account", sessions_link)))


def role_changed(*, workspace: str, role: str, applications: list[tuple[str, str]], by: str) -> Mail:
    e = html.escape
    apps = ", ".join(f"{name}: {r}" for name, r in applications) or "none"
    return Mail(
        subject=f"Your role in {workspace} changed",
        text=f"{by} changed your role in the workspace {workspace} on Kassa.\n\nWorkspace role: {role}\n"
             f"Application roles: {apps}\n",
        html=_page(f"Your role in {workspace} changed", [f"{e(by)} changed your role in the workspace "
                   f"<b>{e(workspace)}</b> on Kassa.", f"Workspace role: <b>{e(role)}</b>",
                   f"Application roles: {e(apps)}"]))


async def queue(conn: AsyncConnection, recipient: str, template: str, mail: Mail, now: datetime) -> str:
    """Keep the message in the caller's transaction; the caller enqueues `send_mail` after the commit."""
    return await rows.insert_mail(conn, recipient=recipient, template=template, subject=mail.subject,
                                  text_body=mail.text, html_body=mail.html, now=now)


def _message(settings: Settings, row: rows.MailRow) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = row.recipient
    message["Subject"] = row.subject
    message["Message-ID"] = make_msgid(idstring=row.id, domain=settings.mail_from.rpartition("@")[2].strip("> ")
                                       or "kassa.invalid")
    message.set_content(row.text_body)
    message.add_alternative(row.html_body, subtype="html")
    return message


async def deliver(settings: Settings, row: rows.MailRow) -> None:
    """One SMTP conversation for one message; raises when the server refuses it or cannot be reached."""
    await aiosmtplib.send(
        _message(settings, row), hostname=settings.smtp_host, port=settings.smtp_port,
        username=settings.smtp_username or None, password=settings.smtp_password or None,
        use_tls=settings.smtp_tls == "tls", start_tls=True if settings.smtp_tls == "starttls" else False,
        timeout=SEND_TIMEOUT_SECONDS)


def retry_delay(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, … up to an hour between tries."""
    return timedelta(seconds=min(3600, 30 * 2 ** max(0, attempts - 1)))
