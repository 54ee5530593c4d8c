"""The lexical index: full-text search over title (weighted highest), abstract and authors.

One interface, two engines: SQLite FTS5 (:mod:`paperfeed.index.lexical.fts5`) and
PostgreSQL tsvector + GIN (:mod:`paperfeed.index.lexical.tsvector`). The index is
written in the same transaction as the papers it indexes (``sync``), so it never
disagrees with the store. Each write also appends the changed ids to the ``lexical``
change journal, which the fast tantivy word index
(:mod:`paperfeed.index.lexical.tantivy_index`) follows to answer ranked searches.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time

import numpy as np
from sqlalchemy import ColumnElement, Connection, Select, and_, exists, func, or_, select

from paperfeed.index import journal
from paperfeed.index.lexical import fts5 as lexical_sqlite
from paperfeed.index.lexical import tsvector as lexical_postgres
from paperfeed.index.lexical.tantivy_index import JOURNAL
from paperfeed.index.query import Query
from paperfeed.models import Hit
from paperfeed.store.tables.papers import paper_authors, paper_categories, papers


def _engine(conn: Connection):  # type: ignore[no-untyped-def]
    return lexical_postgres if conn.dialect.name == "postgresql" else lexical_sqlite


def sync(conn: Connection, paper_ids: Sequence[int]) -> None:
    """(Re)index these papers from the store; call inside the transaction that wrote them."""
    if paper_ids:
        ids = sorted(set(paper_ids))
        _engine(conn).sync(conn, ids)
        journal.append(conn, JOURNAL, ids)


def rebuild(conn: Connection) -> int:
    """Index every paper again from scratch; returns the number indexed."""
    journal.reset(conn, JOURNAL)
    return int(_engine(conn).rebuild(conn))


def count_indexed(conn: Connection) -> int:
    return int(_engine(conn).count(conn))


def filter_ids(query: Query) -> Select[tuple[int]] | None:
    """The papers a query's filters allow, as a subquery (``None`` when unfiltered)."""
    if not query.has_filters:
        return None
    conditions: list[ColumnElement[bool]] = []
    for name in query.authors:
        # Whole words of the name, any case: author:xian finds "Yuchen Xian", not "Xiang".
        wanted = " ".join(name.lower().split())
        escaped = wanted.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
        lowered = func.lower(paper_authors.c.name)
        conditions.append(
            exists().where(
                paper_authors.c.paper_id == papers.c.id,
                or_(
                    lowered == wanted,
                    lowered.like(f"{escaped} %", escape="\\"),
                    lowered.like(f"% {escaped}", escape="\\"),
                    lowered.like(f"% {escaped} %", escape="\\"),
                ),
            )
        )
    if query.categories:
        alternatives = []
        for cat in query.categories:
            if "." in cat:
                alternatives.append(func.lower(paper_categories.c.category) == cat.lower())
            else:
                archive = cat.lower()
                alternatives.append(
                    or_(
                        func.lower(paper_categories.c.category) == archive,
                        func.lower(paper_categories.c.category).like(archive + ".%"),
                    )
                )
        conditions.append(
            exists().where(paper_categories.c.paper_id == papers.c.id, or_(*alternatives))
        )
    day = func.coalesce(papers.c.published_at, papers.c.first_seen_at)
    if query.after is not None:
        conditions.append(day >= _start(query.after))
    if query.before is not None:
        conditions.append(day < _start_after(query.before))
    return select(papers.c.id).where(and_(*conditions))


def allowed_ids(conn: Connection, query: Query) -> np.ndarray | None:
    """The ids of every paper the query's filters allow (``None`` when unfiltered)."""
    subquery = filter_ids(query)
    if subquery is None:
        return None
    return np.fromiter(conn.execute(subquery).scalars(), dtype=np.int64)


def newest_matching(conn: Connection, query: Query, *, limit: int) -> list[int]:
    """The newest ``limit`` papers the query's filters allow, newest first (a query of
    filters only); its words are not asked."""
    subquery = filter_ids(query)
    if subquery is None:
        return []
    newest = (
        select(papers.c.id)
        .where(papers.c.id.in_(subquery.scalar_subquery()))
        .order_by(papers.c.published_at.desc().nulls_last(), papers.c.id.desc())
        .limit(limit)
    )
    return list(conn.execute(newest).scalars())


def _start(day: date) -> datetime:
    from datetime import UTC

    return datetime.combine(day, time.min, tzinfo=UTC)


def _start_after(day: date) -> datetime:
    from datetime import timedelta

    return _start(day + timedelta(days=1))


def search(conn: Connection, query: Query, *, limit: int) -> list[Hit]:
    """Best lexical matches from FTS5 / tsvector, best first (scores comparable within one
    result list only). The tantivy word index answers the same question faster when it is
    in step (:meth:`WordIndex.search`), phrases and exclusions included."""
    if not query.has_text:
        return []
    return list(_engine(conn).search(conn, query, filter_ids(query), limit=limit))


def constrain(conn: Connection, query: Query, paper_ids: Sequence[int]) -> list[int]:
    """Those of ``paper_ids`` that hold every required phrase and no excluded word, in order.

    Semantic results pass through this, so "exact phrase" and -word mean the same
    in every search mode.
    """
    if not paper_ids or not (query.phrases or query.excluded):
        return list(paper_ids)
    engine = _engine(conn)
    keep = set(paper_ids)
    for phrase in query.phrases:
        keep &= engine.matching(conn, (phrase,), sorted(keep))
    if query.excluded and keep:
        keep -= engine.matching(conn, query.excluded, sorted(keep))
    return [pid for pid in paper_ids if pid in keep]
