"""Digest subscribers, their saved searches and the consent trail: all their SQL.

Addresses are stored lower-cased. The decisions (who may subscribe, what a link
allows) live in ``deliver/digests/subscriptions.py``; this module only reads and writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from paperfeed.store.tables.digests import saved_searches, subscribers, subscription_events

Frequency = Literal["daily", "weekly"]
FREQUENCIES: tuple[Frequency, ...] = ("daily", "weekly")
Status = Literal["pending", "confirmed", "unsubscribed", "failing"]


@dataclass(frozen=True)
class Subscriber:
    id: int
    email: str
    user_id: int | None
    frequency: Frequency
    status: Status
    link_key: str
    pending_email: str | None
    created_at: datetime
    requested_at: datetime
    confirmed_at: datetime | None
    confirmed_ip: str | None
    unsubscribed_at: datetime | None
    bounces: int
    searches: tuple[str, ...] = ()


def _subscriber(row: Row[Any, *tuple[Any, ...]], searches: Sequence[str] = ()) -> Subscriber:
    m = row._mapping
    return Subscriber(
        id=m["id"],
        email=m["email"],
        user_id=m["user_id"],
        frequency=cast(Frequency, m["frequency"]),
        status=cast(Status, m["status"]),
        link_key=m["link_key"],
        pending_email=m["pending_email"],
        created_at=m["created_at"],
        requested_at=m["requested_at"],
        confirmed_at=m["confirmed_at"],
        confirmed_ip=m["confirmed_ip"],
        unsubscribed_at=m["unsubscribed_at"],
        bounces=m["bounces"],
        searches=tuple(searches),
    )


def searches_of(conn: Connection, ids: Sequence[int]) -> dict[int, list[str]]:
    """Saved searches per subscriber, in their order."""
    found: dict[int, list[str]] = {}
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        rows = conn.execute(
            select(saved_searches.c.subscriber_id, saved_searches.c.query)
            .where(saved_searches.c.subscriber_id.in_(chunk))
            .order_by(saved_searches.c.subscriber_id, saved_searches.c.position)
        )
        for sid, query in rows:
            found.setdefault(sid, []).append(query)
    return found


def _one(conn: Connection, where: Any) -> Subscriber | None:
    row = conn.execute(select(subscribers).where(where)).first()
    if row is None:
        return None
    return _subscriber(row, searches_of(conn, [row.id]).get(row.id, []))


def get(conn: Connection, subscriber_id: int) -> Subscriber | None:
    return _one(conn, subscribers.c.id == subscriber_id)


def by_email(conn: Connection, email: str) -> Subscriber | None:
    return _one(conn, subscribers.c.email == email.lower())


def by_user(conn: Connection, user_id: int) -> Subscriber | None:
    return _one(conn, subscribers.c.user_id == user_id)


def many(conn: Connection, ids: Sequence[int]) -> dict[int, Subscriber]:
    """Subscribers by id, with their searches (for a batch of deliveries)."""
    found: dict[int, Subscriber] = {}
    searches = searches_of(conn, ids)
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        for row in conn.execute(select(subscribers).where(subscribers.c.id.in_(chunk))):
            found[row.id] = _subscriber(row, searches.get(row.id, []))
    return found


def create(
    conn: Connection,
    *,
    email: str,
    frequency: Frequency,
    link_key: str,
    now: datetime,
    user_id: int | None = None,
) -> int:
    result = conn.execute(
        insert(subscribers)
        .values(
            email=email.lower(),
            user_id=user_id,
            frequency=frequency,
            status="pending",
            link_key=link_key,
            created_at=now,
            requested_at=now,
        )
        .returning(subscribers.c.id)
    )
    return int(result.scalar_one())


def set_searches(conn: Connection, subscriber_id: int, queries: Sequence[str]) -> None:
    conn.execute(delete(saved_searches).where(saved_searches.c.subscriber_id == subscriber_id))
    if queries:
        conn.execute(
            insert(saved_searches),
            [
                {"subscriber_id": subscriber_id, "position": n, "query": q}
                for n, q in enumerate(queries)
            ],
        )


def change(conn: Connection, subscriber_id: int, **values: Any) -> None:
    """Update some columns of a subscriber (status, frequency, confirmation, ...)."""
    conn.execute(update(subscribers).where(subscribers.c.id == subscriber_id).values(**values))


def record_event(
    conn: Connection, subscriber_id: int, action: str, email: str, ip: str | None, at: datetime
) -> None:
    conn.execute(
        insert(subscription_events).values(
            subscriber_id=subscriber_id, action=action, email=email, ip=ip, at=at
        )
    )


def events(conn: Connection, subscriber_id: int) -> list[tuple[str, str, str | None, datetime]]:
    """The consent trail, oldest first: (action, email, ip, at)."""
    rows = conn.execute(
        select(
            subscription_events.c.action,
            subscription_events.c.email,
            subscription_events.c.ip,
            subscription_events.c.at,
        )
        .where(subscription_events.c.subscriber_id == subscriber_id)
        .order_by(subscription_events.c.id)
    )
    return [(r.action, r.email, r.ip, r.at) for r in rows]


def confirmed_ids(conn: Connection, frequency: Frequency, confirmed_before: datetime) -> list[int]:
    """Confirmed subscribers of ``frequency`` who confirmed by ``confirmed_before``."""
    return list(
        conn.execute(
            select(subscribers.c.id)
            .where(
                subscribers.c.status == "confirmed",
                subscribers.c.frequency == frequency,
                subscribers.c.confirmed_at <= confirmed_before,
            )
            .order_by(subscribers.c.id)
        ).scalars()
    )


def count_by_status(conn: Connection) -> dict[str, int]:
    rows = conn.execute(
        select(subscribers.c.status, func.count()).group_by(subscribers.c.status)
    ).all()
    return {status: int(n) for status, n in rows}
