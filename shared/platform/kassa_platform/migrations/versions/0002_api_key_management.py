"""API key management: names, expiry of rolled keys, last use, and the change notification

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_keys') as batch:
        batch.add_column(sa.Column('name', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('api_keys') as batch:
        batch.create_index(batch.f('ix_api_keys_changed_at'), ['changed_at'], unique=False)
    # Every process caches resolved keys; a key that stops working (revoked, rolled, its scopes
    # changed, deleted) NOTIFYs `kassa_api_keys` with its digest, delivered at commit, and every
    # listening process drops it from its cache (kassa_platform.key_events). A trigger rather than
    # the application code, so that an operator's manual UPDATE is seen too. The batched
    # `last_used_at` writes touch none of these columns and notify nothing.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(KEY_CHANGED_FUNCTION)
        for trigger in KEY_CHANGED_TRIGGERS:
            op.execute(trigger)


KEY_CHANGED_FUNCTION = """
CREATE OR REPLACE FUNCTION kassa_api_key_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('kassa_api_keys', OLD.key_hash);
    RETURN NULL;
END $$
"""
KEY_CHANGED_TRIGGERS = ("""
CREATE TRIGGER api_keys_changed AFTER UPDATE ON api_keys
FOR EACH ROW WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
                   OR OLD.scopes IS DISTINCT FROM NEW.scopes OR OLD.kind IS DISTINCT FROM NEW.kind)
EXECUTE FUNCTION kassa_api_key_changed()
""", """
CREATE TRIGGER api_keys_deleted AFTER DELETE ON api_keys
FOR EACH ROW EXECUTE FUNCTION kassa_api_key_changed()
""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS api_keys_changed ON api_keys")
        op.execute("DROP TRIGGER IF EXISTS api_keys_deleted ON api_keys")
        op.execute("DROP FUNCTION IF EXISTS kassa_api_key_changed()")
    with op.batch_alter_table('api_keys') as batch:
        batch.drop_index(batch.f('ix_api_keys_changed_at'))
        batch.drop_column('changed_at')
        batch.drop_column('last_used_at')
        batch.drop_column('expires_at')
        batch.drop_column('name')
