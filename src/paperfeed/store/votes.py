"""The hub's own upvotes. One row per (paper, member): the primary key is what makes a
vote count once, whatever the concurrency; counts are ``COUNT(*)`` over that key."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, Executable, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from paperfeed.store.tables.community import paper_votes


def _insert_once(conn: Connection, paper_id: int, user_id: int, now: datetime) -> bool:
    """Insert the vote unless it exists; True when this call inserted it."""
    values = {"paper_id": paper_id, "user_id": user_id, "at": now}
    stmt: Executable
    if conn.dialect.name == "postgresql":
        stmt = postgresql.insert(paper_votes).values(**values).on_conflict_do_nothing()
    else:
        stmt = sqlite.insert(paper_votes).values(**values).on_conflict_do_nothing()
    stmt = stmt.returning(paper_votes.c.paper_id)
    return conn.execute(stmt).first() is not None


def set_vote(conn: Connection, *, paper_id: int, user_id: int, on: bool, now: datetime) -> bool:
    """Make the member's vote on the paper ``on`` or off (idempotent); True if it changed."""
    if on:
        return _insert_once(conn, paper_id, user_id, now)
    done = conn.execute(
        delete(paper_votes).where(
            paper_votes.c.paper_id == paper_id, paper_votes.c.user_id == user_id
        )
    )
    return done.rowcount == 1


def toggle(conn: Connection, *, paper_id: int, user_id: int, now: datetime) -> bool:
    """Flip the member's vote; True when it is now on."""
    if set_vote(conn, paper_id=paper_id, user_id=user_id, on=False, now=now):
        return False
    _insert_once(conn, paper_id, user_id, now)
    return True


def count(conn: Connection, paper_id: int) -> int:
    return int(
        conn.execute(
            select(func.count()).select_from(paper_votes).where(paper_votes.c.paper_id == paper_id)
        ).scalar_one()
    )


def counts(conn: Connection, paper_ids: Sequence[int]) -> dict[int, int]:
    """Votes per paper for these papers (absent: none)."""
    if not paper_ids:
        return {}
    rows = conn.execute(
        select(paper_votes.c.paper_id, func.count())
        .where(paper_votes.c.paper_id.in_(list(paper_ids)))
        .group_by(paper_votes.c.paper_id)
    ).all()
    return {int(pid): int(n) for pid, n in rows}


def voted(conn: Connection, user_id: int, paper_ids: Sequence[int]) -> set[int]:
    """Which of these papers the member has upvoted."""
    if not paper_ids:
        return set()
    return set(
        conn.execute(
            select(paper_votes.c.paper_id).where(
                paper_votes.c.user_id == user_id, paper_votes.c.paper_id.in_(list(paper_ids))
            )
        ).scalars()
    )
