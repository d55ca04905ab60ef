"""abandoned carts: the sweep's partial index, embed configs, one row per abandonment

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

ABANDONABLE = "status IN ('open', 'checkout') AND abandoned_at IS NULL AND item_count > 0"
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    with op.batch_alter_table('carts') as batch:
        batch.create_index('ix_carts_abandonable', ['app_id', 'last_activity_at'], unique=False,
                           postgresql_where=sa.text(ABANDONABLE), sqlite_where=sa.text(ABANDONABLE))

    op.create_table('embed_configs',
    sa.Column('app_id', sa.String(length=40), nullable=False),
    sa.Column('abandonment_threshold_minutes', sa.Integer(), nullable=True),
    sa.Column('recovery_url_template', sa.String(length=2048), nullable=True),
    sa.Column('allowed_origins', JSON, nullable=False),
    sa.Column('branding', JSON, nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('app_id', name=op.f('pk_embed_configs'))
    )

    op.create_table('cart_abandonments',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('app_id', sa.String(length=40), nullable=False),
    sa.Column('cart_id', sa.String(length=40), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=40), nullable=False),
    sa.Column('abandoned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('subtotal', sa.BigInteger(), nullable=False),
    sa.Column('discount_total', sa.BigInteger(), nullable=False),
    sa.Column('shipping_total', sa.BigInteger(), nullable=False),
    sa.Column('tax_total', sa.BigInteger(), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('item_count', sa.Integer(), nullable=False),
    sa.Column('customer_email', sa.String(length=254), nullable=True),
    sa.Column('recovery_status', sa.String(length=16), nullable=False),
    sa.Column('contacted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recovered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('order_id', sa.String(length=60), nullable=True),
    sa.Column('recovered_total', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cart_abandonments')),
    sa.UniqueConstraint('cart_id', 'sequence', name='uq_cart_abandonments_cart_id_sequence'),
    sa.UniqueConstraint('event_id', name='uq_cart_abandonments_event_id')
    )
    with op.batch_alter_table('cart_abandonments') as batch:
        batch.create_index('ix_cart_abandonments_app_id_abandoned_at', ['app_id', 'abandoned_at'], unique=False)
        batch.create_index('ix_cart_abandonments_app_id_id', ['app_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_table('cart_abandonments')
    op.drop_table('embed_configs')
    with op.batch_alter_table('carts') as batch:
        batch.drop_index('ix_carts_abandonable', postgresql_where=sa.text(ABANDONABLE),
                         sqlite_where=sa.text(ABANDONABLE))
