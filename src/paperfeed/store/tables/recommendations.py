"""Recommendations (#7): a member's own signals, settings, exclusions, topics and
followed authors."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table

from paperfeed.store.tables.base import metadata
from paperfeed.store.types import UTCDateTime

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
