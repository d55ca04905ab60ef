"""payment providers: settings per application, provider events, disputes, refund outcomes

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'payment_settings',
        sa.Column('app_id', sa.String(40), nullable=False),
        sa.Column('provider', sa.String(20), nullable=False),
        sa.Column('capture_method', sa.String(12), nullable=False),
        sa.Column('secret_key', sa.String(1000), nullable=True),
        sa.Column('secret_key_last4', sa.String(4), nullable=True),
        sa.Column('publishable_key', sa.String(300), nullable=True),
        sa.Column('webhook_secret', sa.String(1000), nullable=True),
        sa.Column('webhook_secret_last4', sa.String(4), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('app_id', name=op.f('pk_payment_settings')),
    )
    op.create_table(
        'provider_events',
        sa.Column('app_id', sa.String(40), nullable=False),
        sa.Column('event_id', sa.String(255), nullable=False),
        sa.Column('type', sa.String(100), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('app_id', 'event_id', name=op.f('pk_provider_events')),
    )
    op.create_table(
        'disputes',
        sa.Column('id', sa.String(40), nullable=False),
        sa.Column('app_id', sa.String(40), nullable=False),
        sa.Column('order_id', sa.String(40), nullable=False),
        sa.Column('payment_id', sa.String(40), nullable=False),
        sa.Column('provider_ref', sa.String(255), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(3), nullable=False),
        sa.Column('reason', sa.String(100), nullable=True),
        sa.Column('status', sa.String(40), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_disputes')),
        sa.UniqueConstraint('provider_ref', name=op.f('uq_disputes_provider_ref')),
    )
    op.create_index(op.f('ix_disputes_order_id'), 'disputes', ['order_id'])
    with op.batch_alter_table('refunds') as batch:
        batch.add_column(sa.Column('provider_ref', sa.String(255), nullable=True))
        batch.add_column(sa.Column('failure_code', sa.String(100), nullable=True))
        batch.add_column(sa.Column('failure_message', sa.String(500), nullable=True))
    with op.batch_alter_table('checkout_sessions') as batch:
        batch.add_column(sa.Column('provider_intent', sa.String(255), nullable=True))
    with op.batch_alter_table('payments') as batch:
        batch.alter_column('provider_ref', type_=sa.String(255), existing_type=sa.String(100))
        batch.alter_column('failure_code', type_=sa.String(100), existing_type=sa.String(40))
        # The webhook finds an attempt by its provider's reference.
        batch.create_index('ix_payments_provider_ref', ['provider_ref'])


def downgrade() -> None:
    with op.batch_alter_table('checkout_sessions') as batch:
        batch.drop_column('provider_intent')
    with op.batch_alter_table('payments') as batch:
        batch.drop_index('ix_payments_provider_ref')
    with op.batch_alter_table('refunds') as batch:
        batch.drop_column('failure_message')
        batch.drop_column('failure_code')
        batch.drop_column('provider_ref')
    op.drop_index(op.f('ix_disputes_order_id'), table_name='disputes')
    op.drop_table('disputes')
    op.drop_table('provider_events')
    op.drop_table('payment_settings')
