"""carts remember the checkout session that locked them

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
    with op.batch_alter_table('carts') as batch:
        batch.add_column(sa.Column('checkout_session_id', sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('carts') as batch:
        batch.drop_column('checkout_session_id')
