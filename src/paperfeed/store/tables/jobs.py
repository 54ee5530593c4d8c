"""Job bookkeeping: ingestion checkpoints and runs, and the scheduled job-run ledger (#8)."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index, Integer, String, Table, Text

from paperfeed.store.tables.base import metadata
from paperfeed.store.types import UTCDateTime

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
