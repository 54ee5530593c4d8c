"""Papers and what the indexes keep of them.

Papers have an integer surrogate key (``papers.id``) so that the tables of
later features (members, votes, comments, collections, subscriptions, digests,
embeddings) reference one small stable key; the arXiv id without version is the
natural key, unique where present. Alembic migrations in ``migrations/`` create
and evolve these tables; these modules are what the code queries.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Date, ForeignKey, Index, Integer, String, Table, Text
from sqlalchemy.dialects.postgresql import TSVECTOR

from paperfeed.store.tables.base import metadata
from paperfeed.store.types import UTCDateTime
from paperfeed.store.vector_type import Embedding

papers = Table(
    "papers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # Natural key: the arXiv id without version; NULL for title-only listings.
    Column("arxiv_id", String(64), nullable=True, unique=True),
    Column("version", Integer, nullable=True),
    Column("doi", String(255), nullable=True),
    Column("title", Text, nullable=False),
    # normalise_title(title): dedup of papers that have no arXiv id.
    Column("title_key", Text, nullable=False),
    Column("abstract", Text, nullable=False),
    Column("primary_category", String(64), nullable=True),
    Column("published_at", UTCDateTime(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=True),
    Column("abs_url", Text, nullable=True),
    Column("pdf_url", Text, nullable=True),
    Column("code_url", Text, nullable=True),
    Column("project_url", Text, nullable=True),
    Column("license", Text, nullable=True),
    Column("comments", Text, nullable=True),
    Column("journal_ref", Text, nullable=True),
    Column("keywords", JSON, nullable=False),
    # The day the paper is on the hub's daily list (hub time zone); at most one.
    Column("featured_on", Date, nullable=True),
    # Upvotes imported from a source (Hugging Face); the hub's own votes are a table.
    Column("upvotes", Integer, nullable=False, server_default="0"),
    Column("source", String(32), nullable=False),
    Column("first_seen_at", UTCDateTime(), nullable=False),
    Column("changed_at", UTCDateTime(), nullable=False),
    # What a Hugging Face daily-papers item adds (migration 0009; Paper's docstring says
    # which HF field each one holds). ``keywords`` holds ``ai_keywords``.
    Column("ai_summary", Text, nullable=True),
    Column("ai_summary_model", String(255), nullable=True),
    Column("github_stars", Integer, nullable=True),
    Column("organization", String(255), nullable=True),
    Column("organization_fullname", Text, nullable=True),
    Column("submitted_by", String(255), nullable=True),
    Column("submitted_by_fullname", Text, nullable=True),
    Column("discussion_id", String(64), nullable=True),
    Column("num_comments", Integer, nullable=True),
    Column("thumbnail_url", Text, nullable=True),
    Column("submitted_on_daily_at", UTCDateTime(), nullable=True),
    Column("listed_at", UTCDateTime(), nullable=True),
    # Dedup by DOI.
    Index(None, "doi"),
    # Dedup of id-less papers by title.
    Index(None, "title_key"),
    # Daily lists: WHERE featured_on = :day ORDER BY upvotes, published_at, id (all DESC),
    # answered from the index in its own order; weeks and months (BETWEEN) sort from it.
    Index(None, "featured_on", "upvotes", "published_at", "id"),
    # "Latest papers" and date filters.
    Index(None, "published_at"),
    # Papers a Hugging Face user submitted to the daily list (the API's ``submitter=``).
    Index(None, "submitted_by"),
    # A digest edition's new papers, and the newest-first list (migration 0013).
    Index(None, "first_seen_at", "id"),
)

paper_authors = Table(
    "paper_authors",
    metadata,
    Column("paper_id", Integer, ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    # Papers by an author (search filters, following authors).
    Index(None, "name"),
)

paper_categories = Table(
    "paper_categories",
    metadata,
    Column("paper_id", Integer, ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("category", String(64), nullable=False),
    # Papers in a category (category lists and feeds, cat: filters).
    Index(None, "category", "paper_id"),
)

paper_versions = Table(
    "paper_versions",
    metadata,
    Column("paper_id", Integer, ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("submitted_at", UTCDateTime(), nullable=True),
    Column("size", String(32), nullable=True),
)

# One row per paper and embedding model: the vector as little-endian float32 bytes.
# Kept in the database so a restart never recomputes; served from memory by
# src/paperfeed/index/vectors/in_memory.py.
paper_embeddings = Table(
    "paper_embeddings",
    metadata,
    Column("paper_id", Integer, ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("model", String(64), nullable=False),
    # Float32 bytes in Python; a BLOB on SQLite, a pgvector ``vector`` on PostgreSQL.
    Column("vector", Embedding, nullable=False),
    # Loading one model's vectors, and "papers not yet embedded with this model".
    Index(None, "model", "paper_id"),
)

# Small facts about the indexes (the embedding model in use and its dimension, ...).
index_state = Table(
    "index_state",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", JSON, nullable=False),
)

# The PostgreSQL twin of the SQLite FTS5 table `papers_fts` (created by migration 0002 with
# raw SQL, since it is a virtual table): one weighted tsvector per paper.
paper_search = Table(
    "paper_search",
    metadata,
    Column("paper_id", Integer, ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("document", TSVECTOR().with_variant(Text(), "sqlite"), nullable=False),
    # Full-text queries: WHERE document @@ query.
    Index(None, "document", postgresql_using="gin"),
    info={"dialects": ("postgresql",)},
)
