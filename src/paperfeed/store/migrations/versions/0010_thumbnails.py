"""Paper thumbnails: the first page of each paper as a small image, served by the hub.

One row per paper the thumbnail job has tried: the image (WebP or PNG bytes) where it
got one, else the reason it did not and when to try again. The hub serves the bytes
itself, so readers' browsers never contact another host.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from paperfeed.store.types import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paper_thumbnails",
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("media_type", sa.String(32), nullable=True),
        sa.Column("image", sa.LargeBinary(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("fetched_at", UTCDateTime(), nullable=False),
        sa.Column("retry_after", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["paper_id"], ["papers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("paper_id", name="pk_paper_thumbnails"),
    )
    op.create_index(
        "ix_paper_thumbnails_status_retry_after", "paper_thumbnails", ["status", "retry_after"]
    )


def downgrade() -> None:
    op.drop_index("ix_paper_thumbnails_status_retry_after", table_name="paper_thumbnails")
    op.drop_table("paper_thumbnails")
