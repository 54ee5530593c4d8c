"""Machines and index snapshots (#17): each machine's index positions and heartbeat, and
the snapshots of index files a machine publishes for new machines to join from (their
manifests, and their bytes when the database itself is the snapshot store).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from paperfeed.store.types import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "index_machines",
        sa.Column("machine_id", sa.String(128), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("index_dir", sa.Text(), nullable=False),
        sa.Column("positions", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("machine_id", name="pk_index_machines"),
    )
    op.create_table(
        "index_snapshots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("store", sa.String(16), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("machine_id", sa.String(128), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("total_bytes", sa.BigInteger(), nullable=False),
        sa.Column("complete", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_index_snapshots"),
    )
    op.create_index(
        "ix_index_snapshots_complete_created_at", "index_snapshots", ["complete", "created_at"]
    )
    op.create_table(
        "index_snapshot_chunks",
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(512), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["snapshot_id"], ["index_snapshots.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("snapshot_id", "path", "seq", name="pk_index_snapshot_chunks"),
    )


def downgrade() -> None:
    op.drop_table("index_snapshot_chunks")
    op.drop_index("ix_index_snapshots_complete_created_at", table_name="index_snapshots")
    op.drop_table("index_snapshots")
    op.drop_table("index_machines")
