"""The immutable view of an in-memory vector index that one search reads.

A :class:`Snapshot` holds the float32 matrix rows in use, row→id and id→row; it is
never mutated once published. :func:`with_vectors` and :func:`without` make the
next snapshot from the current one (pure functions: the caller holds the lock and
publishes). New vectors go to spare rows of the matrix, which no published
snapshot reads; replaced and removed papers only mark their rows dead, so a search
never sees a half-made change. :func:`compacted` drops the dead rows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

EMPTY_IDS = np.empty(0, dtype=np.int64)


def headroom(n: int) -> int:
    """Spare rows allocated past ``n``: virtual memory only until vectors are added."""
    return max(4_096, n // 4)


def in_sorted(values: np.ndarray, sorted_array: np.ndarray) -> np.ndarray:
    """Membership of each value in a sorted array."""
    if len(sorted_array) == 0:
        return np.zeros(len(values), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_array, values), len(sorted_array) - 1)
    return np.asarray(sorted_array[pos] == values)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What one search reads; never mutated once published (see the module docstring)."""

    matrix: np.ndarray  # backing (capacity, dim) float32; rows >= n are spare
    n: int  # rows in use
    row_ids: np.ndarray  # (n,) paper id of each row, -1 once replaced or removed
    dead_rows: np.ndarray  # ascending rows whose row_ids are -1
    sorted_ids: np.ndarray  # live paper ids, ascending
    sorted_rows: np.ndarray  # their rows
    graph_rows: int  # rows [0, graph_rows) are in the graph; the rest are scanned exactly

    def rows_of(self, ids: np.ndarray) -> np.ndarray:
        """Row of each paper id, -1 when absent."""
        if len(self.sorted_ids) == 0:
            return np.full(len(ids), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.sorted_ids, ids), len(self.sorted_ids) - 1)
        return np.where(self.sorted_ids[pos] == ids, self.sorted_rows[pos], -1)


def make_snapshot(ids: np.ndarray, backing: np.ndarray, n: int, graph_rows: int) -> Snapshot:
    """The snapshot of ``n`` live rows whose ids are ``ids`` (ascending)."""
    rows = np.arange(n, dtype=np.int64)
    return Snapshot(backing, n, ids.copy(), EMPTY_IDS, ids.copy(), rows, graph_rows)


def with_vectors(snap: Snapshot, id_array: np.ndarray, rows: np.ndarray, dim: int) -> Snapshot:
    """``snap`` with these papers added, or their vectors replaced (same id).

    ``id_array`` and ``rows`` are a checked batch (see
    :func:`~paperfeed.index.vectors.table.as_batch`) of ``dim``-dimensional vectors.
    """
    n, m = snap.n, len(id_array)
    backing = snap.matrix
    if n + m > backing.shape[0]:
        backing = np.empty((n + m + headroom(n + m), dim), dtype=np.float32)
        backing[:n] = snap.matrix[:n]
    backing[n : n + m] = rows  # spare rows: no published snapshot reads them
    old = snap.rows_of(id_array)
    replaced = old[old >= 0]
    row_ids = np.concatenate([snap.row_ids, id_array])
    row_ids[replaced] = -1
    order = np.argsort(id_array, kind="stable")
    new_ids, new_rows = id_array[order], np.arange(n, n + m, dtype=np.int64)[order]
    keep = ~in_sorted(snap.sorted_ids, new_ids)
    kept_ids, kept_rows = snap.sorted_ids[keep], snap.sorted_rows[keep]
    at = np.searchsorted(kept_ids, new_ids)
    return Snapshot(
        backing,
        n + m,
        row_ids,
        np.union1d(snap.dead_rows, replaced),
        np.insert(kept_ids, at, new_ids),
        np.insert(kept_rows, at, new_rows),
        snap.graph_rows,
    )


def without(snap: Snapshot, id_array: np.ndarray) -> Snapshot | None:
    """``snap`` without these papers (ascending, unique ids); None when it holds none of them."""
    present = in_sorted(snap.sorted_ids, id_array)
    if not present.any():
        return None
    rows = snap.sorted_rows[present]
    row_ids = snap.row_ids.copy()
    row_ids[rows] = -1
    return replace(
        snap,
        row_ids=row_ids,
        dead_rows=np.union1d(snap.dead_rows, rows),
        sorted_ids=snap.sorted_ids[~present],
        sorted_rows=snap.sorted_rows[~present],
    )


def compacted(snap: Snapshot, dim: int) -> Snapshot:
    """The same papers in a new matrix without dead rows, row order kept."""
    live = snap.row_ids >= 0
    n = int(live.sum())
    backing = np.empty((n + headroom(n), dim), dtype=np.float32)
    np.compress(live, snap.matrix[: snap.n], axis=0, out=backing[:n])
    new_row = np.cumsum(live) - 1
    return Snapshot(
        backing,
        n,
        snap.row_ids[live],
        EMPTY_IDS,
        snap.sorted_ids,
        new_row[snap.sorted_rows],
        int(live[: snap.graph_rows].sum()),
    )
