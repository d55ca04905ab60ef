"""an index on converted carts by customer email (first-order promotions)

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_carts_customer_orders', 'carts', ['app_id', sa.text('lower(customer_email)')],
                    postgresql_where=sa.text("status = 'converted'"), sqlite_where=sa.text("status = 'converted'"))


def downgrade() -> None:
    op.drop_index('ix_carts_customer_orders', table_name='carts')
