"""catalog urls and images; the recovery incentive of the embed config and of each abandonment

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    for table in ('products', 'variants'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('url', sa.String(length=2048), nullable=True))
            batch.add_column(sa.Column('image_url', sa.String(length=2048), nullable=True))
    with op.batch_alter_table('embed_configs') as batch:
        batch.add_column(sa.Column('recovery_incentive', JSON, nullable=True))
    with op.batch_alter_table('cart_abandonments') as batch:
        batch.add_column(sa.Column('incentive_code', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('cart_abandonments') as batch:
        batch.drop_column('incentive_code')
    with op.batch_alter_table('embed_configs') as batch:
        batch.drop_column('recovery_incentive')
    for table in ('variants', 'products'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('image_url')
            batch.drop_column('url')
