"""audit: the chain's head row exists from the start

Appending locks the head row; before the first entry there was no row to lock, so two first
writers could both try to start the chain and one of them failed. With the row in place every
append, the first included, queues on the same lock.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 12:40:00.000000

"""
from alembic import op


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade():
    op.execute(f"INSERT INTO audit_head (id, seq, hash) SELECT 1, 0, '{GENESIS}' "
               "WHERE NOT EXISTS (SELECT 1 FROM audit_head WHERE id = 1)")


def downgrade():
    # An empty chain's head carries nothing; a chain with entries keeps its head.
    op.execute(f"DELETE FROM audit_head WHERE id = 1 AND seq = 0 AND hash = '{GENESIS}'")
