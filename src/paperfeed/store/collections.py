"""Members' collections of papers, each paper with a note."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from paperfeed.store.tables.community import collection_items, collections, users


@dataclass(frozen=True)
class Collection:
    id: int
    user_id: int
    username: str
    title: str
    description: str
    public: bool
    created_at: datetime
    updated_at: datetime
    size: int


@dataclass(frozen=True)
class Item:
    paper_id: int
    note: str
    added_at: datetime


def _select() -> Any:
    size = (
        select(func.count())
        .where(collection_items.c.collection_id == collections.c.id)
        .scalar_subquery()
        .label("size")
    )
    return select(collections, users.c.username, size).select_from(
        collections.join(users, users.c.id == collections.c.user_id)
    )


def _collection(row: Row[Any]) -> Collection:
    m = row._mapping
    values = {name: m[name] for name in Collection.__dataclass_fields__}
    values["public"] = bool(values["public"])
    values["size"] = int(values["size"])
    return Collection(**values)


def create(
    conn: Connection, *, user_id: int, title: str, description: str, public: bool, now: datetime
) -> int:
    return int(
        conn.execute(
            insert(collections)
            .values(
                user_id=user_id,
                title=title,
                description=description,
                public=int(public),
                created_at=now,
                updated_at=now,
            )
            .returning(collections.c.id)
        ).scalar_one()
    )


def get(conn: Connection, collection_id: int) -> Collection | None:
    row = conn.execute(_select().where(collections.c.id == collection_id)).first()
    return _collection(row) if row is not None else None


def of_user(conn: Connection, user_id: int) -> list[Collection]:
    rows = conn.execute(
        _select().where(collections.c.user_id == user_id).order_by(collections.c.id)
    ).all()
    return [_collection(r) for r in rows]


def public(conn: Connection, *, limit: int = 100) -> list[Collection]:
    """Public collections, most recently changed first."""
    rows = conn.execute(
        _select()
        .where(collections.c.public == 1)
        .order_by(collections.c.updated_at.desc(), collections.c.id.desc())
        .limit(limit)
    ).all()
    return [_collection(r) for r in rows]


def change(
    conn: Connection,
    collection_id: int,
    *,
    title: str,
    description: str,
    public: bool,
    now: datetime,
) -> None:
    conn.execute(
        update(collections)
        .where(collections.c.id == collection_id)
        .values(title=title, description=description, public=int(public), updated_at=now)
    )


def remove(conn: Connection, collection_id: int) -> None:
    conn.execute(delete(collections).where(collections.c.id == collection_id))


def put_item(conn: Connection, collection_id: int, paper_id: int, note: str, now: datetime) -> None:
    """Add the paper with its note, or change the note of a paper already there."""
    values = {"collection_id": collection_id, "paper_id": paper_id, "note": note, "added_at": now}
    if conn.dialect.name == "postgresql":
        pg = postgresql.insert(collection_items).values(**values)
        conn.execute(
            pg.on_conflict_do_update(
                index_elements=["collection_id", "paper_id"], set_={"note": note}
            )
        )
    else:
        lite = sqlite.insert(collection_items).values(**values)
        conn.execute(
            lite.on_conflict_do_update(
                index_elements=["collection_id", "paper_id"], set_={"note": note}
            )
        )
    conn.execute(
        update(collections).where(collections.c.id == collection_id).values(updated_at=now)
    )


def remove_item(conn: Connection, collection_id: int, paper_id: int, now: datetime) -> bool:
    done = conn.execute(
        delete(collection_items).where(
            collection_items.c.collection_id == collection_id,
            collection_items.c.paper_id == paper_id,
        )
    )
    conn.execute(
        update(collections).where(collections.c.id == collection_id).values(updated_at=now)
    )
    return done.rowcount == 1


def items(conn: Connection, collection_id: int) -> list[Item]:
    """The collection's papers, most recently added first."""
    rows = conn.execute(
        select(collection_items.c.paper_id, collection_items.c.note, collection_items.c.added_at)
        .where(collection_items.c.collection_id == collection_id)
        .order_by(collection_items.c.added_at.desc(), collection_items.c.paper_id.desc())
    ).all()
    return [Item(int(r.paper_id), str(r.note), r.added_at) for r in rows]
