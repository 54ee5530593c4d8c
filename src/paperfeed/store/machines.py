"""The machines of a hub and their index positions (``index_machines``), and the record
of published index snapshots (``index_snapshots``), for ``paperfeed index status`` and
for machines joining the hub (#17).

Each machine writes its own row: the journal position each of its on-disk indexes
reflects and a heartbeat. Nothing here reads index files; :mod:`paperfeed.index.machines`
does and calls these functions.
"""

from __future__ import annotations

import hashlib
import os
import socket
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from paperfeed.store.tables.machines import index_machines, index_snapshots


def machine_id(setting: str, index_dir: str) -> str:
    """The machine's stable id: the setting, else the host name plus a digest of the
    index folder's absolute path (two folders on one host are two machines)."""
    if setting.strip():
        return setting.strip()[:128]
    folder = os.path.abspath(index_dir)
    digest = hashlib.sha256(folder.encode()).hexdigest()[:8]
    return f"{socket.gethostname()[:100]}-{digest}"


@dataclass(frozen=True, slots=True)
class Machine:
    """One machine's row."""

    machine_id: str
    host: str
    index_dir: str
    positions: dict[str, Any]
    state: str
    note: str | None
    started_at: datetime
    heartbeat_at: datetime


def record_machine(
    conn: Connection,
    *,
    machine: str,
    index_dir: str,
    positions: dict[str, Any],
    state: str,
    note: str | None,
    now: datetime,
) -> None:
    """Insert or update this machine's row (its positions, state and heartbeat)."""
    values = {
        "host": socket.gethostname()[:255],
        "index_dir": os.path.abspath(index_dir),
        "positions": positions,
        "state": state,
        "note": note,
        "heartbeat_at": now,
    }
    found = conn.execute(
        update(index_machines).where(index_machines.c.machine_id == machine).values(**values)
    ).rowcount
    if not found:
        conn.execute(insert(index_machines).values(machine_id=machine, started_at=now, **values))


def list_machines(conn: Connection) -> list[Machine]:
    """Every machine's row, by id."""
    rows = conn.execute(select(index_machines).order_by(index_machines.c.machine_id)).all()
    return [
        Machine(
            machine_id=r.machine_id,
            host=r.host,
            index_dir=r.index_dir,
            positions=dict(r.positions or {}),
            state=r.state,
            note=r.note,
            started_at=r.started_at,
            heartbeat_at=r.heartbeat_at,
        )
        for r in rows
    ]


def forget_machine(conn: Connection, machine: str) -> bool:
    """Delete a machine's row (one that left the hub); whether it existed."""
    return bool(
        conn.execute(delete(index_machines).where(index_machines.c.machine_id == machine)).rowcount
    )


# --- the snapshot record ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SnapshotRecord:
    """One published snapshot, whichever store holds its files."""

    id: int
    store: str
    name: str
    machine_id: str
    created_at: datetime
    manifest: dict[str, Any]
    total_bytes: int
    complete: bool


def _record(row: Any) -> SnapshotRecord:
    return SnapshotRecord(
        id=int(row.id),
        store=row.store,
        name=row.name,
        machine_id=row.machine_id,
        created_at=row.created_at,
        manifest=dict(row.manifest or {}),
        total_bytes=int(row.total_bytes),
        complete=bool(row.complete),
    )


def start_snapshot(
    conn: Connection,
    *,
    store: str,
    name: str,
    machine: str,
    manifest: dict[str, Any],
    now: datetime,
) -> int:
    """Record a snapshot being written (not complete: no reader picks it); its id."""
    result = conn.execute(
        insert(index_snapshots).values(
            store=store,
            name=name,
            machine_id=machine,
            created_at=now,
            manifest=manifest,
            total_bytes=int(manifest.get("total_bytes", 0)),
            complete=0,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def complete_snapshot(conn: Connection, snapshot_id: int, manifest: dict[str, Any]) -> None:
    """Mark a snapshot complete, with its final manifest."""
    conn.execute(
        update(index_snapshots)
        .where(index_snapshots.c.id == snapshot_id)
        .values(complete=1, manifest=manifest, total_bytes=int(manifest.get("total_bytes", 0)))
    )


def snapshots(conn: Connection, *, store: str | None = None) -> list[SnapshotRecord]:
    """Every recorded snapshot (of one store, or all), newest first."""
    query = select(index_snapshots).order_by(
        index_snapshots.c.created_at.desc(), index_snapshots.c.id.desc()
    )
    if store is not None:
        query = query.where(index_snapshots.c.store == store)
    return [_record(r) for r in conn.execute(query).all()]


def newest_complete(conn: Connection, *, store: str | None = None) -> SnapshotRecord | None:
    """The newest complete snapshot (of one store, or any), or None."""
    return next((s for s in snapshots(conn, store=store) if s.complete), None)


def delete_snapshot(conn: Connection, snapshot_id: int) -> None:
    """Delete a snapshot's record (and, by cascade, its chunks)."""
    from paperfeed.store.snapshot_chunks import delete_chunks

    delete_chunks(conn, snapshot_id)
    conn.execute(delete(index_snapshots).where(index_snapshots.c.id == snapshot_id))
