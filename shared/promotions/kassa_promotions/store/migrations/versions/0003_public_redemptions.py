"""two-step redemptions of the public API: reservations, their lines, their rollbacks

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 10:40:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('promo_reservations',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('app_id', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('codes', _JSON, nullable=False),
    sa.Column('cart_id', sa.String(length=60), nullable=True),
    sa.Column('customer_id', sa.String(length=60), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('transaction_id', sa.String(length=100), nullable=True),
    sa.Column('subtotal', sa.BigInteger(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('rolled_back', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promo_reservations')),
    sa.UniqueConstraint('app_id', 'transaction_id', name='uq_promo_reservations_app_id_transaction_id')
    )
    with op.batch_alter_table('promo_reservations', schema=None) as batch_op:
        batch_op.create_index('ix_promo_reservations_due', ['expires_at'], unique=False,
                              postgresql_where=sa.text("status = 'reserved'"), sqlite_where=sa.text("status = 'reserved'"))

    op.create_table('promo_reservation_lines',
    sa.Column('redemption_id', sa.String(length=40), nullable=False),
    sa.Column('reservation_id', sa.String(length=40), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('lines', _JSON, nullable=False),
    sa.Column('shipping', sa.BigInteger(), nullable=False),
    sa.Column('gift_card', sa.Boolean(), nullable=False),
    sa.Column('rolled_back', sa.BigInteger(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['reservation_id'], ['promo_reservations.id'],
                            name=op.f('fk_promo_reservation_lines_reservation_id_promo_reservations')),
    sa.PrimaryKeyConstraint('redemption_id', name=op.f('pk_promo_reservation_lines'))
    )
    with op.batch_alter_table('promo_reservation_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_promo_reservation_lines_reservation_id'), ['reservation_id'], unique=False)

    op.create_table('promo_reservation_rollbacks',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('app_id', sa.String(length=40), nullable=False),
    sa.Column('reservation_id', sa.String(length=40), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('parts', _JSON, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['reservation_id'], ['promo_reservations.id'],
                            name=op.f('fk_promo_reservation_rollbacks_reservation_id_promo_reservations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promo_reservation_rollbacks'))
    )
    with op.batch_alter_table('promo_reservation_rollbacks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_promo_reservation_rollbacks_reservation_id'), ['reservation_id'],
                              unique=False)


def downgrade() -> None:
    op.drop_table('promo_reservation_rollbacks')
    op.drop_table('promo_reservation_lines')
    op.drop_table('promo_reservations')
