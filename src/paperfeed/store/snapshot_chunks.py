"""The bytes of index snapshots kept in the database (``index_snapshot_chunks``), for hubs
whose machines share no folder: each file in chunks of :data:`CHUNK_BYTES` (a bytea on
PostgreSQL, a BLOB on SQLite), written one transaction per few chunks and read back in
order. The snapshot's row in ``index_snapshots`` turns complete only after the last chunk
(:mod:`paperfeed.store.machines`), so a reader never sees a half-written file.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Connection, delete, func, insert, select

from paperfeed.store.tables.machines import index_snapshot_chunks

#: Bytes per stored chunk: large enough that a GB is a few hundred rows, small enough that
#: one row never strains a driver's buffers.
CHUNK_BYTES = 8 * 1024 * 1024


def write_chunk(conn: Connection, snapshot_id: int, path: str, seq: int, data: bytes) -> None:
    """Store one chunk of one file."""
    conn.execute(
        insert(index_snapshot_chunks).values(snapshot_id=snapshot_id, path=path, seq=seq, data=data)
    )


def chunk_count(conn: Connection, snapshot_id: int, path: str) -> int:
    """How many chunks of a file are stored."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(index_snapshot_chunks)
            .where(
                index_snapshot_chunks.c.snapshot_id == snapshot_id,
                index_snapshot_chunks.c.path == path,
            )
        ).scalar_one()
    )


def read_chunks(conn: Connection, snapshot_id: int, path: str) -> Iterator[bytes]:
    """A file's chunks in order, one row at a time (never the whole file in memory)."""
    seq = 0
    while True:
        data = conn.execute(
            select(index_snapshot_chunks.c.data).where(
                index_snapshot_chunks.c.snapshot_id == snapshot_id,
                index_snapshot_chunks.c.path == path,
                index_snapshot_chunks.c.seq == seq,
            )
        ).scalar_one_or_none()
        if data is None:
            return
        yield bytes(data)
        seq += 1


def delete_chunks(conn: Connection, snapshot_id: int) -> None:
    """Delete a snapshot's chunks (SQLite enforces no cascade unless asked)."""
    conn.execute(
        delete(index_snapshot_chunks).where(index_snapshot_chunks.c.snapshot_id == snapshot_id)
    )
