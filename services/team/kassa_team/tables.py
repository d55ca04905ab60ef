"""The team service's own tables: invitations, password resets and the mail it sends.

Users, sessions, workspaces, memberships and application roles are the platform's
(`kassa_platform.tables`): every service reads them to turn a session cookie into a Principal.
"""

from __future__ import annotations

import sqlalchemy as sa
from kassa_platform.columns import JSON, UTCDateTime, new_metadata

metadata = new_metadata()

invitations = sa.Table(
    "invitations",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("workspace_id", sa.String(40), nullable=False, index=True),
    sa.Column("email", sa.String(254), nullable=False),  # lower case; only this address may accept
    sa.Column("role", sa.String(12), nullable=False),
    sa.Column("applications", JSON, nullable=False),  # [{applicationId, role}]
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),  # SHA-256 of the link's token
    sa.Column("invited_by", sa.String(40), nullable=True),  # a user id, or a key id
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("accepted_at", UTCDateTime(), nullable=True),
    sa.Column("accepted_by", sa.String(40), nullable=True),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
)

password_resets = sa.Table(
    "password_resets",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("user_id", sa.String(40), nullable=False, index=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("used_at", UTCDateTime(), nullable=True),
)

# The mail outbox: a message is written in the transaction of the change it tells of and sent by a
# job afterwards, so a slow or down SMTP server never holds a request, and a failed send is retried.
outgoing_mail = sa.Table(
    "outgoing_mail",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("recipient", sa.String(254), nullable=False),
    sa.Column("template", sa.String(40), nullable=False),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("text_body", sa.Text(), nullable=False),
    sa.Column("html_body", sa.Text(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
    sa.Column("sent_at", UTCDateTime(), nullable=True),
    sa.Column("last_error", sa.String(500), nullable=True),
    sa.Index("ix_outgoing_mail_pending", "next_attempt_at",
              postgresql_where=sa.text("sent_at IS NULL"), sqlite_where=sa.text("sent_at IS NULL")),
)
