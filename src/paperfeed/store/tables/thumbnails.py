"""Paper thumbnails (#18): the first page of a paper as a small image the hub serves."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, LargeBinary, String, Table, Text

from paperfeed.store.tables.base import metadata
from paperfeed.store.types import UTCDateTime

# One row per paper the thumbnail job has tried (store/thumbnails.py).
paper_thumbnails = Table(
    "paper_thumbnails",
    metadata,
    Column("paper_id", Integer, ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True),
    # "ok" (image holds the bytes) or "failed" (error says why; retried after retry_after).
    Column("status", String(16), nullable=False),
    # Where the image came from: "huggingface" (its thumbnail) or "arxiv" (the PDF's page 1).
    Column("source", String(16), nullable=False),
    Column("media_type", String(32), nullable=True),
    Column("image", LargeBinary, nullable=True),
    Column("width", Integer, nullable=True),
    Column("height", Integer, nullable=True),
    Column("attempts", Integer, nullable=False, server_default="1"),
    Column("error", Text, nullable=True),
    Column("fetched_at", UTCDateTime(), nullable=False),
    Column("retry_after", UTCDateTime(), nullable=True),
    # The job's "failed ones due for another try".
    Index(None, "status", "retry_after"),
)
