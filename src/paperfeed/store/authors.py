"""An author's papers on the hub (#18): the papers printed with a name, newest first."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from paperfeed.store.tables.papers import paper_authors, papers


def papers_by(conn: Connection, name: str, *, limit: int, offset: int = 0) -> list[int]:
    """Ids of the papers with ``name`` among their authors (exactly as printed), newest
    first (arXiv date, else when the hub first saw it)."""
    newest = func.coalesce(papers.c.published_at, papers.c.first_seen_at)
    query = (
        select(papers.c.id)
        .join(paper_authors, paper_authors.c.paper_id == papers.c.id)
        .where(paper_authors.c.name == name)
        .order_by(newest.desc(), papers.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [int(i) for i in conn.execute(query).scalars()]


def count_by(conn: Connection, name: str) -> int:
    """How many papers on the hub list ``name`` among their authors."""
    query = select(func.count()).select_from(paper_authors).where(paper_authors.c.name == name)
    return int(conn.execute(query).scalar_one())
