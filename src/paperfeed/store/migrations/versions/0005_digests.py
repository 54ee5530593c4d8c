"""E-mail digests: subscribers, saved searches, the consent trail and the deliveries ledger.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from paperfeed.store.types import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _to_subscribers(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["subscriber_id"],
        ["subscribers.id"],
        name=f"fk_{table}_subscriber_id_subscribers",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("frequency", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("link_key", sa.String(64), nullable=False),
        sa.Column("pending_email", sa.String(320), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", UTCDateTime(), nullable=True),
        sa.Column("confirmed_ip", sa.String(64), nullable=True),
        sa.Column("unsubscribed_at", UTCDateTime(), nullable=True),
        sa.Column("bounces", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_subscribers"),
        sa.UniqueConstraint("email", name="uq_subscribers_email"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_subscribers_user_id_users", ondelete="SET NULL"
        ),
    )
    op.create_index("ix_subscribers_status_frequency", "subscribers", ["status", "frequency"])
    op.create_index("ix_subscribers_user_id", "subscribers", ["user_id"])
    op.create_table(
        "saved_searches",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("subscriber_id", "position", name="pk_saved_searches"),
        _to_subscribers("saved_searches"),
    )
    op.create_table(
        "subscription_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_subscription_events"),
        _to_subscribers("subscription_events"),
    )
    op.create_index(
        "ix_subscription_events_subscriber_id_id", "subscription_events", ["subscriber_id", "id"]
    )
    op.create_table(
        "digest_deliveries",
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_at", UTCDateTime(), nullable=True),
        sa.Column("message_id", sa.String(255), nullable=True),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("subscriber_id", "digest", name="pk_digest_deliveries"),
        _to_subscribers("digest_deliveries"),
    )
    op.create_index(
        "ix_digest_deliveries_digest_status_next_attempt_at",
        "digest_deliveries",
        ["digest", "status", "next_attempt_at"],
    )


def downgrade() -> None:
    for table in ("digest_deliveries", "subscription_events", "saved_searches", "subscribers"):
        op.drop_table(table)
