"""The redemption store's tables: campaigns, codes (vouchers) and redemptions.

Counters that limit a campaign or a code (`uses`, `reserved_uses`, `granted`, `reserved_amount`)
are changed only by conditional UPDATEs (`… WHERE uses + reserved_uses < usage_limit`), so two
carts can never both take the last use, whatever the interleaving.
"""

from __future__ import annotations

import sqlalchemy as sa
from kassa_platform.columns import JSON, UTCDateTime, new_metadata

metadata = new_metadata()

campaigns = sa.Table(
    "promo_campaigns",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(40), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("trigger", sa.String(12), nullable=False),  # automatic | code
    sa.Column("definition", JSON, nullable=False),  # reward, items, rules, priority, stacking, window, currency
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("usage_limit", sa.Integer(), nullable=True),
    sa.Column("uses", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("reserved_uses", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("budget", sa.BigInteger(), nullable=True),
    sa.Column("granted", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("reserved_amount", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Index("ix_promo_campaigns_app_id_active", "app_id", "active"),
)

codes = sa.Table(
    "promo_codes",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(40), nullable=False),
    sa.Column("campaign_id", sa.String(40), sa.ForeignKey("promo_campaigns.id"), nullable=False, index=True),
    sa.Column("code", sa.String(64), nullable=False),  # as issued
    sa.Column("code_key", sa.String(64), nullable=False),  # upper-cased: codes match case-insensitively
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("usage_limit", sa.Integer(), nullable=True),  # None: unlimited (generic codes)
    sa.Column("uses", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("reserved_uses", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("balance", sa.BigInteger(), nullable=True),  # gift cards
    sa.Column("assigned_to", sa.String(254), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("app_id", "code_key", name="uq_promo_codes_app_id_code_key"),
)

redemptions = sa.Table(
    "promo_redemptions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(40), nullable=False),
    sa.Column("campaign_id", sa.String(40), nullable=False),
    sa.Column("code_id", sa.String(40), nullable=True),
    sa.Column("code", sa.String(64), nullable=True),
    sa.Column("cart_id", sa.String(40), nullable=True),
    sa.Column("order_id", sa.String(40), nullable=True),
    sa.Column("customer", sa.String(254), nullable=True),  # id or email
    sa.Column("amount", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # reserved | confirmed | released | cancelled | rejected
    sa.Column("reason", sa.String(60), nullable=True),
    sa.Column("message", sa.String(300), nullable=True),
    sa.Column("expires_at", UTCDateTime(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Index("ix_promo_redemptions_app_id_id", "app_id", "id"),
    sa.Index("ix_promo_redemptions_cart_id", "cart_id"),
    sa.Index("ix_promo_redemptions_order_id", "order_id"),
    sa.Index("ix_promo_redemptions_reserved_expiry", "expires_at",
             postgresql_where=sa.text("status = 'reserved'"), sqlite_where=sa.text("status = 'reserved'")),
)

# Two-step redemptions of the public API (reservations.py): one row per redemption (`rdm_…`), one
# line per discount it holds (each its `promo_redemptions` row, `red_…`), one row per rollback.
# The lines' redemption rows carry no cart and no expiry: the hold's expiry is its own, here.
reservations = sa.Table(
    "promo_reservations",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(40), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # reserved | confirmed | cancelled | expired | rolled_back
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("codes", JSON, nullable=False),
    sa.Column("cart_id", sa.String(60), nullable=True),
    sa.Column("customer_id", sa.String(60), nullable=True),
    sa.Column("email", sa.String(254), nullable=True),
    sa.Column("transaction_id", sa.String(100), nullable=True),
    sa.Column("subtotal", sa.BigInteger(), nullable=False),
    sa.Column("amount", sa.BigInteger(), nullable=False),
    sa.Column("rolled_back", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("version", sa.Integer(), nullable=False),  # the sequence of its events
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("confirmed_at", UTCDateTime(), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("app_id", "transaction_id", name="uq_promo_reservations_app_id_transaction_id"),
    sa.Index("ix_promo_reservations_due", "expires_at",
             postgresql_where=sa.text("status = 'reserved'"), sqlite_where=sa.text("status = 'reserved'")),
)

reservation_lines = sa.Table(
    "promo_reservation_lines",
    metadata,
    sa.Column("redemption_id", sa.String(40), primary_key=True),  # its promo_redemptions row
    sa.Column("reservation_id", sa.String(40), sa.ForeignKey("promo_reservations.id"), nullable=False, index=True),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("lines", JSON, nullable=False),  # [[line id, amount], ...]
    sa.Column("shipping", sa.BigInteger(), nullable=False),
    sa.Column("gift_card", sa.Boolean(), nullable=False),
    sa.Column("rolled_back", sa.BigInteger(), nullable=False, server_default="0"),
)

reservation_rollbacks = sa.Table(
    "promo_reservation_rollbacks",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(40), nullable=False),
    sa.Column("reservation_id", sa.String(40), sa.ForeignKey("promo_reservations.id"), nullable=False, index=True),
    sa.Column("reason", sa.String(200), nullable=False),
    sa.Column("amount", sa.BigInteger(), nullable=False),
    sa.Column("parts", JSON, nullable=False),  # [[redemption id, amount, use returned], ...]
    sa.Column("created_at", UTCDateTime(), nullable=False),
)
