"""The cart service's tables. Every row carries `app_id`; every query filters on it.

A cart is stored as one row: its lines live in a JSON column beside the computed totals.
Carts are small (at most 250 lines), always read and written whole, and locked as one unit,
so one row means one lock, one read and one write per change.
"""

from __future__ import annotations

import sqlalchemy as sa
from kassa_platform.columns import JSON, UTCDateTime, new_metadata

metadata = new_metadata()

products = sa.Table(
    "products",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(40), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text(), nullable=True),
    sa.Column("categories", JSON, nullable=False),
    sa.Column("tax_class", sa.String(40), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("metadata", JSON, nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("url", sa.String(2048), nullable=True),  # the product page (emails, storefronts)
    sa.Column("image_url", sa.String(2048), nullable=True),
    sa.Index("ix_products_app_id_id", "app_id", "id"),
)

variants = sa.Table(
    "variants",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(40), nullable=False),
    sa.Column("product_id", sa.String(40), sa.ForeignKey("products.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("sku", sa.String(100), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("prices", JSON, nullable=False),
    sa.Column("metadata", JSON, nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("url", sa.String(2048), nullable=True),  # the variant's own page and picture: they win over the product's
    sa.Column("image_url", sa.String(2048), nullable=True),
    sa.UniqueConstraint("app_id", "sku", name="uq_variants_app_id_sku"),
)

carts = sa.Table(
    "carts",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(40), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("customer_email", sa.String(254), nullable=True),
    sa.Column("shipping_address", JSON, nullable=True),
    sa.Column("billing_address", JSON, nullable=True),
    sa.Column("shipping_method_id", sa.String(40), nullable=True),
    # The cart as last priced: lines with their allocations, shipping, tax lines, notices.
    sa.Column("document", JSON, nullable=False),
    sa.Column("subtotal", sa.BigInteger(), nullable=False),
    sa.Column("discount_total", sa.BigInteger(), nullable=False),
    sa.Column("shipping_total", sa.BigInteger(), nullable=False),
    sa.Column("tax_total", sa.BigInteger(), nullable=False),
    sa.Column("total", sa.BigInteger(), nullable=False),
    sa.Column("item_count", sa.Integer(), nullable=False),
    sa.Column("metadata", JSON, nullable=True),
    sa.Column("client_secret_hash", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("last_activity_at", UTCDateTime(), nullable=False),
    sa.Column("abandoned_at", UTCDateTime(), nullable=True),
    # The checkout session that moved the cart to `checkout` (and alone may convert or reopen it).
    sa.Column("checkout_session_id", sa.String(40), nullable=True),
    # The customer the cart belongs to (a secret key's `customerId`, or a shopper token's customer).
    sa.Column("customer_id", sa.String(40), nullable=True),
    sa.Index("ix_carts_app_id_id", "app_id", "id"),
    sa.Index("ix_carts_app_id_customer_id", "app_id", "customer_id"),
)

shipping_methods = sa.Table(
    "shipping_methods",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(40), nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("prices", JSON, nullable=False),
    sa.Column("free_above", JSON, nullable=True),
    sa.Column("countries", JSON, nullable=True),
    sa.Column("tax_class", sa.String(40), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

tax_rates = sa.Table(
    "tax_rates",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(40), nullable=False),
    sa.Column("country_code", sa.String(2), nullable=False),
    sa.Column("region", sa.String(200), nullable=False),  # "" = the whole country
    sa.Column("tax_class", sa.String(40), nullable=False),
    sa.Column("rate", sa.String(12), nullable=False),  # percent as a decimal string
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("app_id", "country_code", "region", "tax_class", name="uq_tax_rates_scope"),
)

# Per-application pricing settings. `config_version` moves on every change to shipping methods,
# tax rates or these settings; carts read it with their own row and reuse a cached config
# while it matches, so pricing a cart costs no extra query.
cart_settings = sa.Table(
    "cart_settings",
    metadata,
    sa.Column("app_id", sa.String(40), primary_key=True),
    sa.Column("prices_include_tax", sa.Boolean(), nullable=False),
    sa.Column("config_version", sa.Integer(), nullable=False),
    # Promotions: several percent-off-basket discounts may stack (the engine's option).
    sa.Column("allow_multiple_percentage_basket", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

# ---------------------------------------------------------------- abandoned carts

# The carts the abandonment sweep looks at: open or in checkout, with items, not yet abandoned.
# Written as literal SQL so that PostgreSQL (also under a generic plan) and SQLite match the
# partial index below to the sweep's queries.
ABANDONABLE = "status IN ('open', 'checkout') AND abandoned_at IS NULL AND item_count > 0"

# Per application, ordered by last activity: the sweep asks each application for its carts idle
# past that application's own threshold, so it reads only carts that are due (plus one probe per
# application with abandonable carts), however many carts are idle but not yet due.
sa.Index("ix_carts_abandonable", carts.c.app_id, carts.c.last_activity_at,
         postgresql_where=sa.text(ABANDONABLE), sqlite_where=sa.text(ABANDONABLE))

# A customer's earlier orders are their converted carts: this answers "first order?" with one
# index probe, only when a campaign of the application asks it.
sa.Index("ix_carts_customer_orders", carts.c.app_id, sa.func.lower(carts.c.customer_email),
         postgresql_where=carts.c.status == "converted", sqlite_where=carts.c.status == "converted")

# Per application and environment: the abandonment threshold, the recovery link, the origins that
# may embed the checkout and the hosted page's branding (docs/contract.md, "Embed config").
embed_configs = sa.Table(
    "embed_configs",
    metadata,
    sa.Column("app_id", sa.String(40), primary_key=True),
    sa.Column("abandonment_threshold_minutes", sa.Integer(), nullable=True),  # NULL: the default (1440)
    sa.Column("recovery_url_template", sa.String(2048), nullable=True),
    sa.Column("allowed_origins", JSON, nullable=False),
    sa.Column("branding", JSON, nullable=True),
    sa.Column("recovery_incentive", JSON, nullable=True),  # {"campaignId": …}: a code minted per abandoned cart
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

# One row per abandonment (a cart abandoned again after new activity has another), with the cart
# as it was then: what the list and the summary read, and what recovery and contact update.
cart_abandonments = sa.Table(
    "cart_abandonments",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(40), nullable=False),
    sa.Column("cart_id", sa.String(40), nullable=False),
    sa.Column("sequence", sa.Integer(), nullable=False),  # of the cart.abandoned event
    sa.Column("event_id", sa.String(40), nullable=False),  # the cart.abandoned event
    sa.Column("abandoned_at", UTCDateTime(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("subtotal", sa.BigInteger(), nullable=False),
    sa.Column("discount_total", sa.BigInteger(), nullable=False),
    sa.Column("shipping_total", sa.BigInteger(), nullable=False),
    sa.Column("tax_total", sa.BigInteger(), nullable=False),
    sa.Column("total", sa.BigInteger(), nullable=False),
    sa.Column("item_count", sa.Integer(), nullable=False),
    sa.Column("customer_email", sa.String(254), nullable=True),
    # not_contacted | contacted (cart.abandoned delivered to an endpoint) | recovered (converted)
    sa.Column("recovery_status", sa.String(16), nullable=False),
    sa.Column("contacted_at", UTCDateTime(), nullable=True),
    sa.Column("recovered_at", UTCDateTime(), nullable=True),
    sa.Column("order_id", sa.String(60), nullable=True),
    sa.Column("recovered_total", sa.BigInteger(), nullable=True),  # the cart's total when it converted
    sa.Column("incentive_code", sa.String(64), nullable=True),  # the recovery incentive minted for this abandonment
    sa.UniqueConstraint("cart_id", "sequence", name="uq_cart_abandonments_cart_id_sequence"),
    sa.UniqueConstraint("event_id", name="uq_cart_abandonments_event_id"),
    sa.Index("ix_cart_abandonments_app_id_abandoned_at", "app_id", "abandoned_at"),
    sa.Index("ix_cart_abandonments_app_id_id", "app_id", "id"),
)

# ---------------------------------------------------------------- customers

# A customer of one application. Personal data lives in the columns named in PERSONAL_COLUMNS (and
# in `customer_id` references from carts, redemptions and orders), so that erasure can find it all.
customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(40), nullable=False),
    sa.Column("email", sa.String(254), nullable=True),
    sa.Column("email_key", sa.String(254), nullable=True),  # lower-cased: unique per application
    sa.Column("first_name", sa.String(200), nullable=True),
    sa.Column("last_name", sa.String(200), nullable=True),
    sa.Column("phone", sa.String(16), nullable=True),
    sa.Column("locale", sa.String(35), nullable=True),
    sa.Column("external_id", sa.String(200), nullable=True),
    sa.Column("metadata", JSON, nullable=True),
    sa.Column("marketing_consent", JSON, nullable=False),
    # Who signed the shopper in: the token's issuer and subject (never the email) identify them.
    sa.Column("identity_issuer", sa.String(500), nullable=True),
    sa.Column("identity_subject", sa.String(255), nullable=True),
    sa.Column("version", sa.Integer(), nullable=False),  # the sequence of its events
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("app_id", "email_key", name="uq_customers_app_id_email_key"),
    sa.UniqueConstraint("app_id", "external_id", name="uq_customers_app_id_external_id"),
    sa.UniqueConstraint("app_id", "identity_issuer", "identity_subject", name="uq_customers_identity"),
    sa.Index("ix_customers_app_id_id", "app_id", "id"),
)
PERSONAL_COLUMNS = {"customers": ("email", "email_key", "first_name", "last_name", "phone", "metadata",
                                  "identity_subject"),
                    "carts": ("customer_email", "shipping_address", "billing_address", "metadata"),
                    "cart_abandonments": ("customer_email",)}

# A customer's segments, one row each: "customers in segment X" is an index probe on both databases.
customer_segments = sa.Table(
    "customer_segments",
    metadata,
    sa.Column("customer_id", sa.String(40), sa.ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("segment", sa.String(64), primary_key=True),
    sa.Column("app_id", sa.String(40), nullable=False),
    sa.Index("ix_customer_segments_app_id_segment", "app_id", "segment", "customer_id"),
)

# Per application: how a publishable-key request proves a signed-in shopper (X-Shopper-Token).
shopper_auth = sa.Table(
    "shopper_auth",
    metadata,
    sa.Column("app_id", sa.String(40), primary_key=True),
    sa.Column("jwks_url", sa.String(2048), nullable=True),
    sa.Column("issuer", sa.String(500), nullable=True),
    sa.Column("audience", sa.String(500), nullable=True),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

# ---------------------------------------------------------------- erasure (GDPR art. 17)

# One row per erasure request. While `pending`, `subject` holds whom to redact (ids, emails, the
# person's strings) so that a retry or the `complete_erasures` job finishes it after a failure
# midway; once `completed` the subject is cleared and only the counts (`report`) stay.
customer_erasures = sa.Table(
    "customer_erasures",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(40), nullable=False),
    sa.Column("customer_id", sa.String(40), nullable=True),
    sa.Column("status", sa.String(12), nullable=False),  # pending | completed
    sa.Column("subject", JSON, nullable=True),
    sa.Column("report", JSON, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("completed_at", UTCDateTime(), nullable=True),
    sa.Index("ix_customer_erasures_app_id_customer_id", "app_id", "customer_id"),
    sa.Index("ix_customer_erasures_pending", "updated_at", postgresql_where=sa.text("status = 'pending'"),
             sqlite_where=sa.text("status = 'pending'")),
)

# Per application: the metadata keys whose values are personal (erasure redacts them).
customer_settings = sa.Table(
    "customer_settings",
    metadata,
    sa.Column("app_id", sa.String(40), primary_key=True),
    sa.Column("personal_metadata_keys", JSON, nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)
