"""SQLite FTS5 twin of the lexical index (table ``papers_fts``, rowid = papers.id)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Select, column, func, literal_column, select, table, text
from sqlalchemy.exc import OperationalError

from paperfeed.errors import InvalidQueryError
from paperfeed.index.query import Query, fts5_match
from paperfeed.models import Hit

#: bm25 column weights: title, abstract, authors, keywords (Hugging Face's ai_keywords),
#: ai_summary.
WEIGHTS = (3.0, 1.0, 1.0, 1.0, 1.0)
_CHUNK = 900

_INSERT = """
INSERT INTO papers_fts (rowid, title, abstract, authors, keywords, ai_summary)
SELECT p.id, p.title, p.abstract,
       COALESCE((SELECT group_concat(a.name, ', ') FROM paper_authors a
                 WHERE a.paper_id = p.id), ''),
       COALESCE((SELECT group_concat(k.value, ', ') FROM json_each(p.keywords) k), ''),
       COALESCE(p.ai_summary, '')
FROM papers p
"""


def sync(conn: Connection, paper_ids: Sequence[int]) -> None:
    for start in range(0, len(paper_ids), _CHUNK):
        chunk = list(paper_ids[start : start + _CHUNK])
        marks = ", ".join(str(int(i)) for i in chunk)
        conn.exec_driver_sql(f"DELETE FROM papers_fts WHERE rowid IN ({marks})")
        conn.exec_driver_sql(f"{_INSERT} WHERE p.id IN ({marks})")


def rebuild(conn: Connection) -> int:
    conn.exec_driver_sql("DELETE FROM papers_fts")
    conn.exec_driver_sql(_INSERT)
    return count(conn)


def count(conn: Connection) -> int:
    return int(conn.exec_driver_sql("SELECT count(*) FROM papers_fts").scalar_one())


_FTS = table("papers_fts", column("rowid"))
_RANK = func.bm25(literal_column("papers_fts"), *(literal_column(repr(w)) for w in WEIGHTS))


def search(
    conn: Connection, query: Query, allowed: Select[tuple[int]] | None, *, limit: int
) -> list[Hit]:
    match = fts5_match(query)
    if match is None:
        return []
    stmt = select(_FTS.c.rowid, (-_RANK).label("score")).where(
        text("papers_fts MATCH :match").bindparams(match=match)
    )
    if allowed is not None:
        stmt = stmt.where(_FTS.c.rowid.in_(allowed.scalar_subquery()))
    stmt = stmt.order_by(_RANK).limit(limit)
    try:
        rows = conn.execute(stmt).all()
    except OperationalError as exc:
        # Unreachable for parsed queries (every unit is a quoted string of words), but
        # an FTS5 syntax error must never surface as a server error.
        raise InvalidQueryError(f"the search engine could not read this query: {exc.orig}") from exc
    return [Hit(int(pid), float(score)) for pid, score in rows]


def matching(conn: Connection, units: Sequence[str], paper_ids: Sequence[int]) -> set[int]:
    """Which of ``paper_ids`` contain any of ``units`` (each a phrase of plain words)."""
    expression = " OR ".join('"' + u.replace('"', '""') + '"' for u in units)
    stmt = (
        select(_FTS.c.rowid)
        .where(text("papers_fts MATCH :match").bindparams(match=expression))
        .where(_FTS.c.rowid.in_(list(paper_ids)))
    )
    return {int(pid) for pid in conn.execute(stmt).scalars()}
