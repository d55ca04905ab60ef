"""Team accounts: workspaces own applications; users, their sessions, memberships and application roles

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'workspaces',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_workspaces')),
    )
    op.create_table(
        'users',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=True),
        sa.Column('password_hash', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
        sa.UniqueConstraint('email', name=op.f('uq_users_email')),
    )
    op.create_index(op.f('ix_users_changed_at'), 'users', ['changed_at'], unique=False)
    op.create_table(
        'user_sessions',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('user_id', sa.String(length=40), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('csrf_token', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('address', sa.String(length=64), nullable=True),
        sa.Column('user_agent', sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_user_sessions_token_hash')),
    )
    op.create_index(op.f('ix_user_sessions_user_id'), 'user_sessions', ['user_id'], unique=False)
    op.create_table(
        'memberships',
        sa.Column('workspace_id', sa.String(length=40), nullable=False),
        sa.Column('user_id', sa.String(length=40), nullable=False),
        sa.Column('role', sa.String(length=12), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], name=op.f('fk_memberships_workspace_id_workspaces')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_memberships_user_id_users')),
        sa.PrimaryKeyConstraint('workspace_id', 'user_id', name=op.f('pk_memberships')),
    )
    op.create_index(op.f('ix_memberships_user_id'), 'memberships', ['user_id'], unique=False)
    op.create_table(
        'application_roles',
        sa.Column('app_id', sa.String(length=40), nullable=False),
        sa.Column('user_id', sa.String(length=40), nullable=False),
        sa.Column('role', sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(['app_id'], ['applications.id'], name=op.f('fk_application_roles_app_id_applications')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_application_roles_user_id_users')),
        sa.PrimaryKeyConstraint('app_id', 'user_id', name=op.f('pk_application_roles')),
    )
    op.create_index(op.f('ix_application_roles_user_id'), 'application_roles', ['user_id'], unique=False)
    with op.batch_alter_table('applications') as batch:
        batch.add_column(sa.Column('workspace_id', sa.String(length=40), nullable=True))
        batch.create_index(batch.f('ix_applications_workspace_id'), ['workspace_id'], unique=False)
    # Every process caches signed-in users' sessions and roles (kassa_platform.auth.SessionResolver).
    # Whatever changes what a user may do moves `users.changed_at` in the same transaction; this
    # trigger tells every listening process (kassa_platform.key_watch) to drop that user's sessions.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(USER_CHANGED_FUNCTION)
        op.execute(USER_CHANGED_TRIGGER)


USER_CHANGED_FUNCTION = """
CREATE OR REPLACE FUNCTION kassa_user_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('kassa_api_keys', 'user:' || NEW.id);
    RETURN NULL;
END $$
"""
USER_CHANGED_TRIGGER = """
CREATE TRIGGER users_changed AFTER UPDATE ON users
FOR EACH ROW WHEN (OLD.changed_at IS DISTINCT FROM NEW.changed_at) EXECUTE FUNCTION kassa_user_changed()
"""


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS users_changed ON users")
        op.execute("DROP FUNCTION IF EXISTS kassa_user_changed()")
    with op.batch_alter_table('applications') as batch:
        batch.drop_index(batch.f('ix_applications_workspace_id'))
        batch.drop_column('workspace_id')
    op.drop_table('application_roles')
    op.drop_table('memberships')
    op.drop_table('user_sessions')
    op.drop_table('users')
    op.drop_table('workspaces')
