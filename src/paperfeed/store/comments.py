"""Comments on papers: a top-level comment or a reply to one (one level deep).
Deleting blanks the body and keeps the row, so replies keep their place."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update

from paperfeed.store.tables.community import comments, users


@dataclass(frozen=True)
class Comment:
    id: int
    paper_id: int
    user_id: int
    username: str
    parent_id: int | None
    body: str
    created_at: datetime
    edited_at: datetime | None
    deleted_at: datetime | None
    hidden_at: datetime | None

    @property
    def visible(self) -> bool:
        return self.deleted_at is None and self.hidden_at is None


def _select() -> Any:
    return select(comments, users.c.username).select_from(
        comments.join(users, users.c.id == comments.c.user_id)
    )


def _comment(row: Row[Any]) -> Comment:
    m = row._mapping
    return Comment(**{name: m[name] for name in Comment.__dataclass_fields__})


def add(
    conn: Connection,
    *,
    paper_id: int,
    user_id: int,
    parent_id: int | None,
    body: str,
    now: datetime,
) -> int:
    return int(
        conn.execute(
            insert(comments)
            .values(
                paper_id=paper_id, user_id=user_id, parent_id=parent_id, body=body, created_at=now
            )
            .returning(comments.c.id)
        ).scalar_one()
    )


def get(conn: Connection, comment_id: int) -> Comment | None:
    row = conn.execute(_select().where(comments.c.id == comment_id)).first()
    return _comment(row) if row is not None else None


def thread(conn: Connection, paper_id: int) -> list[Comment]:
    """A paper's comments, oldest first."""
    rows = conn.execute(
        _select().where(comments.c.paper_id == paper_id).order_by(comments.c.id)
    ).all()
    return [_comment(r) for r in rows]


def edit(conn: Connection, comment_id: int, body: str, now: datetime) -> None:
    conn.execute(
        update(comments).where(comments.c.id == comment_id).values(body=body, edited_at=now)
    )


def delete(conn: Connection, comment_id: int, now: datetime) -> None:
    conn.execute(
        update(comments).where(comments.c.id == comment_id).values(body="", deleted_at=now)
    )


def set_hidden(conn: Connection, comment_id: int, at: datetime | None) -> None:
    conn.execute(update(comments).where(comments.c.id == comment_id).values(hidden_at=at))


def counts(conn: Connection, paper_ids: Sequence[int]) -> dict[int, int]:
    """Visible comments per paper."""
    if not paper_ids:
        return {}
    rows = conn.execute(
        select(comments.c.paper_id, func.count())
        .where(
            comments.c.paper_id.in_(list(paper_ids)),
            comments.c.deleted_at.is_(None),
            comments.c.hidden_at.is_(None),
        )
        .group_by(comments.c.paper_id)
    ).all()
    return {int(pid): int(n) for pid, n in rows}
