"""deliveries in flight name the process that holds them (its liveness lock), so a dead one's come back at once

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

SENDING = "status = 'sending'"


def upgrade() -> None:
    with op.batch_alter_table('webhook_deliveries') as batch:
        batch.add_column(sa.Column('lease_owner', sa.Integer(), nullable=True))
    with op.batch_alter_table('webhook_deliveries') as batch:
        batch.create_index('ix_webhook_deliveries_sending', ['endpoint_id', 'lease_owner'], unique=False,
                           postgresql_where=sa.text(SENDING), sqlite_where=sa.text(SENDING))


def downgrade() -> None:
    with op.batch_alter_table('webhook_deliveries') as batch:
        batch.drop_index('ix_webhook_deliveries_sending', postgresql_where=sa.text(SENDING),
                         sqlite_where=sa.text(SENDING))
        batch.drop_column('lease_owner')
