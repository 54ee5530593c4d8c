"""Ingestion bookkeeping: resumable checkpoints and the log of runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from paperfeed.store.tables.jobs import ingest_checkpoints, ingest_runs


def read_checkpoint(conn: Connection, key: str) -> str | None:
    return conn.execute(
        select(ingest_checkpoints.c.cursor).where(ingest_checkpoints.c.key == key)
    ).scalar()


def save_checkpoint(conn: Connection, key: str, source: str, cursor: str, now: datetime) -> None:
    """Record where a job stands; call inside the transaction of the batch it follows."""
    changed = conn.execute(
        update(ingest_checkpoints)
        .where(ingest_checkpoints.c.key == key)
        .values(cursor=cursor, updated_at=now)
    ).rowcount
    if not changed:
        conn.execute(
            insert(ingest_checkpoints).values(
                key=key, source=source, cursor=cursor, started_at=now, updated_at=now
            )
        )


def clear_checkpoint(conn: Connection, key: str) -> None:
    conn.execute(delete(ingest_checkpoints).where(ingest_checkpoints.c.key == key))


def list_checkpoints(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(select(ingest_checkpoints))]


def record_run(
    conn: Connection,
    *,
    source: str,
    started_at: datetime,
    finished_at: datetime,
    completed: bool,
    report: dict[str, Any],
) -> None:
    conn.execute(
        insert(ingest_runs).values(
            source=source,
            started_at=started_at,
            finished_at=finished_at,
            completed=int(completed),
            report=report,
        )
    )


def last_runs(conn: Connection) -> list[dict[str, Any]]:
    """The newest run of each source."""
    newest = (
        select(ingest_runs.c.source, func.max(ingest_runs.c.id).label("id"))
        .group_by(ingest_runs.c.source)
        .subquery()
    )
    rows = conn.execute(
        select(ingest_runs)
        .join(newest, ingest_runs.c.id == newest.c.id)
        .order_by(ingest_runs.c.source)
    )
    return [dict(r._mapping) for r in rows]
