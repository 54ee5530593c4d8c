"""A marker of committed changes: a value that differs whenever anything has been
committed to the database since it was last read, by any connection of any process.

Caches of what the database holds key their entries by it (``deliver.response_cache``),
so they need no list of the writers that should invalidate them: ingestion, votes,
anything to come. A marker may change when nothing visible did (a checkpoint, another
table); it never stays the same across a commit.

- SQLite: ``PRAGMA data_version`` on a connection of the marker's own that never
  writes. SQLite changes it when another connection (any process) commits; reading it
  touches only the shared WAL index, about 2 µs.
- PostgreSQL: the server's current snapshot (``pg_current_snapshot()``: the oldest
  transaction still running, the next transaction id, the ones in progress). It changes
  exactly when a writing transaction starts or its end becomes visible to readers, any
  database of the server (other servers' work only costs a cache miss). Not the
  write-ahead log position: with ``synchronous_commit = off`` that moves only when the
  WAL writer flushes, after the commit is visible, and with it on it moves before the
  commit is visible, so a render in between would be kept under the newer marker. It
  takes a round trip, so callers read it off the event loop (``inline`` is false).
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Protocol

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError


class ChangeMarker(Protocol):
    #: Cheap enough to read on an event loop (no network round trip).
    inline: bool

    def read(self) -> object:
        """The current marker; equal to an earlier read only if nothing was committed."""
        ...

    def close(self) -> None: ...


class SqliteDataVersion:
    inline = True

    def __init__(self, path: str) -> None:
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()

    def read(self) -> object:
        try:
            with self._lock:
                return self._conn.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error:
            return object()  # unknown: a value equal to nothing, so nothing stale is used

    def close(self) -> None:
        self._conn.close()


class PostgresSnapshot:
    inline = False
    _QUERY = "SELECT pg_current_snapshot()::text"

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def read(self) -> object:
        try:
            with self._engine.connect() as conn:
                return conn.exec_driver_sql(self._QUERY).scalar()
        except SQLAlchemyError:
            return object()

    def close(self) -> None:
        pass


def change_marker(engine: Engine) -> ChangeMarker | None:
    """The marker for ``engine``'s database; None for an in-memory SQLite database
    (each connection of which is a database of its own)."""
    if engine.dialect.name == "postgresql":
        return PostgresSnapshot(engine)
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return SqliteDataVersion(database)
