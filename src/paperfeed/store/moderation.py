"""Papers moderators hid (the audit log of who did what is :mod:`.audit`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from paperfeed.store.id_lists import IDS, PerDialect, id_in
from paperfeed.store.tables.community import hidden_papers, users
from paperfeed.store.tables.papers import papers


@dataclass(frozen=True)
class HiddenPaper:
    paper_id: int
    title: str
    arxiv_id: str | None
    hidden_by: str | None
    at: datetime
    reason: str


def hide_paper(conn: Connection, *, paper_id: int, by: int, reason: str, now: datetime) -> None:
    values = {"paper_id": paper_id, "hidden_by": by, "at": now, "reason": reason}
    if conn.dialect.name == "postgresql":
        conn.execute(postgresql.insert(hidden_papers).values(**values).on_conflict_do_nothing())
    else:
        conn.execute(sqlite.insert(hidden_papers).values(**values).on_conflict_do_nothing())


def unhide_paper(conn: Connection, paper_id: int) -> None:
    conn.execute(delete(hidden_papers).where(hidden_papers.c.paper_id == paper_id))


#: Built once per dialect: the ids go in as one parameter (store/id_lists.py), so the statement
#: is compiled once per process (search asks it on every query, with up to ~200 ids).
_HIDDEN_AMONG = PerDialect(
    lambda dialect: select(hidden_papers.c.paper_id).where(id_in(hidden_papers.c.paper_id, dialect))
)
#: Ids per statement (SQLite allows 32,766 bound parameters).
_IN_CHUNK = 10_000


def hidden_among(conn: Connection, paper_ids: Sequence[int]) -> set[int]:
    ids = list(paper_ids)
    found: set[int] = set()
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        found.update(conn.execute(_HIDDEN_AMONG(conn), {IDS: chunk}).scalars())
    return found


def hidden_list(conn: Connection, *, limit: int = 200) -> list[HiddenPaper]:
    rows = conn.execute(
        select(
            hidden_papers.c.paper_id,
            papers.c.title,
            papers.c.arxiv_id,
            users.c.username,
            hidden_papers.c.at,
            hidden_papers.c.reason,
        )
        .select_from(
            hidden_papers.join(papers, papers.c.id == hidden_papers.c.paper_id).outerjoin(
                users, users.c.id == hidden_papers.c.hidden_by
            )
        )
        .order_by(hidden_papers.c.at.desc(), hidden_papers.c.paper_id.desc())
        .limit(limit)
    ).all()
    return [HiddenPaper(*r) for r in rows]
