"""E-mail digests (#6): subscribers, their saved searches and consent trail, and the
deliveries ledger."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text

from paperfeed.store.tables.base import metadata
from paperfeed.store.types import UTCDateTime

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
