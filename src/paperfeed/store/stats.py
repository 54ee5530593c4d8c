"""Counts for `paperfeed stats`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from paperfeed.store import ingest_state
from paperfeed.store.tables.papers import paper_authors, paper_categories, papers


def collect(conn: Connection) -> dict[str, Any]:
    """Papers, featured days, sources and the last ingestion runs."""
    total = conn.execute(select(func.count()).select_from(papers)).scalar_one()
    with_id = conn.execute(
        select(func.count()).select_from(papers).where(papers.c.arxiv_id.is_not(None))
    ).scalar_one()
    featured = conn.execute(
        select(func.count(), func.count(func.distinct(papers.c.featured_on)))
        .select_from(papers)
        .where(papers.c.featured_on.is_not(None))
    ).one()
    first_last = conn.execute(
        select(func.min(papers.c.featured_on), func.max(papers.c.featured_on))
    ).one()
    by_source = {
        source: n
        for source, n in conn.execute(
            select(papers.c.source, func.count())
            .group_by(papers.c.source)
            .order_by(papers.c.source)
        )
    }
    top_categories = [
        {"category": cat, "papers": n}
        for cat, n in conn.execute(
            select(paper_categories.c.category, func.count())
            .where(paper_categories.c.position == 0)
            .group_by(paper_categories.c.category)
            .order_by(func.count().desc(), paper_categories.c.category)
            .limit(10)
        )
    ]
    authors = conn.execute(select(func.count(func.distinct(paper_authors.c.name)))).scalar_one()
    runs = [
        {
            "source": r["source"],
            "finished_at": r["finished_at"].isoformat(),
            "completed": bool(r["completed"]),
            "summary": {k: r["report"].get(k) for k in ("fetched", "new", "updated", "rejected")},
        }
        for r in ingest_state.last_runs(conn)
    ]
    pending = [
        {"key": c["key"], "source": c["source"], "cursor": c["cursor"]}
        for c in ingest_state.list_checkpoints(conn)
    ]
    return {
        "papers": int(total),
        "papers_with_arxiv_id": int(with_id),
        "featured_papers": int(featured[0]),
        "featured_days": int(featured[1]),
        "first_featured_day": str(first_last[0]) if first_last[0] else None,
        "last_featured_day": str(first_last[1]) if first_last[1] else None,
        "distinct_authors": int(authors),
        "by_source": by_source,
        "top_primary_categories": top_categories,
        "last_runs": runs,
        "interrupted_jobs": pending,
    }
