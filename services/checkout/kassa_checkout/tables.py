"""The checkout service's tables. Every row carries `app_id`; every query filters on it."""

from __future__ import annotations

import sqlalchemy as sa
from kassa_platform.columns import JSON, UTCDateTime, new_metadata

metadata = new_metadata()

checkout_sessions = sa.Table(
    "checkout_sessions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(40), nullable=False),
    sa.Column("cart_id", sa.String(40), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # open | complete | cancelled | expired
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("amount_total", sa.BigInteger(), nullable=False),
    sa.Column("collect", JSON, nullable=False),
    sa.Column("discount_code", sa.String(100), nullable=True),
    sa.Column("metadata", JSON, nullable=True),
    sa.Column("allowed_methods", JSON, nullable=True),
    sa.Column("success_url", sa.String(2048), nullable=True),
    sa.Column("cancel_url", sa.String(2048), nullable=True),
    sa.Column("client_secret_hash", sa.String(64), nullable=False),
    sa.Column("payment_status", sa.String(16), nullable=False),  # unpaid | requires_action | paid
    sa.Column("last_payment_error", JSON, nullable=True),
    sa.Column("order_id", sa.String(40), nullable=True),
    # The completion saga's claim: one completer at a time; a lapsed claim is the reconcile job's.
    sa.Column("claim_token", sa.String(40), nullable=True),
    sa.Column("claim_until", UTCDateTime(), nullable=True),
    # The process holding the claim (kassa_platform.liveness): its death lapses the claim at once.
    sa.Column("claim_owner", sa.Integer(), nullable=True),
    # The cart as locked for payment: what the order copies, even after a crash.
    sa.Column("locked_cart", JSON, nullable=True),
    # A call to the cart service still owed ("convert" or "reopen"), retried until it lands.
    sa.Column("cart_pending", sa.String(12), nullable=True),
    # The provider's payment a headless checkout confirms itself (Stripe: its PaymentIntent).
    sa.Column("provider_intent", sa.String(255), nullable=True),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("completed_at", UTCDateTime(), nullable=True),
    sa.Column("cancelled_at", UTCDateTime(), nullable=True),
    sa.Index("ix_checkout_sessions_app_id_id", "app_id", "id"),
    # The jobs scan only what is due: open sessions by expiry, claims by deadline, owed cart calls.
    sa.Index("ix_checkout_sessions_open_expiry", "expires_at", sqlite_where=sa.text("status = 'open'"),
             postgresql_where=sa.text("status = 'open'")),
    sa.Index("ix_checkout_sessions_claims", "claim_until", sqlite_where=sa.text("claim_token IS NOT NULL"),
             postgresql_where=sa.text("claim_token IS NOT NULL")),
    sa.Index("ix_checkout_sessions_cart_pending", "updated_at", sqlite_where=sa.text("cart_pending IS NOT NULL"),
             postgresql_where=sa.text("cart_pending IS NOT NULL")),
)

payments = sa.Table(
    "payments",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(40), nullable=False),
    sa.Column("session_id", sa.String(40), nullable=False),
    sa.Column("order_id", sa.String(40), nullable=True),
    sa.Column("attempt", sa.Integer(), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("connector", sa.String(40), nullable=False),
    sa.Column("method", sa.String(40), nullable=False),
    sa.Column("card_brand", sa.String(20), nullable=True),
    sa.Column("card_last4", sa.String(4), nullable=True),
    sa.Column("amount", sa.BigInteger(), nullable=False),
    sa.Column("amount_refunded", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("provider_ref", sa.String(255), nullable=True),
    sa.Column("failure_code", sa.String(100), nullable=True),
    sa.Column("failure_message", sa.String(500), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("session_id", "attempt", name="uq_payments_session_attempt"),
    sa.Index("ix_payments_provider_ref", "provider_ref"),
)

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(40), nullable=False),
    # Exactly one order per session, whatever retries, races or crashes happen.
    sa.Column("session_id", sa.String(40), nullable=False, unique=True),
    sa.Column("cart_id", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("customer_email", sa.String(254), nullable=True),
    # Lines with their discount allocations and tax, discounts, shipping method, tax lines.
    sa.Column("document", JSON, nullable=False),
    sa.Column("shipping_address", JSON, nullable=True),
    sa.Column("billing_address", JSON, nullable=True),
    sa.Column("subtotal", sa.BigInteger(), nullable=False),
    sa.Column("discount_total", sa.BigInteger(), nullable=False),
    sa.Column("shipping_total", sa.BigInteger(), nullable=False),
    sa.Column("tax_total", sa.BigInteger(), nullable=False),
    sa.Column("total", sa.BigInteger(), nullable=False),
    sa.Column("item_count", sa.Integer(), nullable=False),
    sa.Column("amount_refunded", sa.BigInteger(), nullable=False),
    sa.Column("metadata", JSON, nullable=False),
    sa.Column("payment_id", sa.String(40), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Index("ix_orders_app_id_id", "app_id", "id"),
    # The dashboard's filter by status (kassa_checkout/order_rows.py).
    sa.Index("ix_orders_app_status_id", "app_id", "status", "id"),
)
# The figures per day (order_rows.daily_figures), answered from the index alone on PostgreSQL.
sa.Index("ix_orders_app_created_figures", orders.c.app_id, orders.c.created_at,
         postgresql_include=["currency", "total", "amount_refunded"])
# ... and by email, whatever its case.
sa.Index("ix_orders_app_email_id", orders.c.app_id, sa.func.lower(orders.c.customer_email), orders.c.id)

refunds = sa.Table(
    "refunds",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(40), nullable=False),
    sa.Column("order_id", sa.String(40), nullable=False, index=True),
    sa.Column("payment_id", sa.String(40), nullable=False),
    sa.Column("amount", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("reason", sa.String(500), nullable=True),
    sa.Column("status", sa.String(12), nullable=False),  # pending | succeeded | failed
    sa.Column("provider_ref", sa.String(255), nullable=True),  # the provider's refund (Stripe `re_…`)
    sa.Column("failure_code", sa.String(100), nullable=True),
    sa.Column("failure_message", sa.String(500), nullable=True),
    sa.Column("restore_promotions", sa.Boolean(), nullable=False),
    sa.Column("promotions_restored", sa.Boolean(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

# The built-in `test` connector's ledger: it plays the payment provider, whose records outlive
# our process (a crash after capture must find the capture there, as it would at a real provider).
test_payment_intents = sa.Table(
    "test_payment_intents",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),  # the merchant's idempotency key: the session id
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("amount", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("captured", sa.BigInteger(), nullable=False),
    sa.Column("refunded", sa.BigInteger(), nullable=False),
    sa.Column("refund_ids", JSON, nullable=False),
    sa.Column("charges", sa.Integer(), nullable=False),  # how often money actually moved
    sa.Column("failure_code", sa.String(40), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

# Which provider takes an application's payments, with its credentials (secrets sealed at rest).
payment_settings = sa.Table(
    "payment_settings",
    metadata,
    sa.Column("app_id", sa.String(40), primary_key=True),
    sa.Column("provider", sa.String(20), nullable=False),  # test | stripe
    sa.Column("capture_method", sa.String(12), nullable=False),  # automatic | manual
    sa.Column("secret_key", sa.String(1000), nullable=True),  # sealed
    sa.Column("secret_key_last4", sa.String(4), nullable=True),
    sa.Column("publishable_key", sa.String(300), nullable=True),
    sa.Column("webhook_secret", sa.String(1000), nullable=True),  # sealed
    sa.Column("webhook_secret_last4", sa.String(4), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

# Events a provider sent us, by its own id: a redelivered event is acknowledged and ignored.
provider_events = sa.Table(
    "provider_events",
    metadata,
    sa.Column("app_id", sa.String(40), primary_key=True),
    sa.Column("event_id", sa.String(255), primary_key=True),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("received_at", UTCDateTime(), nullable=False),
)

disputes = sa.Table(
    "disputes",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("app_id", sa.String(40), nullable=False),
    sa.Column("order_id", sa.String(40), nullable=False, index=True),
    sa.Column("payment_id", sa.String(40), nullable=False),
    sa.Column("provider_ref", sa.String(255), nullable=False, unique=True),
    sa.Column("amount", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("reason", sa.String(100), nullable=True),
    sa.Column("status", sa.String(40), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)
