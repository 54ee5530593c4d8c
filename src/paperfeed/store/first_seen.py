"""Which papers the hub first saw within a time window (a digest edition's new papers)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from paperfeed.store.tables.papers import papers


def first_seen_between(conn: Connection, start: datetime, end: datetime) -> list[int]:
    """Ids of the papers first seen in (start, end], ascending."""
    found = conn.execute(
        select(papers.c.id)
        .where(papers.c.first_seen_at > start, papers.c.first_seen_at <= end)
        .order_by(papers.c.id)
    )
    return [int(pid) for pid in found.scalars()]
