"""Followed authors: a member follows a name as printed on papers, optionally pinned to a
co-author and a category (two people with one name rarely share both). Every change bumps
the member's recommendation signal version."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select

from paperfeed.errors import InvalidInputError
from paperfeed.models import normalise_title
from paperfeed.store.recommendations import bump
from paperfeed.store.tables.papers import paper_authors, paper_categories, papers
from paperfeed.store.tables.recommendations import author_follows

MAX_FOLLOWS = 200
#: Papers looked at per followed name when the feed is made (newest first).
PAPERS_PER_NAME = 50


@dataclass(frozen=True)
class Follow:
    id: int
    name: str
    co_author: str = ""
    category: str = ""


@dataclass(frozen=True)
class AuthoredPaper:
    paper_id: int
    seen_at: datetime
    authors: tuple[str, ...]
    categories: tuple[str, ...]


@dataclass(frozen=True)
class NameProfile:
    """Who writes under a name: its papers' most frequent co-authors and categories."""

    name: str
    papers: int
    co_authors: tuple[tuple[str, int], ...]
    categories: tuple[tuple[str, int], ...]


def name_key(name: str) -> str:
    return normalise_title(name)


def follow(
    conn: Connection, *, user_id: int, name: str, co_author: str, category: str, now: datetime
) -> bool:
    """Follow the name (once per name, co-author and category); True when it is new.
    A new follow past :data:`MAX_FOLLOWS` is refused (:class:`InvalidInputError`)."""
    key = name_key(name)
    exists = conn.execute(
        select(author_follows.c.id).where(
            author_follows.c.user_id == user_id,
            author_follows.c.name_key == key,
            author_follows.c.co_author == co_author,
            author_follows.c.category == category,
        )
    ).first()
    if exists is not None:
        return False
    if count_follows(conn, user_id) >= MAX_FOLLOWS:
        raise InvalidInputError(f"at most {MAX_FOLLOWS} follows")
    conn.execute(
        insert(author_follows).values(
            user_id=user_id, name=name, name_key=key, co_author=co_author, category=category, at=now
        )
    )
    bump(conn, user_id, now)
    return True


def unfollow(conn: Connection, *, user_id: int, follow_id: int, now: datetime) -> bool:
    done = conn.execute(
        delete(author_follows).where(
            author_follows.c.user_id == user_id, author_follows.c.id == follow_id
        )
    )
    if done.rowcount:
        bump(conn, user_id, now)
    return bool(done.rowcount)


def follows_of(conn: Connection, user_id: int) -> list[Follow]:
    rows = conn.execute(
        select(
            author_follows.c.id,
            author_follows.c.name,
            author_follows.c.co_author,
            author_follows.c.category,
        )
        .where(author_follows.c.user_id == user_id)
        .order_by(author_follows.c.id)
    ).all()
    return [Follow(int(r.id), r.name, r.co_author, r.category) for r in rows]


def count_follows(conn: Connection, user_id: int) -> int:
    query = select(func.count()).where(author_follows.c.user_id == user_id)
    return int(conn.execute(query).scalar_one())


def _authored(conn: Connection, ids: list[int]) -> list[AuthoredPaper]:
    if not ids:
        return []
    authors: dict[int, list[str]] = {i: [] for i in ids}
    for pid, name in conn.execute(
        select(paper_authors.c.paper_id, paper_authors.c.name)
        .where(paper_authors.c.paper_id.in_(ids))
        .order_by(paper_authors.c.paper_id, paper_authors.c.position)
    ):
        authors[int(pid)].append(name)
    cats: dict[int, list[str]] = {i: [] for i in ids}
    for pid, cat in conn.execute(
        select(paper_categories.c.paper_id, paper_categories.c.category)
        .where(paper_categories.c.paper_id.in_(ids))
        .order_by(paper_categories.c.paper_id, paper_categories.c.position)
    ):
        cats[int(pid)].append(cat)
    seen = dict(
        conn.execute(select(papers.c.id, papers.c.first_seen_at).where(papers.c.id.in_(ids))).all()
    )
    return [AuthoredPaper(i, seen[i], tuple(authors[i]), tuple(cats[i])) for i in ids if i in seen]


def papers_by_names(
    conn: Connection, names: Sequence[str], *, since: datetime
) -> list[AuthoredPaper]:
    """Papers first seen after ``since`` with any of these names among their authors."""
    if not names:
        return []
    ids = (
        conn.execute(
            select(paper_authors.c.paper_id)
            .join(papers, papers.c.id == paper_authors.c.paper_id)
            .where(paper_authors.c.name.in_(list(names)), papers.c.first_seen_at > since)
            .order_by(papers.c.first_seen_at.desc(), paper_authors.c.paper_id.desc())
            .limit(PAPERS_PER_NAME * len(names))
        )
        .scalars()
        .all()
    )
    return _authored(conn, list(dict.fromkeys(int(i) for i in ids)))


def name_profile(conn: Connection, name: str, *, top: int = 6) -> NameProfile:
    """The co-authors and categories of the papers printed with this name."""
    ids = [
        int(i)
        for i in conn.execute(
            select(paper_authors.c.paper_id)
            .where(paper_authors.c.name == name)
            .order_by(paper_authors.c.paper_id.desc())
            .limit(500)
        ).scalars()
    ]
    found = _authored(conn, ids)
    co = Counter(a for p in found for a in p.authors if a != name)
    cats = Counter(c for p in found for c in p.categories)
    return NameProfile(name, len(found), tuple(co.most_common(top)), tuple(cats.most_common(top)))
