"""Recommendations: members' own signals, settings and signal version, exclusions, topics
and followed authors.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from paperfeed.store.types import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _to(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "rec_signals",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "paper_id", "kind", name="pk_rec_signals"),
        _to("rec_signals", "user_id", "users"),
        _to("rec_signals", "paper_id", "papers"),
    )
    op.create_table(
        "rec_settings",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("paused", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("exploration", sa.Integer(), nullable=False, server_default="10"),
        sa.Column("reset_at", UTCDateTime(), nullable=True),
        sa.Column("feed_token_hash", sa.String(64), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_rec_settings"),
        sa.UniqueConstraint("feed_token_hash", name="uq_rec_settings_feed_token_hash"),
        _to("rec_settings", "user_id", "users"),
    )
    op.create_table(
        "rec_exclusions",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "kind", "value", name="pk_rec_exclusions"),
        _to("rec_exclusions", "user_id", "users"),
    )
    op.create_table(
        "rec_topics",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("query", sa.String(300), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "query", name="pk_rec_topics"),
        _to("rec_topics", "user_id", "users"),
    )
    op.create_table(
        "author_follows",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("name_key", sa.String(200), nullable=False),
        sa.Column("co_author", sa.String(200), nullable=False, server_default=""),
        sa.Column("category", sa.String(64), nullable=False, server_default=""),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_author_follows"),
        _to("author_follows", "user_id", "users"),
    )
    op.create_index("ix_author_follows_user_id", "author_follows", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_author_follows_user_id", table_name="author_follows")
    for table in ("author_follows", "rec_topics", "rec_exclusions", "rec_settings", "rec_signals"):
        op.drop_table(table)
