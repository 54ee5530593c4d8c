"""Search indexes: full text (FTS5 on SQLite, tsvector + GIN on PostgreSQL) and embeddings.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import TSVECTOR

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paper_embeddings",
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["papers.id"],
            name="fk_paper_embeddings_paper_id_papers",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("paper_id", name="pk_paper_embeddings"),
    )
    op.create_index("ix_paper_embeddings_model_paper_id", "paper_embeddings", ["model", "paper_id"])
    op.create_table(
        "index_state",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_index_state"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.create_table(
            "paper_search",
            sa.Column("paper_id", sa.Integer(), nullable=False),
            sa.Column("document", TSVECTOR(), nullable=False),
            sa.ForeignKeyConstraint(
                ["paper_id"],
                ["papers.id"],
                name="fk_paper_search_paper_id_papers",
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint("paper_id", name="pk_paper_search"),
        )
        op.create_index(
            "ix_paper_search_document", "paper_search", ["document"], postgresql_using="gin"
        )
    else:
        # Title weighted above abstract and authors at query time (bm25 column weights).
        # Porter stemming over unicode61 with diacritics removed; rowid = papers.id.
        op.execute(
            "CREATE VIRTUAL TABLE papers_fts USING fts5("
            "title, abstract, authors, "
            "tokenize = 'porter unicode61 remove_diacritics 2')"
        )
        op.execute(
            "CREATE TRIGGER papers_fts_delete AFTER DELETE ON papers BEGIN "
            "DELETE FROM papers_fts WHERE rowid = old.id; END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_table("paper_search")
    else:
        op.execute("DROP TRIGGER IF EXISTS papers_fts_delete")
        op.execute("DROP TABLE IF EXISTS papers_fts")
    op.drop_table("index_state")
    op.drop_table("paper_embeddings")
