"""Change journals in ``index_state``: which papers changed at each version of an index.

An index that lives outside the database (the in-memory vector index, the tantivy word
index on disk) catches up with the database by reading one journal: a version counter
and the ids changed at each recent version, compressed into ``[first, last]`` runs::

    {"version": 42, "since": 17, "entries": [[18, [[1, 1000]]], ..., [42, [[5, 5], [9, 12]]]]}

:func:`append` bumps the version in the caller's transaction, the same one that
changed the papers, so a reader that saw version *v* learns exactly which ids changed
after *v* with one primary-key read. Old entries are dropped once the journal holds more
than :data:`JOURNAL_MAX_RUNS` runs; ``since`` then says which readers are too far
behind and must compare everything instead (:func:`reset` forces that on everyone).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from paperfeed.store.tables.papers import index_state

#: Most ``[first, last]`` runs kept in one journal (a few hundred KB of JSON).
JOURNAL_MAX_RUNS = 10_000


@dataclass(frozen=True, slots=True)
class Journal:
    """A journal as read: see the module docstring."""

    version: int
    since: int
    entries: tuple[tuple[int, tuple[tuple[int, int], ...]], ...]

    def changed_after(self, version: int) -> np.ndarray | None:
        """Ids changed after ``version`` (sorted, unique), or None when the journal no
        longer reaches back that far (the reader must compare everything)."""
        if version < self.since or version > self.version:
            return None
        runs = [run for v, entry in self.entries if v > version for run in entry]
        if not runs:
            return np.empty(0, np.int64)
        parts = [np.arange(first, last + 1, dtype=np.int64) for first, last in runs]
        return np.unique(np.concatenate(parts))


EMPTY = Journal(version=0, since=0, entries=())


def insert_if_absent(conn: Connection, name: str, value: Any) -> None:
    """INSERT the ``index_state`` row unless one with this name exists (race-free on both
    databases)."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(index_state).on_conflict_do_nothing(
            index_elements=[index_state.c.name]
        )
    elif dialect == "sqlite":
        stmt = sqlite.insert(index_state).on_conflict_do_nothing(index_elements=["name"])
    else:  # pragma: no cover - make_engine accepts only these two
        stmt = insert(index_state)
    conn.execute(stmt.values(name=name, value=value))


def put_state(conn: Connection, name: str, value: Any) -> None:
    """Set an ``index_state`` row, creating it if needed."""
    insert_if_absent(conn, name, value)
    conn.execute(update(index_state).where(index_state.c.name == name).values(value=value))


def read_state(conn: Connection, name: str) -> Any:
    """An ``index_state`` row's value, or None."""
    return conn.execute(
        select(index_state.c.value).where(index_state.c.name == name)
    ).scalar_one_or_none()


def read(conn: Connection, name: str) -> Journal:
    """The journal (one primary-key read); an empty one if never written."""
    value = read_state(conn, name)
    if not isinstance(value, dict):
        return EMPTY
    entries = tuple(
        (int(v), tuple((int(a), int(b)) for a, b in runs)) for v, runs in value["entries"]
    )
    return Journal(version=int(value["version"]), since=int(value["since"]), entries=entries)


def read_version(conn: Connection, name: str) -> int:
    """Only the journal's version: what a reader checks on every query (no JSON parsed in
    Python beyond one number)."""
    version = conn.execute(
        select(index_state.c.value["version"].as_integer()).where(index_state.c.name == name)
    ).scalar_one_or_none()
    return int(version or 0)


def read_versions(conn: Connection, names: Sequence[str]) -> dict[str, int]:
    """The versions of several journals in one statement (0 for one never written): what
    a search reads once for both of its indexes, instead of one read per index."""
    if not names:
        return {}
    found = conn.execute(
        select(index_state.c.name, index_state.c.value["version"].as_integer()).where(
            index_state.c.name.in_(list(names))
        )
    ).all()
    versions = dict.fromkeys(names, 0)
    versions.update((str(name), int(version or 0)) for name, version in found)
    return versions


def _locked(conn: Connection, name: str) -> dict[str, Any]:
    """The journal's JSON, row-locked until the transaction ends (PostgreSQL ``FOR UPDATE``;
    SQLite's write transaction already holds the database lock)."""
    insert_if_absent(conn, name, {"version": 0, "since": 0, "entries": []})
    value = conn.execute(
        select(index_state.c.value).where(index_state.c.name == name).with_for_update()
    ).scalar_one()
    return dict(value)


def runs_of(ids: Iterable[int]) -> list[list[int]]:
    """Sorted unique ids as ``[first, last]`` runs of consecutive values."""
    runs: list[list[int]] = []
    for pid in sorted(set(ids)):
        if runs and runs[-1][1] == pid - 1:
            runs[-1][1] = pid
        else:
            runs.append([pid, pid])
    return runs


def append(conn: Connection, name: str, ids: Sequence[int]) -> int:
    """Record that ``ids`` changed, in the caller's transaction; returns the new version."""
    state = _locked(conn, name)
    version = int(state["version"]) + 1
    entries: list[Any] = [*state["entries"], [version, runs_of(ids)]]
    since = int(state["since"])
    total = sum(len(runs) for _v, runs in entries)
    while total > JOURNAL_MAX_RUNS and entries:
        dropped_version, dropped = entries.pop(0)
        total -= len(dropped)
        since = int(dropped_version)
    value = {"version": version, "since": since, "entries": entries}
    conn.execute(update(index_state).where(index_state.c.name == name).values(value=value))
    return version


def reset(conn: Connection, name: str) -> int:
    """Mark everything changed: readers behind the new version compare everything."""
    state = _locked(conn, name)
    version = int(state["version"]) + 1
    value = {"version": version, "since": version, "entries": []}
    conn.execute(update(index_state).where(index_state.c.name == name).values(value=value))
    return version
