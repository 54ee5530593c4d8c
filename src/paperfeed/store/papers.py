"""All SQL about papers: reading them whole, finding dedup matches, writing batches."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    Connection,
    Row,
    String,
    bindparam,
    delete,
    func,
    literal,
    null,
    select,
    update,
)

from paperfeed.models import Paper, StoredPaper, Version
from paperfeed.store.bulk import allocate_ids, insert_rows
from paperfeed.store.id_lists import IDS, PerDialect, id_in
from paperfeed.store.tables.papers import paper_authors, paper_categories, paper_versions, papers

_PAPER_FIELDS = (
    "arxiv_id",
    "version",
    "doi",
    "title",
    "abstract",
    "primary_category",
    "published_at",
    "updated_at",
    "abs_url",
    "pdf_url",
    "code_url",
    "project_url",
    "license",
    "comments",
    "journal_ref",
    "featured_on",
    "source",
)
#: What a Hugging Face item adds, stored as the Paper holds it (after the bookkeeping columns).
HF_FIELDS = (
    "ai_summary",
    "ai_summary_model",
    "github_stars",
    "organization",
    "organization_fullname",
    "submitted_by",
    "submitted_by_fullname",
    "discussion_id",
    "num_comments",
    "thumbnail_url",
    "submitted_on_daily_at",
    "listed_at",
)

#: SQLite allows 32,766 bound parameters; stay well below for IN lists.
_IN_CHUNK = 900


def paper_row(paper: Paper) -> dict[str, Any]:
    """The ``papers`` row for a paper (without id and bookkeeping times)."""
    row: dict[str, Any] = {name: getattr(paper, name) for name in (*_PAPER_FIELDS, *HF_FIELDS)}
    row["title_key"] = paper.title_key
    row["keywords"] = list(paper.keywords)
    row["upvotes"] = paper.upvotes or 0
    return row


#: Column order of the bulk inserts (the tables' own order).
_PAPER_COLUMNS = tuple(c.name for c in papers.columns)
_AUTHOR_COLUMNS = ("paper_id", "position", "name")
_CATEGORY_COLUMNS = ("paper_id", "position", "category")
_VERSION_COLUMNS = ("paper_id", "number", "submitted_at", "size")


_NO_KEYWORDS: list[str] = []  # one shared object, so bulk inserts encode it once


def paper_values(paper_id: int, paper: Paper, now: datetime) -> tuple[Any, ...]:
    """The ``papers`` row of a new paper, in the table's column order."""
    return (
        paper_id,
        paper.arxiv_id,
        paper.version,
        paper.doi,
        paper.title,
        paper.title_key,
        paper.abstract,
        paper.primary_category,
        paper.published_at,
        paper.updated_at,
        paper.abs_url,
        paper.pdf_url,
        paper.code_url,
        paper.project_url,
        paper.license,
        paper.comments,
        paper.journal_ref,
        list(paper.keywords) if paper.keywords else _NO_KEYWORDS,
        paper.featured_on,
        paper.upvotes or 0,
        paper.source,
        now,
        now,
        *(getattr(paper, name) for name in HF_FIELDS),
    )


