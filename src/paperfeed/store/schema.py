"""The whole schema in one place, each index commented with the query it serves.

Papers have an integer surrogate key (``papers.id``) so that the tables of
later features (members, votes, comments, collections, subscriptions, digests,
embeddings) reference one small stable key; the arXiv id without version is the
natural key, unique where present. Alembic migrations in ``migrations/`` create
and evolve these tables; this module is what the code queries.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR

from paperfeed.store.pgvector_schema import INDEX_PREFIX as HNSW_INDEX_PREFIX
from paperfeed.store.types import UTCDateTime
from paperfeed.store.vector_type import Embedding

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

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
    # Dedup by DOI.
    Index(None, "doi"),
    # Dedup of id-less papers by title.
    Index(None, "title_key"),
    # Daily lists: WHERE featured_on = :day ORDER BY upvotes, published_at, id (all DESC),
    # answered from the index in its own order; weeks and months (BETWEEN) sort from it.
    Index(None, "featured_on", "upvotes", "published_at", "id"),
    # "Latest papers" and date filters.
    Index(None, "published_at"),
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

# Where an interrupted ingestion job stands; written in the same transaction as
# the batch it follows, deleted when the job completes.
ingest_checkpoints = Table(
    "ingest_checkpoints",
    metadata,
    Column("key", String(512), primary_key=True),
    Column("source", String(32), nullable=False),
    Column("cursor", Text, nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# One row per finished (or failed) ingestion run, with its report.
ingest_runs = Table(
    "ingest_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(32), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=False),
    Column("completed", Integer, nullable=False),
    Column("report", JSON, nullable=False),
    # "Last ingest per source" in stats.
    Index(None, "source", "finished_at"),
)

# One row per paper and embedding model: the vector as little-endian float32 bytes.
# Kept in the database so a restart never recomputes; served from memory by index/vectors.py.
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


# -- the research community (#5) ---------------------------------------------------------

# Members. Role: member, moderator or admin. Unverified members (verified_at NULL) cannot
# write; suspended members (suspended_at set) cannot log in or write.
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # Lower-cased; log-in and password reset look members up by it.
    Column("email", String(320), nullable=False, unique=True),
    # Lower-cased handle, shown as "submitted by"; unique.
    Column("username", String(32), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("role", String(16), nullable=False, server_default="member"),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("verified_at", UTCDateTime(), nullable=True),
    Column("suspended_at", UTCDateTime(), nullable=True),
)

# Server-side sessions: the cookie holds a random token, the table its SHA-256.
user_sessions = Table(
    "user_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    # Log out everywhere (password reset, suspension).
    Index(None, "user_id"),
)

# API tokens: "pf_<selector>_<secret>"; the selector finds the row, the secret's SHA-256
# is compared in constant time.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(100), nullable=False),
    Column("selector", String(32), nullable=False, unique=True),
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_used_at", UTCDateTime(), nullable=True),
    Column("revoked_at", UTCDateTime(), nullable=True),
    # A member's tokens on the settings page.
    Index(None, "user_id"),
)

# Events counted by the rate limits and the log-in lockout: (bucket, key) such as
# ("login-ip", "203.0.113.9") or ("login-fail", "user:42"), one row per event.
rate_events = Table(
    "rate_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("bucket", String(32), nullable=False),
    Column("key", String(400), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    # Events of one key within a window: WHERE bucket = .. AND key = .. AND at > ..
    Index(None, "bucket", "key", "at"),
)

# Moderators' actions, newest last; kept when the target goes.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("actor_id", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("action", String(32), nullable=False),
    Column("target_type", String(16), nullable=False),
    Column("target_id", Integer, nullable=False),
    Column("detail", Text, nullable=False, server_default=""),
    Column("at", UTCDateTime(), nullable=False),
)

# The hub's own upvotes: one row per member and paper, so a vote counts once whatever
# the concurrency (the primary key refuses the second).
paper_votes = Table(
    "paper_votes",
    metadata,
    Column("paper_id", Integer, ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("at", UTCDateTime(), nullable=False),
    # "Which of these papers did I upvote" on list pages.
    Index(None, "user_id", "paper_id"),
)

# Papers members submitted to the daily list: at most one submission per paper.
submissions = Table(
    "submissions",
    metadata,
    Column("paper_id", Integer, ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
)

# Comments on papers; parent_id is a top-level comment (replies are one level deep).
comments = Table(
    "comments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("paper_id", Integer, ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("parent_id", Integer, ForeignKey("comments.id", ondelete="CASCADE"), nullable=True),
    Column("body", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("edited_at", UTCDateTime(), nullable=True),
    Column("deleted_at", UTCDateTime(), nullable=True),
    Column("hidden_at", UTCDateTime(), nullable=True),
    # A paper's thread, oldest first; comment counts per paper.
    Index(None, "paper_id", "id"),
)

# Members' lists of papers; public ones have a page and an Atom feed.
collections = Table(
    "collections",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("public", Integer, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    # A member's collections.
    Index(None, "user_id"),
)

collection_items = Table(
    "collection_items",
    metadata,
    Column(
        "collection_id",
        Integer,
        ForeignKey("collections.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("paper_id", Integer, ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("note", Text, nullable=False, server_default=""),
    Column("added_at", UTCDateTime(), nullable=False),
)

# Papers moderators hid: left out of lists, feeds and search results' pages.
hidden_papers = Table(
    "hidden_papers",
    metadata,
    Column("paper_id", Integer, ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("hidden_by", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
)

# -- e-mail digests (#6) -----------------------------------------------------------------

# Digest subscribers: an address alone (no account needed) or a member's. Status: pending
# (not yet confirmed: gets nothing but the confirmation), confirmed, unsubscribed or failing
# (permanent delivery failures). confirmed_at / confirmed_ip are the proof of consent.
subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # Lower-cased; subscribing looks the address up by it.
    Column("email", String(320), nullable=False, unique=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("frequency", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    # Random; part of every signed link, changed to revoke them (change of address).
    Column("link_key", String(64), nullable=False),
    # A new address waiting for its own confirmation (change of address).
    Column("pending_email", String(320), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("requested_at", UTCDateTime(), nullable=False),
    Column("confirmed_at", UTCDateTime(), nullable=True),
    Column("confirmed_ip", String(64), nullable=True),
    Column("unsubscribed_at", UTCDateTime(), nullable=True),
    # Permanent failures in a row; at PAPERFEED_DIGEST_MAX_BOUNCES the address is failing.
    Column("bounces", Integer, nullable=False, server_default="0"),
    # The digest run's planning: confirmed subscribers of one frequency.
    Index(None, "status", "frequency"),
    # A member's subscription on the settings page.
    Index(None, "user_id"),
)

# A subscriber's saved searches, each sent as "new papers matching ...".
saved_searches = Table(
    "saved_searches",
    metadata,
    Column(
        "subscriber_id", Integer, ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("position", Integer, primary_key=True),
    Column("query", Text, nullable=False),
)

# What happened to a subscription, oldest first: the consent trail (requests, confirmations
# with their IP, unsubscriptions, changes of address).
subscription_events = Table(
    "subscription_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "subscriber_id", Integer, ForeignKey("subscribers.id", ondelete="CASCADE"), nullable=False
    ),
    Column("action", String(32), nullable=False),
    Column("email", String(320), nullable=False),
    Column("ip", String(64), nullable=True),
    Column("at", UTCDateTime(), nullable=False),
    # A subscriber's trail.
    Index(None, "subscriber_id", "id"),
)

# The deliveries ledger: one row per (subscriber, digest), written before the message is
# handed to the SMTP server (status "sending", the intent) and after (sent, retry, failed),
# so that a rerun sends what is unsent and nothing twice. See docs/design.md (#6).
digest_deliveries = Table(
    "digest_deliveries",
    metadata,
    Column(
        "subscriber_id", Integer, ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    ),
    # "daily:2026-11-23" or "weekly:2026-W48".
    Column("digest", String(32), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("claimed_by", String(64), nullable=True),
    Column("claimed_at", UTCDateTime(), nullable=True),
    Column("message_id", String(255), nullable=True),
    Column("sent_at", UTCDateTime(), nullable=True),
    Column("error", Text, nullable=True),
    # Claiming work: WHERE digest = .. AND status IN (..) AND next_attempt_at <= now.
    Index(None, "digest", "status", "next_attempt_at"),
)


# -- recommendations (#7) ----------------------------------------------------------------

# A member's own recommendation signals beside votes and collection saves: "view" (a paper
# page opened, weak), "not_interested" (negative) and "seed" (matched from pasted ids or
# a BibTeX / RIS file). One row per (member, paper, kind).
rec_signals = Table(
    "rec_signals",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("paper_id", Integer, ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("at", UTCDateTime(), nullable=False),
)

# Per-member recommendation settings and the signal version (bumped by every change of
# the member's own signals; the model cache is keyed by it). Votes and saves made before
# reset_at are forgotten. The private feed's token is kept as its SHA-256 only.
rec_settings = Table(
    "rec_settings",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("version", Integer, nullable=False, server_default="0"),
    Column("paused", Integer, nullable=False, server_default="0"),
    # Share of trending papers mixed into the feed, in percent.
    Column("exploration", Integer, nullable=False, server_default="10"),
    Column("reset_at", UTCDateTime(), nullable=True),
    Column("feed_token_hash", String(64), nullable=True, unique=True),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# Absolute exclusion filters: kind is keyword, category or author.
rec_exclusions = Table(
    "rec_exclusions",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("value", String(200), primary_key=True),
    Column("at", UTCDateTime(), nullable=False),
)

# Topics: free-text queries whose papers count as seeds (the member's saved searches
# count too, read from saved_searches).
rec_topics = Table(
    "rec_topics",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("query", String(300), primary_key=True),
    Column("at", UTCDateTime(), nullable=False),
)

# Followed authors: a name (as printed) and its normalised key, optionally disambiguated
# by a co-author and a category that the followed person's papers must share.
author_follows = Table(
    "author_follows",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("name_key", String(200), nullable=False),
    Column("co_author", String(200), nullable=False, server_default=""),
    Column("category", String(64), nullable=False, server_default=""),
    Column("at", UTCDateTime(), nullable=False),
    # A member's follows on the settings page and the "For you" feed.
    Index(None, "user_id"),
)


# -- scheduled work (#8) ------------------------------------------------------------------

# The job-run ledger: one row per scheduled job (kind, key, due instant), inserted by the
# scheduler that claims it, so that of several schedulers (machines) exactly one runs each
# due job. A claim still "running" after PAPERFEED_SCHEDULE_CLAIM_MINUTES counts as
# crashed and may be taken over (attempts counts the takers). See store/job_runs.py.
job_runs = Table(
    "job_runs",
    metadata,
    # "ingest" or "digest".
    Column("kind", String(16), primary_key=True),
    # The ingest job's `paperfeed ingest` arguments, or the digest's edition key.
    Column("job_key", String(512), primary_key=True),
    Column("due_at", UTCDateTime(), primary_key=True),
    # running, done or failed.
    Column("status", String(16), nullable=False),
    Column("claimed_by", String(128), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="1"),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
    # A one-line report of the run, or its error.
    Column("outcome", Text, nullable=True),
)


def include_object_for(dialect: str) -> Callable[..., bool]:
    """Alembic's ``include_object`` filter: which tables belong on ``dialect``.

    Tables marked ``info={"dialects": (...)}`` exist only there; SQLite's FTS5
    virtual table and its shadow tables are made by migration SQL, not metadata.
    """

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table":
            if name and name.startswith("papers_fts"):
                return False
            table = metadata.tables.get(name or "")
            dialects = table.info.get("dialects") if table is not None else None
            if dialects and dialect not in dialects:
                return False
        # HNSW indexes: one per embedding model, made at run time (store.pgvector_schema).
        return not (type_ == "index" and reflected and (name or "").startswith(HNSW_INDEX_PREFIX))

    return include
