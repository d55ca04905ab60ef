"""customer erasures (GDPR art. 17) and the per-application customer settings

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('customer_erasures',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('app_id', sa.String(length=40), nullable=False),
    sa.Column('customer_id', sa.String(length=40), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('subject', JSON, nullable=True),
    sa.Column('report', JSON, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_erasures')),
    )
    op.create_index('ix_customer_erasures_app_id_customer_id', 'customer_erasures', ['app_id', 'customer_id'],
                    unique=False)
    op.create_index('ix_customer_erasures_pending', 'customer_erasures', ['updated_at'], unique=False,
                    postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))
    op.create_table('customer_settings',
    sa.Column('app_id', sa.String(length=40), nullable=False),
    sa.Column('personal_metadata_keys', JSON, nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('app_id', name=op.f('pk_customer_settings')),
    )


def downgrade() -> None:
    op.drop_table('customer_settings')
    op.drop_index('ix_customer_erasures_pending', table_name='customer_erasures',
                  postgresql_where=sa.text("status = 'pending'"), sqlite_where=sa.text("status = 'pending'"))
    op.drop_index('ix_customer_erasures_app_id_customer_id', table_name='customer_erasures')
    op.drop_table('customer_erasures')
