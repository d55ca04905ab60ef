"""The audit log: actor type, resource, changes as a diff, request id, source address, workspace

Revision ID: 0006
Revises: 0005
"""
import json

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

INDEXES = {
    'ix_audit_events_app_id': ['app_id', 'id'],
    'ix_audit_events_actor': ['app_id', 'actor_id', 'id'],
    'ix_audit_events_actor_type': ['app_id', 'actor_type', 'id'],
    'ix_audit_events_resource': ['app_id', 'resource_type', 'resource_id', 'id'],
    'ix_audit_events_action': ['app_id', 'action', 'id'],
    'ix_audit_events_created': ['created_at'],
}


def upgrade() -> None:
    with op.batch_alter_table('audit_events') as batch:
        batch.alter_column('actor', new_column_name='actor_id', existing_type=sa.String(80), existing_nullable=False)
        batch.alter_column('details', new_column_name='changes', existing_nullable=False)
        batch.add_column(sa.Column('workspace_id', sa.String(length=40), nullable=True))
        # The rows before this migration are API version upgrades, made by a key or at the shell (`cli`).
        batch.add_column(sa.Column('actor_type', sa.String(length=12), nullable=False, server_default='key'))
        batch.add_column(sa.Column('resource_type', sa.String(length=40), nullable=False,
                                   server_default='application'))
        batch.add_column(sa.Column('resource_id', sa.String(length=200), nullable=False, server_default=''))
        batch.add_column(sa.Column('request_id', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('source_address', sa.String(length=64), nullable=True))
    bind = op.get_bind()
    events = sa.table('audit_events', sa.column('id'), sa.column('app_id'), sa.column('actor_id'),
                      sa.column('actor_type'), sa.column('resource_id'), sa.column('changes', sa.JSON()))
    for row in bind.execute(sa.select(events.c.id, events.c.app_id, events.c.actor_id, events.c.changes)).all():
        details = row.changes if isinstance(row.changes, dict) else json.loads(row.changes or "{}")
        changes = {"before": {"apiVersion": details.get("from")}, "after": {"apiVersion": details.get("to")}}
        bind.execute(sa.update(events).where(events.c.id == row.id).values(
            changes=changes, resource_id=row.app_id, actor_type='operator' if row.actor_id == 'cli' else 'key'))
    with op.batch_alter_table('audit_events') as batch:
        for column in ('actor_type', 'resource_type', 'resource_id'):
            batch.alter_column(column, server_default=None)
    for name, columns in INDEXES.items():
        op.create_index(name, 'audit_events', columns, unique=False)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name='audit_events')
    with op.batch_alter_table('audit_events') as batch:
        for column in ('source_address', 'request_id', 'resource_id', 'resource_type', 'actor_type', 'workspace_id'):
            batch.drop_column(column)
        batch.alter_column('changes', new_column_name='details', existing_nullable=False)
        batch.alter_column('actor_id', new_column_name='actor', existing_type=sa.String(80), existing_nullable=False)
