"""The papers featured in a period, in the list orders: the queries behind the daily,
weekly and monthly lists (rank/lists.py sorts trending itself).

The votes order counts the votes imported with a paper plus the hub's own members'
votes. Most papers of a period have no hub votes, so it is answered in two reads, each
bounded by what the page needs: the papers with hub votes in the period (found through
``paper_votes``, a few), and the best ``offset + limit`` of the others straight from the
``(featured_on, upvotes, published_at, id)`` index; the page is the merge of the two in
the same order. Counting hub votes per paper in SQL instead would look up every paper of
the period (2 ms for an arXiv-sized day, 50 ms more for a month of 100 k papers).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, exists, func, or_, select

from paperfeed.models import StoredPaper
from paperfeed.store.papers import read_papers
from paperfeed.store.tables.community import hidden_papers, paper_votes, submissions, users
from paperfeed.store.tables.papers import papers

_ORDER_FIELDS = (papers.c.id, papers.c.upvotes, papers.c.featured_on, papers.c.published_at)


def featured_between(
    conn: Connection,
    first: date,
    last: date,
    *,
    limit: int = 100,
    offset: int = 0,
    order: str = "votes",
    submitter: str | None = None,
) -> list[StoredPaper]:
    """Papers featured on days ``first`` .. ``last`` (inclusive); only those ``submitter``
    put on the list (a Hugging Face user, or a member who submitted it here), when given.

    ``order="votes"``: most votes first (those imported with the paper plus the hub's
    own members'), then newest; ``order="published"``: newest arXiv publication first.
    """
    if order == "published":
        ordering = [
            papers.c.published_at.desc().nulls_last(),
            papers.c.featured_on.desc(),
            papers.c.id.desc(),
        ]
    else:
        ordering = [
            papers.c.upvotes.desc(),
            papers.c.featured_on.desc(),
            papers.c.published_at.desc().nulls_last(),
            papers.c.id.desc(),
        ]
    where = _featured_where(first, last, submitter)
    if order == "published":
        ids = list(
            conn.execute(
                select(papers.c.id).where(*where).order_by(*ordering).limit(limit).offset(offset)
            ).scalars()
        )
    else:
        ids = _by_votes(conn, where, ordering, limit=limit, offset=offset)
    stored = read_papers(conn, ids)
    return [stored[i] for i in ids]


def count_featured(
    conn: Connection, first: date, last: date, *, submitter: str | None = None
) -> int:
    """How many papers :func:`featured_between` lists over all its pages."""
    where = _featured_where(first, last, submitter)
    return int(conn.execute(select(func.count()).select_from(papers).where(*where)).scalar_one())


def _featured_where(first: date, last: date, submitter: str | None) -> list[ColumnElement[bool]]:
    # One day as equality, not BETWEEN: the (featured_on, ...) index then reads only that
    # day's entries.
    featured = (
        papers.c.featured_on == first
        if first == last
        else papers.c.featured_on.between(first, last)
    )
    # Papers moderators hid are left out of every list (and so of every feed).
    where = [featured, papers.c.id.not_in(select(hidden_papers.c.paper_id))]
    if submitter is not None:
        # Whoever put the paper on the list: on Hugging Face, or a member on this hub.
        by_member = (
            select(submissions.c.paper_id)
            .join(users, users.c.id == submissions.c.user_id)
            .where(users.c.username == submitter)
        )
        where.append(or_(papers.c.submitted_by == submitter, papers.c.id.in_(by_member)))
    return where


def _by_votes(
    conn: Connection,
    where: list[ColumnElement[bool]],
    ordering: list[Any],
    *,
    limit: int,
    offset: int,
) -> list[int]:
    """Ids of one page in the votes order, hub votes included (see the module's notes)."""
    voted = {
        int(pid): int(n)
        for pid, n in conn.execute(
            select(paper_votes.c.paper_id, func.count())
            .join(papers, papers.c.id == paper_votes.c.paper_id)
            .where(*where)
            .group_by(paper_votes.c.paper_id)
        )
    }
    if not voted:
        return list(
            conn.execute(
                select(papers.c.id).where(*where).order_by(*ordering).limit(limit).offset(offset)
            ).scalars()
        )
    has_votes = exists().where(paper_votes.c.paper_id == papers.c.id)
    others = conn.execute(
        select(*_ORDER_FIELDS).where(*where, ~has_votes).order_by(*ordering).limit(offset + limit)
    ).all()
    with_votes = conn.execute(select(*_ORDER_FIELDS).where(*where, has_votes)).all()
    rows = sorted([*others, *with_votes], key=lambda row: _votes_key(row, voted), reverse=True)
    return [int(row.id) for row in rows[offset : offset + limit]]


def _votes_key(row: Any, voted: dict[int, int]) -> tuple[Any, ...]:
    """The SQL order as a sort key (descending): votes, featured day, publication (none
    last), id."""
    published: datetime | None = row.published_at
    return (
        (row.upvotes or 0) + voted.get(row.id, 0),
        row.featured_on,
        published is not None,
        published.timestamp() if published is not None else 0.0,
        row.id,
    )


def neighbour_featured_days(conn: Connection, day: date) -> tuple[date | None, date | None]:
    """The nearest featured days before and after ``day``, in one statement."""
    before = select(func.max(papers.c.featured_on)).where(papers.c.featured_on < day)
    after = select(func.min(papers.c.featured_on)).where(papers.c.featured_on > day)
    row = conn.execute(select(before.scalar_subquery(), after.scalar_subquery())).one()
    found = [date.fromisoformat(v) if isinstance(v, str) else v for v in row]
    return found[0], found[1]


def latest_featured_day(conn: Connection, on_or_before: date | None = None) -> date | None:
    query = select(func.max(papers.c.featured_on))
    if on_or_before is not None:
        query = query.where(papers.c.featured_on <= on_or_before)
    value = conn.execute(query).scalar()
    if isinstance(value, str):  # SQLite returns MAX(date) as text
        return date.fromisoformat(value)
    return value
