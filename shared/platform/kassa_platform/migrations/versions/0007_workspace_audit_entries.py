"""Workspace-level audit entries: a team change (members, invitations, sign-out everywhere) names its
workspace and no application

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_events') as batch:
        batch.alter_column('app_id', existing_type=sa.String(length=40), nullable=True)
    op.create_index('ix_audit_events_workspace', 'audit_events', ['workspace_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_audit_events_workspace', table_name='audit_events')
    op.execute("DELETE FROM audit_events WHERE app_id IS NULL")
    with op.batch_alter_table('audit_events') as batch:
        batch.alter_column('app_id', existing_type=sa.String(length=40), nullable=False)
