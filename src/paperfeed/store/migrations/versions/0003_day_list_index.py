"""Index the day list by (featured_on, upvotes, published_at, id).

The daily list is ``WHERE featured_on = :day ORDER BY upvotes DESC, published_at DESC,
id DESC LIMIT 51``. With (featured_on, upvotes) only, SQLite read every paper of the day
from the table and sorted them (8 ms for a 3,300-paper day); with all four columns the
index alone answers it in its own order, reading 51 entries (0.02 ms). Weeks and months
(a range of days) still sort, but from the index, without touching the table. The old
index is a prefix of the new one, so it goes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

OLD = "ix_papers_featured_on_upvotes"
NEW = "ix_papers_featured_on_upvotes_published_at_id"


def upgrade() -> None:
    op.create_index(NEW, "papers", ["featured_on", "upvotes", "published_at", "id"])
    op.drop_index(OLD, table_name="papers")


def downgrade() -> None:
    op.create_index(OLD, "papers", ["featured_on", "upvotes"])
    op.drop_index(NEW, table_name="papers")
