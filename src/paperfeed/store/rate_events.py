"""Events counted by rate limits and the log-in lockout (the decisions are pure, elsewhere)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, insert, select

from paperfeed.store.tables.community import rate_events


def record(conn: Connection, bucket: str, key: str, at: datetime) -> None:
    conn.execute(insert(rate_events).values(bucket=bucket, key=key[:400], at=at))


def times(conn: Connection, bucket: str, key: str, since: datetime) -> list[datetime]:
    """When the events of ``(bucket, key)`` after ``since`` happened, oldest first."""
    return list(
        conn.execute(
            select(rate_events.c.at)
            .where(
                rate_events.c.bucket == bucket,
                rate_events.c.key == key[:400],
                rate_events.c.at > since,
            )
            .order_by(rate_events.c.at)
        ).scalars()
    )


def clear(conn: Connection, bucket: str, key: str) -> None:
    conn.execute(
        delete(rate_events).where(rate_events.c.bucket == bucket, rate_events.c.key == key[:400])
    )


def prune_bucket(conn: Connection, bucket: str, before: datetime) -> int:
    """Delete the events of ``bucket`` at or before ``before``; how many went."""
    doomed = delete(rate_events).where(rate_events.c.bucket == bucket, rate_events.c.at <= before)
    return conn.execute(doomed).rowcount


def prune(conn: Connection, before: datetime) -> int:
    """Delete every event at or before ``before``; how many went."""
    return conn.execute(delete(rate_events).where(rate_events.c.at <= before)).rowcount
