"""Rate-limit events by bucket and time: each new event deletes its bucket's expired ones
(``store.rate_events.prune_bucket``), an index range rather than a scan of every key.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_rate_events_bucket_at", "rate_events", ["bucket", "at"])


def downgrade() -> None:
    op.drop_index("ix_rate_events_bucket_at", table_name="rate_events")
