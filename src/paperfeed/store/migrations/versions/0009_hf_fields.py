"""Keep every field of a Hugging Face daily-papers item.

The columns a Hugging Face ``/api/daily_papers`` item carries beyond the arXiv
metadata: the AI summary (and the model that wrote it), GitHub stars, the
organization, who submitted the paper to the daily list, the discussion id and
comment count, the thumbnail, when it was submitted to the list and when the
list published it. ``ai_keywords`` live in the existing ``keywords`` column,
``githubRepo`` in ``code_url`` and ``projectPage`` in ``project_url``.

On SQLite the FTS5 table ``papers_fts`` gains two columns, ``keywords`` and
``ai_summary``, so that search reads them with their own bm25 weights; a virtual
table cannot be altered, so it is made again and filled from the papers. The
PostgreSQL tsvector needs no new column: the keywords are added to each document.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from paperfeed.store.types import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("ai_summary", sa.Text()),
    ("ai_summary_model", sa.String(255)),
    ("github_stars", sa.Integer()),
    ("organization", sa.String(255)),
    ("organization_fullname", sa.Text()),
    ("submitted_by", sa.String(255)),
    ("submitted_by_fullname", sa.Text()),
    ("discussion_id", sa.String(64)),
    ("num_comments", sa.Integer()),
    ("thumbnail_url", sa.Text()),
    ("submitted_on_daily_at", UTCDateTime()),
    ("listed_at", UTCDateTime()),
)
_SUBMITTER_INDEX = "ix_papers_submitted_by"


_AUTHORS = (
    "COALESCE((SELECT group_concat(a.name, ', ') FROM paper_authors a WHERE a.paper_id = p.id), '')"
)


def _remake_fts(columns: str, select: str) -> None:
    op.execute("DROP TRIGGER IF EXISTS papers_fts_delete")
    op.execute("DROP TABLE IF EXISTS papers_fts")
    op.execute(
        f"CREATE VIRTUAL TABLE papers_fts USING fts5({columns}, "
        "tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    op.execute(
        "CREATE TRIGGER papers_fts_delete AFTER DELETE ON papers BEGIN "
        "DELETE FROM papers_fts WHERE rowid = old.id; END"
    )
    op.execute(f"INSERT INTO papers_fts (rowid, {columns}) SELECT {select} FROM papers p")


def upgrade() -> None:
    for name, type_ in _COLUMNS:
        op.add_column("papers", sa.Column(name, type_, nullable=True))
    op.create_index(_SUBMITTER_INDEX, "papers", ["submitted_by"])
    if op.get_bind().dialect.name == "sqlite":
        # The new columns are empty here: the keywords are all the AI text there is yet.
        _remake_fts(
            "title, abstract, authors, keywords, ai_summary",
            f"p.id, p.title, p.abstract, {_AUTHORS}, "
            "COALESCE((SELECT group_concat(k.value, ', ') FROM json_each(p.keywords) k), ''), ''",
        )
    else:
        # The tsvector gains the keywords at weight B (index/lexical/tsvector.py writes the
        # same from now on).
        op.execute(
            "UPDATE paper_search s "
            "SET document = s.document || setweight(to_tsvector('english', k.words), 'B') "
            "FROM (SELECT p.id, string_agg(e.value, ', ') AS words "
            "      FROM papers p, json_array_elements_text(p.keywords) e GROUP BY p.id) k "
            "WHERE k.id = s.paper_id"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _remake_fts("title, abstract, authors", f"p.id, p.title, p.abstract, {_AUTHORS}")
    op.drop_index(_SUBMITTER_INDEX, table_name="papers")
    for name, _type in reversed(_COLUMNS):
        op.drop_column("papers", name)  # SQLite >= 3.35 drops a plain column in place
