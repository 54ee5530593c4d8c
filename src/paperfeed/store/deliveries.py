"""The deliveries ledger: one row per (subscriber, digest). All its SQL.

A row goes ``queued`` → ``claimed`` (a sender took it, nothing sent yet) → ``sending``
(the intent: committed just before the message is handed to the SMTP server) →
``sent`` | ``retry`` (a transient failure; due again at ``next_attempt_at``) | ``failed``
(permanent). ``skipped`` is a digest with nothing in it. A ``sending`` row whose sender
died is ``uncertain``: the server may have accepted it, so it is never resent by itself.

Claims take row locks on PostgreSQL (``FOR UPDATE SKIP LOCKED``), so two senders never
take the same row; on SQLite the write transaction (``BEGIN IMMEDIATE``) serialises them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

from sqlalchemy import ColumnElement, Connection, and_, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from paperfeed.store.tables.digests import digest_deliveries as ledger

DeliveryStatus = Literal[
    "queued", "claimed", "sending", "sent", "retry", "failed", "skipped", "uncertain"
]
OPEN: tuple[DeliveryStatus, ...] = ("queued", "retry")


@dataclass(frozen=True)
class Delivery:
    subscriber_id: int
    digest: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    message_id: str | None
    error: str | None


def plan(conn: Connection, digest: str, subscriber_ids: Sequence[int], now: datetime) -> int:
    """Queue ``digest`` for each subscriber that has no row for it yet; rows added."""
    if not subscriber_ids:
        return 0
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    added = 0
    for start in range(0, len(subscriber_ids), 500):
        rows = [
            {"subscriber_id": sid, "digest": digest, "status": "queued", "next_attempt_at": now}
            for sid in subscriber_ids[start : start + 500]
        ]
        stmt = (
            dialect_insert(ledger)
            .values(rows)
            .on_conflict_do_nothing()
            .returning(ledger.c.subscriber_id)
        )
        added += len(conn.execute(stmt).all())
    return added


def claim(
    conn: Connection,
    digest: str,
    worker: str,
    now: datetime,
    limit: int,
    *,
    wait: bool = False,
) -> list[Delivery]:
    """Take up to ``limit`` due rows of ``digest`` for ``worker`` (in its own transaction).

    On PostgreSQL a row another sender is claiming at this moment is passed over, unless
    ``wait``: then the claim waits for that sender's transaction and takes the row only if
    it is still due (a sender's last claim waits, so that it never reports a row a peer
    was taking as unsent)."""
    due = (
        select(ledger.c.subscriber_id)
        .where(
            ledger.c.digest == digest,
            ledger.c.status.in_(OPEN),
            ledger.c.next_attempt_at <= now,
        )
        .order_by(ledger.c.subscriber_id)
        .limit(limit)
        .with_for_update(skip_locked=not wait)
    )
    ids = list(conn.execute(due).scalars())
    if not ids:
        return []
    conn.execute(
        update(ledger)
        .where(ledger.c.digest == digest, ledger.c.subscriber_id.in_(ids))
        .values(status="claimed", claimed_by=worker, claimed_at=now)
    )
    return rows(conn, digest, ids)


def rows(conn: Connection, digest: str, ids: Sequence[int]) -> list[Delivery]:
    found = conn.execute(
        select(ledger)
        .where(ledger.c.digest == digest, ledger.c.subscriber_id.in_(list(ids)))
        .order_by(ledger.c.subscriber_id)
    )
    return [
        Delivery(
            r.subscriber_id,
            r.digest,
            cast(DeliveryStatus, r.status),
            r.attempts,
            r.next_attempt_at,
            r.message_id,
            r.error,
        )
        for r in found
    ]


def _row(digest: str, subscriber_id: int, *status: DeliveryStatus) -> ColumnElement[bool]:
    return and_(
        ledger.c.digest == digest,
        ledger.c.subscriber_id == subscriber_id,
        ledger.c.status.in_(status),
    )


def mark_sending(
    conn: Connection, digest: str, subscriber_id: int, worker: str, message_id: str, now: datetime
) -> bool:
    """Record the intent to send; False when the row is no longer this worker's claim."""
    result = conn.execute(
        update(ledger)
        .where(_row(digest, subscriber_id, "claimed"), ledger.c.claimed_by == worker)
        .values(status="sending", message_id=message_id, claimed_at=now)
    )
    return bool(result.rowcount)


def mark_outcome(
    conn: Connection,
    digest: str,
    subscriber_id: int,
    status: DeliveryStatus,
    now: datetime,
    *,
    error: str | None = None,
    next_attempt_at: datetime | None = None,
    counted: bool = True,
) -> None:
    """Record what became of a claimed or sending row (``counted``: it was an attempt)."""
    values: dict[str, object] = {"status": status, "error": error, "claimed_by": None}
    if counted:
        values["attempts"] = ledger.c.attempts + 1
    if status == "sent":
        values["sent_at"] = now
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    conn.execute(
        update(ledger).where(_row(digest, subscriber_id, "claimed", "sending")).values(**values)
    )


def release_stale(conn: Connection, digest: str, older_than: datetime) -> tuple[int, int]:
    """Claims of senders that went away: ``claimed`` rows back to the queue (nothing was
    sent), ``sending`` rows to ``uncertain``. Returns (requeued, uncertain)."""
    requeued = conn.execute(
        update(ledger)
        .where(
            ledger.c.digest == digest,
            ledger.c.status == "claimed",
            ledger.c.claimed_at < older_than,
        )
        .values(status="queued", claimed_by=None)
    ).rowcount
    uncertain = conn.execute(
        update(ledger)
        .where(
            ledger.c.digest == digest,
            ledger.c.status == "sending",
            ledger.c.claimed_at < older_than,
        )
        .values(status="uncertain", claimed_by=None, error="the sender stopped while sending")
    ).rowcount
    return int(requeued), int(uncertain)


def requeue_uncertain(conn: Connection, digest: str, now: datetime) -> int:
    """Queue the ``uncertain`` rows again (an operator's decision: they may arrive twice)."""
    return int(
        conn.execute(
            update(ledger)
            .where(ledger.c.digest == digest, ledger.c.status == "uncertain")
            .values(status="queued", next_attempt_at=now)
        ).rowcount
    )


def counts(conn: Connection, digest: str) -> dict[str, int]:
    found = conn.execute(
        select(ledger.c.status, func.count())
        .where(ledger.c.digest == digest)
        .group_by(ledger.c.status)
    ).all()
    return {status: int(n) for status, n in found}


def next_due(conn: Connection, digest: str) -> datetime | None:
    """When the earliest open row of ``digest`` is due."""
    value = conn.execute(
        select(func.min(ledger.c.next_attempt_at)).where(
            ledger.c.digest == digest, ledger.c.status.in_(OPEN)
        )
    ).scalar()
    return cast(datetime | None, value)
