"""Papers members submitted to the daily list: one submission per paper."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from paperfeed.errors import ConflictError
from paperfeed.store.tables.community import submissions, users


def record(conn: Connection, *, paper_id: int, user_id: int, now: datetime) -> None:
    """Record the submission; :class:`ConflictError` when the paper was submitted already."""
    try:
        with conn.begin_nested():
            conn.execute(insert(submissions).values(paper_id=paper_id, user_id=user_id, at=now))
    except IntegrityError as exc:
        raise ConflictError("this paper has been submitted already") from exc


def submitters(conn: Connection, paper_ids: Sequence[int]) -> dict[int, str]:
    """The user name of whoever submitted each of these papers (absent: not submitted)."""
    if not paper_ids:
        return {}
    rows = conn.execute(
        select(submissions.c.paper_id, users.c.username)
        .select_from(submissions.join(users, users.c.id == submissions.c.user_id))
        .where(submissions.c.paper_id.in_(list(paper_ids)))
    ).all()
    return {int(pid): str(name) for pid, name in rows}
