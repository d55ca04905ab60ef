"""promotions store

Revision ID: 0001
Revises: 
Create Date: 2026-11-21 23:55:21.350503
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('promo_campaigns',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('app_id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('trigger', sa.String(length=12), nullable=False),
    sa.Column('definition', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('usage_limit', sa.Integer(), nullable=True),
    sa.Column('uses', sa.Integer(), server_default='0', nullable=False),
    sa.Column('reserved_uses', sa.Integer(), server_default='0', nullable=False),
    sa.Column('budget', sa.BigInteger(), nullable=True),
    sa.Column('granted', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('reserved_amount', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promo_campaigns'))
    )
    with op.batch_alter_table('promo_campaigns', schema=None) as batch_op:
        batch_op.create_index('ix_promo_campaigns_app_id_active', ['app_id', 'active'], unique=False)

    op.create_table('promo_redemptions',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('app_id', sa.String(length=40), nullable=False),
    sa.Column('campaign_id', sa.String(length=40), nullable=False),
    sa.Column('code_id', sa.String(length=40), nullable=True),
    sa.Column('code', sa.String(length=64), nullable=True),
    sa.Column('cart_id', sa.String(length=40), nullable=True),
    sa.Column('order_id', sa.String(length=40), nullable=True),
    sa.Column('customer', sa.String(length=254), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.String(length=60), nullable=True),
    sa.Column('message', sa.String(length=300), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promo_redemptions'))
    )
    with op.batch_alter_table('promo_redemptions', schema=None) as batch_op:
        batch_op.create_index('ix_promo_redemptions_app_id_id', ['app_id', 'id'], unique=False)
        batch_op.create_index('ix_promo_redemptions_cart_id', ['cart_id'], unique=False)
        batch_op.create_index('ix_promo_redemptions_order_id', ['order_id'], unique=False)
        batch_op.create_index('ix_promo_redemptions_reserved_expiry', ['expires_at'], unique=False, postgresql_where=sa.text("status = 'reserved'"), sqlite_where=sa.text("status = 'reserved'"))

    op.create_table('promo_codes',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('app_id', sa.String(length=40), nullable=False),
    sa.Column('campaign_id', sa.String(length=40), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('code_key', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('usage_limit', sa.Integer(), nullable=True),
    sa.Column('uses', sa.Integer(), server_default='0', nullable=False),
    sa.Column('reserved_uses', sa.Integer(), server_default='0', nullable=False),
    sa.Column('balance', sa.BigInteger(), nullable=True),
    sa.Column('assigned_to', sa.String(length=254), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['promo_campaigns.id'], name=op.f('fk_promo_codes_campaign_id_promo_campaigns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promo_codes')),
    sa.UniqueConstraint('app_id', 'code_key', name='uq_promo_codes_app_id_code_key')
    )
    with op.batch_alter_table('promo_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_promo_codes_campaign_id'), ['campaign_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('promo_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_promo_codes_campaign_id'))

    op.drop_table('promo_codes')
    with op.batch_alter_table('promo_redemptions', schema=None) as batch_op:
        batch_op.drop_index('ix_promo_redemptions_reserved_expiry', postgresql_where=sa.text("status = 'reserved'"), sqlite_where=sa.text("status = 'reserved'"))
        batch_op.drop_index('ix_promo_redemptions_order_id')
        batch_op.drop_index('ix_promo_redemptions_cart_id')
        batch_op.drop_index('ix_promo_redemptions_app_id_id')

    op.drop_table('promo_redemptions')
    with op.batch_alter_table('promo_campaigns', schema=None) as batch_op:
        batch_op.drop_index('ix_promo_campaigns_app_id_active')

    op.drop_table('promo_campaigns')
