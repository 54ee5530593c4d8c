"""Paper thumbnails (#18): which papers have one, the image bytes, and the papers the
thumbnail job should try next. The job itself is :mod:`paperfeed.ingest.thumbnails`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, or_, select

from paperfeed.store.tables.papers import papers
from paperfeed.store.tables.thumbnails import paper_thumbnails as thumbs

#: A failed paper waits this much longer after each failed try (1, 2, 4 … days, at most 30).
MAX_RETRY_DAYS = 30


@dataclass(frozen=True)
class Thumbnail:
    paper_id: int
    media_type: str
    image: bytes
    fetched_at: datetime


@dataclass(frozen=True)
class Candidate:
    """A paper the job may make a thumbnail for."""

    paper_id: int
    arxiv_id: str | None
    version: int | None
    thumbnail_url: str | None
    attempts: int


def available(conn: Connection, ids: Sequence[int]) -> dict[int, str]:
    """``{paper id: media type}`` of those of ``ids`` that have an image."""
    if not ids:
        return {}
    rows = conn.execute(
        select(thumbs.c.paper_id, thumbs.c.media_type).where(
            thumbs.c.paper_id.in_(list(ids)), thumbs.c.status == "ok"
        )
    )
    return {int(r.paper_id): str(r.media_type) for r in rows}


def get(conn: Connection, paper_id: int) -> Thumbnail | None:
    row = conn.execute(
        select(thumbs.c.media_type, thumbs.c.image, thumbs.c.fetched_at).where(
            thumbs.c.paper_id == paper_id, thumbs.c.status == "ok"
        )
    ).first()
    if row is None or row.image is None:
        return None
    return Thumbnail(paper_id, str(row.media_type), bytes(row.image), row.fetched_at)


def due(conn: Connection, *, now: datetime, limit: int) -> list[Candidate]:
    """Papers with no thumbnail yet, or whose last failure may be retried by ``now``,
    newest on the hub first; only papers with an arXiv id or an imported thumbnail."""
    query = (
        select(
            papers.c.id,
            papers.c.arxiv_id,
            papers.c.version,
            papers.c.thumbnail_url,
            func.coalesce(thumbs.c.attempts, 0).label("attempts"),
        )
        .select_from(papers.outerjoin(thumbs, thumbs.c.paper_id == papers.c.id))
        .where(
            or_(papers.c.arxiv_id.is_not(None), papers.c.thumbnail_url.is_not(None)),
            or_(
                thumbs.c.paper_id.is_(None),
                (thumbs.c.status == "failed") & (thumbs.c.retry_after <= now),
            ),
        )
        .order_by(
            papers.c.featured_on.is_(None),
            papers.c.featured_on.desc(),
            papers.c.published_at.desc(),
            papers.c.id.desc(),
        )
        .limit(limit)
    )
    return [
        Candidate(int(r.id), r.arxiv_id, r.version, r.thumbnail_url, int(r.attempts))
        for r in conn.execute(query)
    ]


def _replace(conn: Connection, paper_id: int, values: dict[str, object]) -> None:
    conn.execute(delete(thumbs).where(thumbs.c.paper_id == paper_id))
    conn.execute(insert(thumbs).values(paper_id=paper_id, **values))


def save(
    conn: Connection,
    paper_id: int,
    *,
    image: bytes,
    media_type: str,
    width: int,
    height: int,
    source: str,
    attempts: int,
    now: datetime,
) -> None:
    """Keep the paper's image (replacing any earlier row)."""
    _replace(
        conn,
        paper_id,
        {
            "status": "ok",
            "source": source,
            "media_type": media_type,
            "image": image,
            "width": width,
            "height": height,
            "attempts": attempts,
            "error": None,
            "fetched_at": now,
            "retry_after": None,
        },
    )


def fail(
    conn: Connection,
    paper_id: int,
    *,
    source: str,
    error: str,
    attempts: int,
    retry_after: datetime,
    now: datetime,
) -> None:
    """Record why the paper has no image yet and when to try again."""
    _replace(
        conn,
        paper_id,
        {
            "status": "failed",
            "source": source,
            "attempts": attempts,
            "error": error[:2000],
            "fetched_at": now,
            "retry_after": retry_after,
        },
    )


def counts(conn: Connection) -> dict[str, int]:
    """Rows per status (``ok``, ``failed``)."""
    rows = conn.execute(select(thumbs.c.status, func.count()).group_by(thumbs.c.status))
    return {str(status): int(n) for status, n in rows}
