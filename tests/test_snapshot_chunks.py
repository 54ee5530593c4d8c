"""The bytes of database-stored index snapshots (#17): stored as written on both databases,
and on PostgreSQL without pglz compression (migration 0014 sets the column's storage to
EXTERNAL): the files are mostly compressed already, so compressing each chunk again cost
the publisher CPU for little or nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text

from paperfeed.store import machines, snapshot_chunks
from paperfeed.store.engine import writing
from paperfeed.store.migrate import current_revision, head_revision, migrate

T = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)
#: A chunk pglz shrinks well (the default EXTENDED storage compresses it).
COMPRESSIBLE = b"paperfeed index snapshot " * 40_000


def _downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    from paperfeed.store.migrate import _config

    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def _write(engine: Engine, name: str, data: bytes) -> int:
    with writing(engine) as conn:
        sid = machines.start_snapshot(
            conn, store="database", name=name, machine="a", manifest={}, now=T
        )
        snapshot_chunks.write_chunk(conn, sid, "words/segment", 0, data)
    return sid


def _read(engine: Engine, sid: int) -> bytes:
    with engine.connect() as conn:
        return b"".join(snapshot_chunks.read_chunks(conn, sid, "words/segment"))


def test_chunks_read_back_as_written_across_the_migration(engine: Engine) -> None:
    """On SQLite 0014 changes nothing; on either database a chunk written before it reads
    back the same after it, and so does one written after."""
    _downgrade(engine, "0013")
    before = _write(engine, "before", COMPRESSIBLE)
    migrate(engine, "0014")
    after = _write(engine, "after", COMPRESSIBLE)
    assert current_revision(engine) == head_revision()
    assert _read(engine, before) == COMPRESSIBLE and _read(engine, after) == COMPRESSIBLE


@pytest.mark.postgres_only
def test_postgresql_keeps_chunks_uncompressed(engine: Engine) -> None:
    def storage() -> str:
        with engine.connect() as conn:
            return str(
                conn.execute(
                    text(
                        "SELECT attstorage FROM pg_attribute"
                        " WHERE attrelid = 'index_snapshot_chunks'::regclass"
                        " AND attname = 'data'"
                    )
                ).scalar_one()
            )

    def compression(sid: int) -> str | None:
        with engine.connect() as conn:
            found = conn.execute(
                text(
                    "SELECT pg_column_compression(data) FROM index_snapshot_chunks"
                    " WHERE snapshot_id = :sid"
                ),
                {"sid": sid},
            ).scalar_one()
        return None if found is None else str(found)

    assert storage() == "e"  # EXTERNAL: out of line, never compressed
    stored = _write(engine, "now", COMPRESSIBLE)
    assert compression(stored) is None
    assert _read(engine, stored) == COMPRESSIBLE
    _downgrade(engine, "0013")
    assert storage() == "x"  # EXTENDED, PostgreSQL's default for bytea
    assert compression(_write(engine, "then", COMPRESSIBLE)) is not None  # pglz, by default
    migrate(engine, "0014")
    assert storage() == "e"
