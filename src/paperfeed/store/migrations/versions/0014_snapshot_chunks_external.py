"""Index snapshot chunks stored uncompressed on PostgreSQL: the files a snapshot holds are
mostly compressed already (tantivy's segments, float vectors that do not shrink), so
PostgreSQL's default ``EXTENDED`` storage spent CPU compressing each 4 MiB chunk with pglz
for little or no gain. ``EXTERNAL`` keeps the chunk out of line (TOAST) without compressing
it. SQLite has no such setting: a no-op there.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE index_snapshot_chunks ALTER COLUMN data SET STORAGE EXTERNAL")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE index_snapshot_chunks ALTER COLUMN data SET STORAGE EXTENDED")
