"""The job-run ledger: which scheduler runs a due job, so that exactly one does.

A scheduler claims a job (kind, key, due instant) by inserting its row with ``INSERT ...
ON CONFLICT DO NOTHING``: of several schedulers racing for the same job, on PostgreSQL
the unique key makes every other insert wait for the first and then do nothing; on
SQLite the write transaction (``BEGIN IMMEDIATE``) serialises them. A claim left
``running`` longer than ``stale_after`` (its scheduler crashed or was killed) is taken
over by a conditional ``UPDATE``, which again only one scheduler can win (PostgreSQL
re-checks the condition on the row it locked). Finishing records the outcome, unless
another scheduler took the claim over meanwhile.

Call each function in its own write transaction (:func:`paperfeed.store.engine.writing`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, and_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from paperfeed.store.tables.jobs import job_runs

Status = Literal["running", "done", "failed"]


@dataclass(frozen=True, slots=True)
class JobRun:
    kind: str
    job_key: str
    due_at: datetime
    status: str
    claimed_by: str
    attempts: int
    started_at: datetime
    finished_at: datetime | None
    outcome: str | None


def _key(kind: str, job_key: str, due_at: datetime) -> Any:
    return and_(job_runs.c.kind == kind, job_runs.c.job_key == job_key, job_runs.c.due_at == due_at)


def claim(
    conn: Connection,
    *,
    kind: str,
    job_key: str,
    due_at: datetime,
    worker: str,
    now: datetime,
    stale_after: timedelta,
) -> bool:
    """Claim the job for ``worker``; True when it is now this worker's to run."""
    values = {
        "kind": kind,
        "job_key": job_key,
        "due_at": due_at,
        "status": "running",
        "claimed_by": worker,
        "attempts": 1,
        "started_at": now,
    }
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(job_runs).values(values).on_conflict_do_nothing()
    if conn.execute(stmt.returning(job_runs.c.kind)).first() is not None:
        return True
    taken = conn.execute(
        update(job_runs)
        .where(
            _key(kind, job_key, due_at),
            job_runs.c.status == "running",
            job_runs.c.started_at < now - stale_after,
        )
        .values(claimed_by=worker, started_at=now, attempts=job_runs.c.attempts + 1)
    )
    return taken.rowcount == 1


def finish(
    conn: Connection,
    *,
    kind: str,
    job_key: str,
    due_at: datetime,
    worker: str,
    status: Status,
    outcome: str,
    now: datetime,
) -> bool:
    """Record how the run ended; False (nothing written) when ``worker`` no longer holds
    the claim (another scheduler took it over as stale)."""
    done = conn.execute(
        update(job_runs)
        .where(
            _key(kind, job_key, due_at),
            job_runs.c.claimed_by == worker,
            job_runs.c.status == "running",
        )
        .values(status=status, finished_at=now, outcome=outcome[:2000])
    )
    return done.rowcount == 1


def get(conn: Connection, *, kind: str, job_key: str, due_at: datetime) -> JobRun | None:
    row = conn.execute(select(job_runs).where(_key(kind, job_key, due_at))).first()
    return None if row is None else JobRun(**row._asdict())


def recent(conn: Connection, *, limit: int = 50) -> list[JobRun]:
    """The latest runs, newest due first."""
    rows = conn.execute(
        select(job_runs).order_by(job_runs.c.due_at.desc(), job_runs.c.kind).limit(limit)
    ).all()
    return [JobRun(**row._asdict()) for row in rows]
