"""Papers with authors, categories and versions; ingestion checkpoints and runs.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from paperfeed.store.types import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "papers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("arxiv_id", sa.String(64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("doi", sa.String(255), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("title_key", sa.Text(), nullable=False),
        sa.Column("abstract", sa.Text(), nullable=False),
        sa.Column("primary_category", sa.String(64), nullable=True),
        sa.Column("published_at", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=True),
        sa.Column("abs_url", sa.Text(), nullable=True),
        sa.Column("pdf_url", sa.Text(), nullable=True),
        sa.Column("code_url", sa.Text(), nullable=True),
        sa.Column("project_url", sa.Text(), nullable=True),
        sa.Column("license", sa.Text(), nullable=True),
        sa.Column("comments", sa.Text(), nullable=True),
        sa.Column("journal_ref", sa.Text(), nullable=True),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("featured_on", sa.Date(), nullable=True),
        sa.Column("upvotes", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("first_seen_at", UTCDateTime(), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_papers"),
        sa.UniqueConstraint("arxiv_id", name="uq_papers_arxiv_id"),
    )
    op.create_index("ix_papers_doi", "papers", ["doi"])
    op.create_index("ix_papers_title_key", "papers", ["title_key"])
    op.create_index("ix_papers_featured_on_upvotes", "papers", ["featured_on", "upvotes"])
    op.create_index("ix_papers_published_at", "papers", ["published_at"])

    for name, extra in (
        ("paper_authors", [sa.Column("name", sa.Text(), nullable=False)]),
        ("paper_categories", [sa.Column("category", sa.String(64), nullable=False)]),
    ):
        op.create_table(
            name,
            sa.Column("paper_id", sa.Integer(), nullable=False),
            sa.Column("position", sa.Integer(), nullable=False),
            *extra,
            sa.ForeignKeyConstraint(
                ["paper_id"], ["papers.id"], name=f"fk_{name}_paper_id_papers", ondelete="CASCADE"
            ),
            sa.PrimaryKeyConstraint("paper_id", "position", name=f"pk_{name}"),
        )
    op.create_index("ix_paper_authors_name", "paper_authors", ["name"])
    op.create_index(
        "ix_paper_categories_category_paper_id", "paper_categories", ["category", "paper_id"]
    )

    op.create_table(
        "paper_versions",
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("submitted_at", UTCDateTime(), nullable=True),
        sa.Column("size", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["papers.id"],
            name="fk_paper_versions_paper_id_papers",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("paper_id", "number", name="pk_paper_versions"),
    )
    op.create_table(
        "ingest_checkpoints",
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_ingest_checkpoints"),
    )
    op.create_table(
        "ingest_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=False),
        sa.Column("completed", sa.Integer(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ingest_runs"),
    )
    op.create_index("ix_ingest_runs_source_finished_at", "ingest_runs", ["source", "finished_at"])


def downgrade() -> None:
    for table in (
        "ingest_runs",
        "ingest_checkpoints",
        "paper_versions",
        "paper_categories",
        "paper_authors",
        "papers",
    ):
        op.drop_table(table)
