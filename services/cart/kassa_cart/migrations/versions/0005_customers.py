"""customers, their segments, shopper auth settings; carts gain their customer

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('customers',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('app_id', sa.String(length=40), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('email_key', sa.String(length=254), nullable=True),
    sa.Column('first_name', sa.String(length=200), nullable=True),
    sa.Column('last_name', sa.String(length=200), nullable=True),
    sa.Column('phone', sa.String(length=16), nullable=True),
    sa.Column('locale', sa.String(length=35), nullable=True),
    sa.Column('external_id', sa.String(length=200), nullable=True),
    sa.Column('metadata', JSON, nullable=True),
    sa.Column('marketing_consent', JSON, nullable=False),
    sa.Column('identity_issuer', sa.String(length=500), nullable=True),
    sa.Column('identity_subject', sa.String(length=255), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers')),
    sa.UniqueConstraint('app_id', 'email_key', name='uq_customers_app_id_email_key'),
    sa.UniqueConstraint('app_id', 'external_id', name='uq_customers_app_id_external_id'),
    sa.UniqueConstraint('app_id', 'identity_issuer', 'identity_subject', name='uq_customers_identity'),
    )
    op.create_index('ix_customers_app_id_id', 'customers', ['app_id', 'id'])
    op.create_table('customer_segments',
    sa.Column('customer_id', sa.String(length=40), nullable=False),
    sa.Column('segment', sa.String(length=64), nullable=False),
    sa.Column('app_id', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_segments_customer_id_customers'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('customer_id', 'segment', name=op.f('pk_customer_segments')),
    )
    op.create_index('ix_customer_segments_app_id_segment', 'customer_segments', ['app_id', 'segment', 'customer_id'])
    op.create_table('shopper_auth',
    sa.Column('app_id', sa.String(length=40), nullable=False),
    sa.Column('jwks_url', sa.String(length=2048), nullable=True),
    sa.Column('issuer', sa.String(length=500), nullable=True),
    sa.Column('audience', sa.String(length=500), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('app_id', name=op.f('pk_shopper_auth')),
    )
    with op.batch_alter_table('carts') as batch:
        batch.add_column(sa.Column('customer_id', sa.String(length=40), nullable=True))
        batch.create_index('ix_carts_app_id_customer_id', ['app_id', 'customer_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('carts') as batch:
        batch.drop_index('ix_carts_app_id_customer_id')
        batch.drop_column('customer_id')
    op.drop_table('shopper_auth')
    op.drop_table('customer_segments')
    op.drop_table('customers')
