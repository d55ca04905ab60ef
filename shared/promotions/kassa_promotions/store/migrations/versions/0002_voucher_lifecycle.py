"""voucher lifecycle: campaign groups, archive, list columns and indexes; codes' validity,
external id and metadata; indexes for every list filter

Revision ID: 0002
Revises: 0001
"""
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from kassa_platform.columns import UTCDateTime
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
RESERVED = sa.text("status = 'reserved'")
REJECTED = sa.text("status = 'rejected'")


def upgrade() -> None:
    op.create_table('promo_campaign_groups',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('app_id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=True),
    sa.Column('metadata', JSON, nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_promo_campaign_groups_app_id_id', 'promo_campaign_groups', ['app_id', 'id'])

    with op.batch_alter_table('promo_campaigns') as batch_op:
        batch_op.add_column(sa.Column('type', sa.String(length=20), server_default='discount_codes', nullable=False))
        batch_op.add_column(sa.Column('starts_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('group_id', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key('fk_promo_campaigns_group_id', 'promo_campaign_groups', ['group_id'], ['id'])
        batch_op.create_index('ix_promo_campaigns_app_created', ['app_id', 'created_at', 'id'])
        batch_op.create_index('ix_promo_campaigns_app_updated', ['app_id', 'updated_at', 'id'])
        batch_op.create_index('ix_promo_campaigns_app_type', ['app_id', 'type', 'created_at', 'id'])
        batch_op.create_index('ix_promo_campaigns_group', ['group_id', 'created_at', 'id'])
        batch_op.create_index('ix_promo_campaigns_app_ends', ['app_id', 'ends_at'])
        batch_op.create_index('ix_promo_campaigns_app_starts', ['app_id', 'starts_at'])
        batch_op.create_index('ix_promo_campaigns_app_archived', ['app_id', 'archived_at'],
                              postgresql_where=sa.text('archived_at IS NOT NULL'),
                              sqlite_where=sa.text('archived_at IS NOT NULL'))
    _backfill_campaigns()

    with op.batch_alter_table('promo_codes') as batch_op:
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('external_id', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('metadata', JSON, nullable=True))
        batch_op.create_index('ix_promo_codes_campaign_status', ['campaign_id', 'status', 'id'])
        batch_op.create_index('ix_promo_codes_campaign_expires', ['campaign_id', 'expires_at'],
                              postgresql_where=sa.text('expires_at IS NOT NULL'),
                              sqlite_where=sa.text('expires_at IS NOT NULL'))

    with op.batch_alter_table('promo_redemptions') as batch_op:
        batch_op.create_index('ix_promo_redemptions_campaign_id', ['campaign_id', 'id'])
        batch_op.create_index('ix_promo_redemptions_app_status', ['app_id', 'status', 'id'])
        batch_op.create_index('ix_promo_redemptions_app_created', ['app_id', 'created_at'])
        batch_op.create_index('ix_promo_redemptions_code_held', ['code_id', 'expires_at'],
                              postgresql_where=RESERVED, sqlite_where=RESERVED)
        batch_op.create_index('ix_promo_redemptions_rejected_code', ['code_id', 'created_at'],
                              postgresql_where=REJECTED, sqlite_where=REJECTED)
        batch_op.create_index('ix_promo_redemptions_rejected_created', ['created_at'],
                              postgresql_where=REJECTED, sqlite_where=REJECTED)


def _backfill_campaigns() -> None:
    """`type`, `starts_at` and `ends_at` of existing campaigns, from their definitions."""
    bind = op.get_bind()
    table = sa.table('promo_campaigns', sa.column('id', sa.String), sa.column('trigger', sa.String),
                     sa.column('definition', JSON), sa.column('type', sa.String),
                     sa.column('starts_at', UTCDateTime()), sa.column('ends_at', UTCDateTime()))
    for row in bind.execute(sa.select(table.c.id, table.c.trigger, table.c.definition)).all():
        d = row.definition or {}
        kind = ('promotion' if row.trigger == 'automatic'
                else 'gift_cards' if (d.get('reward') or {}).get('type') == 'gift_card' else 'discount_codes')
        bind.execute(sa.update(table).where(table.c.id == row.id).values(
            type=kind,
            starts_at=datetime.fromisoformat(d['startsAt']) if d.get('startsAt') else None,
            ends_at=datetime.fromisoformat(d['endsAt']) if d.get('endsAt') else None))


def downgrade() -> None:
    with op.batch_alter_table('promo_redemptions') as batch_op:
        for name in ('ix_promo_redemptions_rejected_created', 'ix_promo_redemptions_rejected_code',
                     'ix_promo_redemptions_code_held', 'ix_promo_redemptions_app_created',
                     'ix_promo_redemptions_app_status', 'ix_promo_redemptions_campaign_id'):
            batch_op.drop_index(name)
    with op.batch_alter_table('promo_codes') as batch_op:
        batch_op.drop_index('ix_promo_codes_campaign_expires')
        batch_op.drop_index('ix_promo_codes_campaign_status')
        for column in ('metadata', 'external_id', 'expires_at'):
            batch_op.drop_column(column)
    with op.batch_alter_table('promo_campaigns') as batch_op:
        for name in ('ix_promo_campaigns_app_archived', 'ix_promo_campaigns_app_starts', 'ix_promo_campaigns_app_ends',
                     'ix_promo_campaigns_group', 'ix_promo_campaigns_app_type', 'ix_promo_campaigns_app_updated',
                     'ix_promo_campaigns_app_created'):
            batch_op.drop_index(name)
        batch_op.drop_constraint('fk_promo_campaigns_group_id', type_='foreignkey')
        for column in ('archived_at', 'group_id', 'ends_at', 'starts_at', 'type'):
            batch_op.drop_column(column)
    op.drop_index('ix_promo_campaign_groups_app_id_id', table_name='promo_campaign_groups')
    op.drop_table('promo_campaign_groups')
