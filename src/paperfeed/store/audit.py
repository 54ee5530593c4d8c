"""The audit log of moderators' and admins' actions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select

from paperfeed.store.tables.community import audit_log, users


@dataclass(frozen=True)
class AuditEntry:
    id: int
    actor: str | None
    action: str
    target_type: str
    target_id: int
    detail: str
    at: datetime


def record(
    conn: Connection,
    *,
    actor_id: int | None,
    action: str,
    target_type: str,
    target_id: int,
    detail: str = "",
    now: datetime,
) -> None:
    conn.execute(
        insert(audit_log).values(
            actor_id=actor_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            detail=detail,
            at=now,
        )
    )


def recent(conn: Connection, *, limit: int = 100) -> list[AuditEntry]:
    rows = conn.execute(
        select(audit_log, users.c.username)
        .select_from(audit_log.outerjoin(users, users.c.id == audit_log.c.actor_id))
        .order_by(audit_log.c.id.desc())
        .limit(limit)
    ).all()
    return [
        AuditEntry(r.id, r.username, r.action, r.target_type, r.target_id, r.detail, r.at)
        for r in rows
    ]
