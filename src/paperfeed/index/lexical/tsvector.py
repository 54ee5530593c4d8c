"""PostgreSQL twin of the lexical index: a weighted tsvector per paper (table
``paper_search``, GIN-indexed), queried with ``websearch_to_tsquery`` units and
ranked with ``ts_rank_cd``.

Weights: title A, abstract and Hugging Face's ``ai_keywords`` B, authors C, its
``ai_summary`` D. Each query unit is parsed by
``websearch_to_tsquery``, which accepts any input without error, then combined:
terms OR-ed, phrases AND-ed, exclusions AND NOT-ed, as in the FTS5 twin.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Select, column, func, literal_column, select, text, true
from sqlalchemy.dialects.postgresql import TSQUERY

from paperfeed.index.query import Query
from paperfeed.models import Hit
from paperfeed.store.tables.papers import paper_search

_DOCUMENT = """
SELECT p.id,
       setweight(to_tsvector('english', p.title), 'A')
       || setweight(to_tsvector('english', p.abstract), 'B')
       || setweight(to_tsvector('simple', COALESCE((
            SELECT string_agg(a.name, ', ') FROM paper_authors a WHERE a.paper_id = p.id
          ), '')), 'C')
       || setweight(to_tsvector('english', COALESCE((
            SELECT string_agg(k.value, ', ') FROM json_array_elements_text(p.keywords) k
          ), '')), 'B')
       || setweight(to_tsvector('english', COALESCE(p.ai_summary, '')), 'D')
FROM papers p
"""


def sync(conn: Connection, paper_ids: Sequence[int]) -> None:
    conn.execute(
        text(
            f"INSERT INTO paper_search (paper_id, document) {_DOCUMENT} "
            "WHERE p.id = ANY(:ids) "
            "ON CONFLICT (paper_id) DO UPDATE SET document = EXCLUDED.document"
        ),
        {"ids": list(paper_ids)},
    )


#: The GIN index over the documents (migration 0002).
_INDEX = "ix_paper_search_document"
#: ``maintenance_work_mem`` for building it in one go (PostgreSQL's default is 64 MB).
_BUILD_MEMORY = "256MB"


def rebuild(conn: Connection, *, index_after: bool = False) -> int:
    """Every paper's document anew. ``index_after`` (a database nothing searches yet, such
    as a copy's target): the GIN index is dropped first and built once over the rows,
    instead of growing with each of them, which takes several times as long; until the
    transaction commits, other sessions' reads of ``paper_search`` wait."""
    if index_after:
        conn.execute(text(f"DROP INDEX IF EXISTS {_INDEX}"))
    conn.execute(text("DELETE FROM paper_search"))
    conn.execute(text(f"INSERT INTO paper_search (paper_id, document) {_DOCUMENT}"))
    if index_after:
        conn.execute(text(f"SET LOCAL maintenance_work_mem = '{_BUILD_MEMORY}'"))
        conn.execute(text(f"CREATE INDEX {_INDEX} ON paper_search USING gin (document)"))
    return count(conn)


def count(conn: Connection) -> int:
    return int(conn.execute(text("SELECT count(*) FROM paper_search")).scalar_one())


def _tsquery(query: Query, params: dict[str, object]) -> str:
    def unit(value: str, kind: str) -> str:
        name = f"{kind}{len(params)}"
        params[name] = value
        if kind == "p":
            return f"phraseto_tsquery('english', :{name})"
        return f"websearch_to_tsquery('english', :{name})"

    parts = []
    if query.terms:
        parts.append("(" + " || ".join(unit(t, "t") for t in query.terms) + ")")
    parts.extend(unit(p, "p") for p in query.phrases)
    expression = " && ".join(parts)
    for words in query.excluded:
        expression = f"({expression}) && !!({unit(words, 'x')})"
    return expression


def search(
    conn: Connection, query: Query, allowed: Select[tuple[int]] | None, *, limit: int
) -> list[Hit]:
    if not query.has_text:
        return []
    params: dict[str, object] = {}
    tsquery = (
        text(f"SELECT {_tsquery(query, params)} AS query")
        .bindparams(**params)
        .columns(column("query", TSQUERY))
        .subquery("q")
    )
    document = paper_search.c.document
    score = func.ts_rank_cd(
        literal_column("'{0.2, 0.4, 0.6, 1.0}'::float4[]"), document, tsquery.c.query, 32
    ).label("score")
    stmt = (
        select(paper_search.c.paper_id, score)
        .select_from(paper_search.join(tsquery, true()))
        .where(document.op("@@")(tsquery.c.query))
    )
    if allowed is not None:
        stmt = stmt.where(paper_search.c.paper_id.in_(allowed.scalar_subquery()))
    stmt = stmt.order_by(score.desc(), paper_search.c.paper_id).limit(limit)
    return [Hit(int(pid), float(s)) for pid, s in conn.execute(stmt)]


def matching(conn: Connection, units: Sequence[str], paper_ids: Sequence[int]) -> set[int]:
    """Which of ``paper_ids`` contain any of ``units`` (each a phrase of plain words)."""
    params: dict[str, object] = {}
    names = []
    for unit in units:
        name = f"u{len(params)}"
        params[name] = unit
        names.append(f"phraseto_tsquery('english', :{name})")
    stmt = text(
        f"SELECT paper_id FROM paper_search WHERE document @@ ({' || '.join(names)}) "
        "AND paper_id = ANY(:ids)"
    ).bindparams(ids=list(paper_ids), **params)
    return {int(pid) for pid in conn.execute(stmt).scalars()}