def child_rows(
    paper_id: int, paper: Paper
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Author, category and version rows of one paper (tuples in column order)."""
    return (
        [(paper_id, i, name) for i, name in enumerate(paper.authors)],
        [(paper_id, i, cat) for i, cat in enumerate(paper.categories)],
        [(paper_id, v.number, v.submitted_at, v.size) for v in paper.versions],
    )


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    return _chunks_of(values, _IN_CHUNK)


def _chunks_of(values: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _to_paper(
    row: Row[Any], authors: list[str], categories: list[str], versions: list[Version]
) -> Paper:
    return Paper(
        title=row.title,
        abstract=row.abstract,
        arxiv_id=row.arxiv_id,
        version=row.version,
        versions=tuple(versions),
        doi=row.doi,
        authors=tuple(authors),
        categories=tuple(categories),
        primary_category=row.primary_category,
        published_at=row.published_at,
        updated_at=row.updated_at,
        abs_url=row.abs_url,
        pdf_url=row.pdf_url,
        code_url=row.code_url,
        project_url=row.project_url,
        license=row.license,
        comments=row.comments,
        journal_ref=row.journal_ref,
        keywords=tuple(row.keywords or ()),
        featured_on=row.featured_on,
        upvotes=row.upvotes,
        source=row.source,
        **{name: getattr(row, name) for name in HF_FIELDS},
    ).with_web_links()  # a link stored before ingestion refused other schemes is not shown


#: The statements that load papers by id, built once per dialect: the ids go in as one
#: parameter (store/id_lists.py), so SQLAlchemy compiles each statement once per process
#: (building ``in_(list)`` anew coerced every id, every call).
_READ_ROWS = PerDialect(lambda dialect: select(papers).where(id_in(papers.c.id, dialect)))


def _read_children(dialect: str) -> CompoundSelect[Any]:
    """Authors, categories and versions in one statement: ``kind`` 0 / 1 / 2, then the
    paper, the position (a version's number), the name (author or category), and a
    version's date and size. The versions come first, so the union's column types are
    theirs."""
    return (
        select(
            literal(2).label("kind"),
            paper_versions.c.paper_id,
            paper_versions.c.number.label("position"),
            literal(None, String).label("name"),
            paper_versions.c.submitted_at,
            paper_versions.c.size,
        )
        .where(id_in(paper_versions.c.paper_id, dialect))
        .union_all(
            select(
                literal(0),
                paper_authors.c.paper_id,
                paper_authors.c.position,
                paper_authors.c.name,
                null(),
                null(),
            ).where(id_in(paper_authors.c.paper_id, dialect)),
            select(
                literal(1),
                paper_categories.c.paper_id,
                paper_categories.c.position,
                paper_categories.c.category,
                null(),
                null(),
            ).where(id_in(paper_categories.c.paper_id, dialect)),
        )
        .order_by("kind", "paper_id", "position")
    )


_READ_CHILDREN = PerDialect(_read_children)


def read_papers(conn: Connection, ids: Sequence[int]) -> dict[int, StoredPaper]:
    """Load whole papers (with authors, categories, versions) by id: two statements (per
    900 ids), each compiled once per process."""
    if not ids:
        return {}
    authors: dict[int, list[str]] = defaultdict(list)
    categories: dict[int, list[str]] = defaultdict(list)
    versions: dict[int, list[Version]] = defaultdict(list)
    rows: list[Row[Any]] = []
    for chunk in _chunks(list(ids)):
        wanted = {IDS: list(chunk)}
        rows.extend(conn.execute(_READ_ROWS(conn), wanted))
        # Three IN lists of the same ids: stay under SQLite's parameter limit.
        for part in _chunks_of(chunk, _IN_CHUNK // 3):
            for kind, pid, position, name, submitted, size in conn.execute(
                _READ_CHILDREN(conn), {IDS: list(part)}
            ):
                if kind == 0:
                    authors[pid].append(name)
                elif kind == 1:
                    categories[pid].append(name)
                else:
                    versions[pid].append(Version(position, submitted, size))
    return {
        row.id: StoredPaper(
            id=row.id,
            paper=_to_paper(row, authors[row.id], categories[row.id], versions[row.id]),
            first_seen_at=row.first_seen_at,
            changed_at=row.changed_at,
        )
        for row in rows
    }


@dataclass
class Matches:
    """Stored papers that incoming papers may be the same as, by each dedup key."""

    by_arxiv_id: dict[str, StoredPaper] = field(default_factory=dict)
    by_doi: dict[str, StoredPaper] = field(default_factory=dict)
    by_title_key: dict[str, StoredPaper] = field(default_factory=dict)


def find_matches(conn: Connection, incoming: Sequence[Paper]) -> Matches:
    """Find stored papers sharing an arXiv id, a DOI or (for id-less papers) a normalised title."""
    arxiv_ids = sorted({p.arxiv_id for p in incoming if p.arxiv_id})
    dois = sorted({p.doi.lower() for p in incoming if p.doi})
    # Title matches only matter for id-less papers, on either side: skip the work
    # (and the query) when neither the batch nor the store has any.
    if any(p.arxiv_id is None for p in incoming) or _has_id_less_papers(conn):
        title_keys = sorted({p.title_key for p in incoming})
    else:
        title_keys = []
    id_of: dict[str, int] = {}
    doi_of: dict[str, int] = {}
    title_of: dict[str, int] = {}
    for chunk in _chunks(arxiv_ids):
        for pid, aid in conn.execute(
            select(papers.c.id, papers.c.arxiv_id).where(papers.c.arxiv_id.in_(chunk))
        ):
            id_of[aid] = pid
    for chunk in _chunks(dois):
        for pid, doi in conn.execute(
            select(papers.c.id, papers.c.doi).where(func.lower(papers.c.doi).in_(chunk))
        ):
            doi_of.setdefault(doi.lower(), pid)
    for chunk in _chunks(title_keys):
        for pid, key in conn.execute(
            select(papers.c.id, papers.c.title_key)
            .where(papers.c.title_key.in_(chunk))
            # Prefer an id-less stored paper (the only kind an incoming paper with an
            # arXiv id may merge into), then the oldest.
            .order_by(papers.c.arxiv_id.is_not(None), papers.c.id)
        ):
            title_of.setdefault(key, pid)
    wanted = set(id_of.values()) | set(doi_of.values()) | set(title_of.values())
    stored = read_papers(conn, sorted(wanted))
    return Matches(
        by_arxiv_id={k: stored[v] for k, v in id_of.items()},
        by_doi={k: stored[v] for k, v in doi_of.items()},
        by_title_key={k: stored[v] for k, v in title_of.items()},
    )


def _has_id_less_papers(conn: Connection) -> bool:
    query = select(papers.c.id).where(papers.c.arxiv_id.is_(None)).limit(1)
    return conn.execute(query).first() is not None


def insert_papers(conn: Connection, new: Sequence[Paper], now: datetime) -> list[int]:
    """Insert whole papers; return their ids in order."""
    if not new:
        return []
    ids = allocate_ids(conn, papers, len(new))
    rows = [paper_values(pid, paper, now) for pid, paper in zip(ids, new, strict=True)]
    insert_rows(conn, papers, _PAPER_COLUMNS, rows)
    _insert_children(conn, list(zip(ids, new, strict=True)))
    return ids


def update_papers(conn: Connection, changed: Sequence[tuple[int, Paper]], now: datetime) -> None:
    """Replace the metadata of stored papers (children rewritten), keeping first-seen time."""
    if not changed:
        return
    rows = []
    for pid, paper in changed:
        row = {f"v_{k}": v for k, v in paper_row(paper).items()}
        row["v_changed_at"] = now
        row["pid"] = pid
        rows.append(row)
    columns: dict[str, Any] = {
        name[2:]: bindparam(name) for name in rows[0] if name.startswith("v_")
    }
    conn.execute(update(papers).where(papers.c.id == bindparam("pid")).values(**columns), rows)
    ids = [pid for pid, _ in changed]
    for chunk in _chunks(ids):
        for table in (paper_authors, paper_categories, paper_versions):
            conn.execute(delete(table).where(table.c.paper_id.in_(chunk)))
    _insert_children(conn, list(changed))


def _insert_children(conn: Connection, pairs: Sequence[tuple[int, Paper]]) -> None:
    authors: list[tuple[Any, ...]] = []
    categories: list[tuple[Any, ...]] = []
    versions: list[tuple[Any, ...]] = []
    for pid, paper in pairs:
        a, c, v = child_rows(pid, paper)
        authors.extend(a)
        categories.extend(c)
        versions.extend(v)
    insert_rows(conn, paper_authors, _AUTHOR_COLUMNS, authors)
    insert_rows(conn, paper_categories, _CATEGORY_COLUMNS, categories)
    insert_rows(conn, paper_versions, _VERSION_COLUMNS, versions)


def get_by_arxiv_id(conn: Connection, arxiv_id: str) -> StoredPaper | None:
    pid = conn.execute(select(papers.c.id).where(papers.c.arxiv_id == arxiv_id)).scalar()
    if pid is None:
        return None
    return read_papers(conn, [pid])[pid]


def get_by_id(conn: Connection, paper_id: int) -> StoredPaper | None:
    return read_papers(conn, [paper_id]).get(paper_id)


def recent(conn: Connection, *, limit: int = 50) -> list[StoredPaper]:
    """Most recently seen papers, newest first."""
    ids = list(
        conn.execute(
            select(papers.c.id)
            .order_by(papers.c.first_seen_at.desc(), papers.c.id.desc())
            .limit(limit)
        ).scalars()
    )
    stored = read_papers(conn, ids)
    return [stored[i] for i in ids]


def count_papers(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(papers)).scalar_one())


def adjacent_featured_day(conn: Connection, day: date, *, later: bool) -> date | None:
    """The nearest featured day after (``later``) or before ``day``."""
    if later:
        query = select(func.min(papers.c.featured_on)).where(papers.c.featured_on > day)
    else:
        query = select(func.max(papers.c.featured_on)).where(papers.c.featured_on < day)
    value = conn.execute(query).scalar()
    if isinstance(value, str):
        return date.fromisoformat(value)
    return value


def all_ids(conn: Connection) -> list[int]:
    return list(conn.execute(select(papers.c.id).order_by(papers.c.id)).scalars())


_EXISTING = PerDialect(lambda dialect: select(papers.c.id).where(id_in(papers.c.id, dialect)))


def existing_ids(conn: Connection, ids: Sequence[int]) -> set[int]:
    """Those of ``ids`` that are papers here."""
    found: set[int] = set()
    for chunk in _chunks(list(ids)):
        found.update(conn.execute(_EXISTING(conn), {IDS: list(chunk)}).scalars())
    return found
