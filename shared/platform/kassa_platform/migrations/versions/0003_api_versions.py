"""API versions: each application's pin, and the audit record of administrative changes

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# Applications that exist before versions were built against the API as it stood: the first version.
FIRST_VERSION = "2026-11-30"


def upgrade() -> None:
    with op.batch_alter_table('applications') as batch:
        batch.add_column(sa.Column('api_version', sa.String(length=10), nullable=False,
                                   server_default=FIRST_VERSION))
    with op.batch_alter_table('applications') as batch:
        batch.alter_column('api_version', server_default=None)
    op.create_table(
        'audit_events',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('app_id', sa.String(length=40), nullable=False),
        sa.Column('action', sa.String(length=80), nullable=False),
        sa.Column('actor', sa.String(length=80), nullable=False),
        sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
                  nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['app_id'], ['applications.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_audit_events_app', 'audit_events', ['app_id', 'created_at'], unique=False)
    # Every process caches its keys' principals, the pin included: moving the pin notifies each of the
    # application's keys on the channel that drops a key from the caches (kassa_platform.key_watch).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PIN_MOVED_FUNCTION)
        op.execute(PIN_MOVED_TRIGGER)


PIN_MOVED_FUNCTION = """
CREATE OR REPLACE FUNCTION kassa_api_version_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('kassa_api_keys', key_hash) FROM api_keys WHERE app_id = NEW.id;
    RETURN NULL;
END $$
"""
PIN_MOVED_TRIGGER = """
CREATE TRIGGER applications_api_version_moved AFTER UPDATE ON applications
FOR EACH ROW WHEN (OLD.api_version IS DISTINCT FROM NEW.api_version)
EXECUTE FUNCTION kassa_api_version_moved()
"""


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS applications_api_version_moved ON applications")
        op.execute("DROP FUNCTION IF EXISTS kassa_api_version_moved()")
    op.drop_index('ix_audit_events_app', table_name='audit_events')
    op.drop_table('audit_events')
    with op.batch_alter_table('applications') as batch:
        batch.drop_column('api_version')
