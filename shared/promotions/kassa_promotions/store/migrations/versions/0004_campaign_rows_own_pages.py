"""campaign rows get a page each (PostgreSQL fillfactor 10), room for their counters' updates

Every reservation, confirmation and release of a campaign updates its row's counters. Packed many
to a page, a busy campaign's new row versions soon find no room left beside it, so an update moves
the row to another page and adds an entry to each of the table's indexes; and two busy campaigns on
one page contend for it. With one row to a page, the versions stay on the row's page (HOT updates,
pruned as they go). Campaigns are few per application: a page each costs little. Rows inserted
from now on are placed so; an existing table is repacked by `VACUUM FULL promo_campaigns`.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 14:20:00
"""
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE promo_campaigns SET (fillfactor = 10)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE promo_campaigns RESET (fillfactor)")
