"""deliveries remember when their success was reported to the emitting service

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

UNREPORTED_SUCCESS = "event_type = 'cart.abandoned' AND status = 'succeeded' AND success_reported_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table('webhook_deliveries') as batch:
        batch.add_column(sa.Column('success_reported_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('webhook_deliveries') as batch:
        batch.create_index('ix_webhook_deliveries_unreported', ['id'], unique=False,
                           postgresql_where=sa.text(UNREPORTED_SUCCESS), sqlite_where=sa.text(UNREPORTED_SUCCESS))


def downgrade() -> None:
    with op.batch_alter_table('webhook_deliveries') as batch:
        batch.drop_index('ix_webhook_deliveries_unreported', postgresql_where=sa.text(UNREPORTED_SUCCESS),
                         sqlite_where=sa.text(UNREPORTED_SUCCESS))
        batch.drop_column('success_reported_at')
