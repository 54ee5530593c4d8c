"""Machines and their index snapshots (#17): which machine's indexes stand where, and the
snapshots of index files one machine publishes for others to join from.

See :mod:`paperfeed.store.machines` (heartbeats, status) and
:mod:`paperfeed.store.snapshot_blobs` (snapshots kept in the database).
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from paperfeed.store.tables.base import metadata
from paperfeed.store.types import UTCDateTime

# One row per machine serving the hub: the journal version each of its on-disk indexes
# reflects and when it last said so. `paperfeed index status` compares them with the
# journals' current versions.
index_machines = Table(
    "index_machines",
    metadata,
    # Stable id: PAPERFEED_MACHINE_ID, or the host name plus a hash of the index folder.
    Column("machine_id", String(128), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("index_dir", Text, nullable=False),
    # {"word": {"version": v, "journal": "<index_state name>", "ready": bool}, ...}
    Column("positions", JSON, nullable=False),
    # "joining", "catching up" or "ready".
    Column("state", String(32), nullable=False),
    # What the machine did last (the snapshot it restored, the error it met).
    Column("note", Text, nullable=True),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("heartbeat_at", UTCDateTime(), nullable=False),
)

# One row per published snapshot, whichever store holds its files (a shared folder or the
# chunks below). `complete` turns 1 in the transaction that writes the last chunk, so a
# reader never picks a half-written snapshot.
index_snapshots = Table(
    "index_snapshots",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # "folder" or "database".
    Column("store", String(16), nullable=False),
    # The snapshot's name (its folder's name under PAPERFEED_INDEX_SNAPSHOT_DIR).
    Column("name", String(128), nullable=False),
    Column("machine_id", String(128), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    # Files, sizes, checksums and the journal position each index reflects.
    Column("manifest", JSON, nullable=False),
    Column("total_bytes", BigInteger, nullable=False),
    Column("complete", Integer, nullable=False, server_default="0"),
    # "Newest complete snapshot" on join and on status.
    Index(None, "complete", "created_at"),
)

# The bytes of database-stored snapshots, in chunks of a few MB (bytea / BLOB).
index_snapshot_chunks = Table(
    "index_snapshot_chunks",
    metadata,
    Column(
        "snapshot_id",
        Integer,
        ForeignKey("index_snapshots.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("path", String(512), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("data", LargeBinary, nullable=False),
)
