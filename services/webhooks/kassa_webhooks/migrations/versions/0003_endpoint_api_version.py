"""webhook endpoints carry the API version their events are rendered in

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# Endpoints made before versions read the API as it stood then: the first version.
FIRST_VERSION = "2026-11-30"


def upgrade() -> None:
    with op.batch_alter_table('webhook_endpoints') as batch:
        batch.add_column(sa.Column('api_version', sa.String(length=10), nullable=False, server_default=FIRST_VERSION))
    with op.batch_alter_table('webhook_endpoints') as batch:
        batch.alter_column('api_version', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('webhook_endpoints') as batch:
        batch.drop_column('api_version')
