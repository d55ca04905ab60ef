"""abandoned carts' figures per day from an index that holds what they add up (the dashboard's overview)

Revision ID: 0009
Revises: 0008
"""
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_cart_abandonments_app_figures', 'cart_abandonments', ['app_id', 'abandoned_at'],
                    postgresql_include=['currency', 'total', 'recovery_status', 'recovered_total'])


def downgrade() -> None:
    op.drop_index('ix_cart_abandonments_app_figures', table_name='cart_abandonments')
