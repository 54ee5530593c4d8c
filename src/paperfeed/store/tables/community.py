"""The research community (#5): members, their sessions and API tokens, rate limits,
moderation, votes, submissions, comments and collections."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text

from paperfeed.store.tables.base import metadata
from paperfeed.store.types import UTCDateTime

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
    # A bucket's expired events, deleted as new ones come: WHERE bucket = .. AND at <= ..
    Index(None, "bucket", "at"),
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
