"""The redemption store's tables: campaigns, codes (vouchers) and redemptions.

Counters that limit a campaign or a code (`uses`, `reserved_uses`, `granted`, `reserved_amount`)
are changed only by conditional UPDATEs (`… WHERE uses + reserved_uses < usage_limit`), so two
carts can never both take the last use, whatever the interleaving.
"""

from __future__ import annotations

import sqlalchemy as sa
from kassa_platform.columns import JSON, UTCDateTime, new_metadata

metadata = new_metadata()

# A campaign is in at most one group (campaigns.group_id).
campaign_groups = sa.Table(
    "promo_campaign_groups",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(40), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.String(200), nullable=True),
    sa.Column("metadata", JSON, nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Index("ix_promo_campaign_groups_app_id_id", "app_id", "id"),
)

# PostgreSQL: fillfactor 10, a page per campaign for its counters' updates (migration 0004).
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
    # Columns the lists filter on, kept beside `definition` (which stays the engine's source):
    sa.Column("type", sa.String(20), nullable=False, server_default="discount_codes"),
    sa.Column("starts_at", UTCDateTime(), nullable=True),
    sa.Column("ends_at", UTCDateTime(), nullable=True),
    sa.Column("group_id", sa.String(40), sa.ForeignKey("promo_campaign_groups.id"), nullable=True),
    sa.Column("archived_at", UTCDateTime(), nullable=True),
    sa.Index("ix_promo_campaigns_app_id_active", "app_id", "active"),
    # Every list sort, with the id as its tie-break (keyset pagination).
    sa.Index("ix_promo_campaigns_app_created", "app_id", "created_at", "id"),
    sa.Index("ix_promo_campaigns_app_updated", "app_id", "updated_at", "id"),
    sa.Index("ix_promo_campaigns_app_type", "app_id", "type", "created_at", "id"),
    sa.Index("ix_promo_campaigns_group", "group_id", "created_at", "id"),
    sa.Index("ix_promo_campaigns_app_ends", "app_id", "ends_at"),
    sa.Index("ix_promo_campaigns_app_starts", "app_id", "starts_at"),
    sa.Index("ix_promo_campaigns_app_archived", "app_id", "archived_at",
             postgresql_where=sa.text("archived_at IS NOT NULL"), sqlite_where=sa.text("archived_at IS NOT NULL")),
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
    sa.Column("expires_at", UTCDateTime(), nullable=True),  # the code's own validity
    sa.Column("external_id", sa.String(100), nullable=True),
    sa.Column("metadata", JSON, nullable=True),
    sa.UniqueConstraint("app_id", "code_key", name="uq_promo_codes_app_id_code_key"),
    # The code list of a campaign: by status, by its own expiry, pages by id.
    sa.Index("ix_promo_codes_campaign_status", "campaign_id", "status", "id"),
    sa.Index("ix_promo_codes_campaign_expires", "campaign_id", "expires_at",
             postgresql_where=sa.text("expires_at IS NOT NULL"), sqlite_where=sa.text("expires_at IS NOT NULL")),
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
    # The list's `campaignId` filter, and whether a campaign was ever redeemed (delete).
    sa.Index("ix_promo_redemptions_campaign_id", "campaign_id", "id"),
    sa.Index("ix_promo_redemptions_app_status", "app_id", "status", "id"),
    sa.Index("ix_promo_redemptions_app_created", "app_id", "created_at"),
    # A code's live holds: what makes it `reserved` on read.
    sa.Index("ix_promo_redemptions_code_held", "code_id", "expires_at",
             postgresql_where=sa.text("status = 'reserved'"), sqlite_where=sa.text("status = 'reserved'")),
    # Refusals: one row per code, reason and cart a minute at most (the insert looks here), and
    # their retention (RedemptionStore.record_rejected / purge_rejected).
    sa.Index("ix_promo_redemptions_rejected_code", "code_id", "created_at",
             postgresql_where=sa.text("status = 'rejected'"), sqlite_where=sa.text("status = 'rejected'")),
    sa.Index("ix_promo_redemptions_rejected_created", "created_at",
             postgresql_where=sa.text("status = 'rejected'"), sqlite_where=sa.text("status = 'rejected'")),
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
