"""Process liveness: the numbers processes hold their liveness lock under, and the owner of a claim

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The process holding an Idempotency-Key's claim (kassa_platform.liveness): a retry takes the claim
    # over as soon as that process is dead, not when its lock runs out.
    with op.batch_alter_table('idempotency_keys') as batch:
        batch.add_column(sa.Column('owner', sa.Integer(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        # Never reused: a dead process's number stays dead (kassa_platform.liveness).
        op.execute("CREATE SEQUENCE IF NOT EXISTS kassa_process_ids AS integer MINVALUE 1 NO CYCLE")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE IF EXISTS kassa_process_ids")
    with op.batch_alter_table('idempotency_keys') as batch:
        batch.drop_column('owner')
