"""orders filtered by status and by email (the dashboard's list), each newest first from an index,
and their figures per day from an index that holds what they add up

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
    op.create_index('ix_orders_app_status_id', 'orders', ['app_id', 'status', 'id'])
    op.create_index('ix_orders_app_email_id', 'orders', ['app_id', sa.text('lower(customer_email)'), 'id'])
    op.create_index('ix_orders_app_created_figures', 'orders', ['app_id', 'created_at'],
                    postgresql_include=['currency', 'total', 'amount_refunded'])


def downgrade() -> None:
    op.drop_index('ix_orders_app_created_figures', table_name='orders')
    op.drop_index('ix_orders_app_email_id', table_name='orders')
    op.drop_index('ix_orders_app_status_id', table_name='orders')
