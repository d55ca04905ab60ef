"""a completion's claim names the process that holds it, so a dead one's is recovered at once

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('checkout_sessions') as batch:
        batch.add_column(sa.Column('claim_owner', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('checkout_sessions') as batch:
        batch.drop_column('claim_owner')
