"""Paper embeddings: stored in the database, searched from memory.

The database is the truth (``paper_embeddings``, see :mod:`.vector_table`, whose
functions are re-exported here); :class:`VectorIndex` holds one model's vectors
in a float32 matrix and answers nearest-neighbour queries by cosine similarity
(vectors are unit length, so a dot product). Up to ``exact_max`` papers it scans
the whole matrix (one matrix-vector product: about 5 ms per 100 k papers, bound by
memory bandwidth, so one BLAS thread is as fast as two and steadier under load);
above, an HNSW graph (:mod:`.hnsw`) proposes candidates that are re-scored
exactly (under 1 ms at a million papers).

Concurrency: searches take no lock. They read one immutable :class:`_Snapshot`
(the matrix rows in use, row→id, id→row), which mutations replace whole under
a lock. New vectors are appended to spare rows of the matrix, which no published
snapshot reads; replaced and removed papers only mark their rows dead, so a
search never sees a half-made change.

HNSW and change: the graph is not rebuilt while serving. Papers added after it
was built form an exact-scanned tail (cheap: 3 k papers a day is 0.1 ms a
query); :meth:`VectorIndex.compact` folds the tail into the graph, and every
:meth:`VectorIndex.load` folds it in by repairing the cached graph.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sqlalchemy import Connection, Engine

from paperfeed.index.hnsw import DEFAULT_PARAMS, Graph, HnswParams, Origin, open_graph
from paperfeed.index.vector_table import (
    MODEL_KEY,
    as_batch,
    collect_vectors,
    count_model,
    count_vectors,
    decode,
    delete_vectors,
    encode,
    fetch_vectors,
    iter_vectors,
    load_vectors,
    missing_ids,
    read_journal,
    read_journal_version,
    record_model,
    recorded_model,
    store_vectors,
    stored_ids,
)

__all__ = [
    "MODEL_KEY",
    "VectorIndex",
    "count_vectors",
    "decode",
    "delete_vectors",
    "encode",
    "load_vectors",
    "missing_ids",
    "record_model",
    "recorded_model",
    "store_vectors",
]

#: Graph candidates re-scored per query: max(RESCORE_FACTOR * k, RESCORE_MIN).
RESCORE_FACTOR = 4
RESCORE_MIN = 64
#: Largest candidate count asked of the graph under a filter; a filter so narrow that
#: more would be needed is answered exactly over the allowed papers instead.
MAX_GRAPH_COUNT = 2_048
#: Dead rows (replaced or removed papers) tolerated before the matrix is compacted.
COMPACT_FRACTION = 0.10
_COMPACT_MIN = 4_096
#: A refresh that must look at more ids than this (and a third of the index) streams
#: every vector instead of asking for each id.
_STREAM_OVER = 50_000
#: Rows folded into the graph per lock hold in :meth:`VectorIndex.compact`.
_FOLD_SLICE = 256

_EMPTY_IDS = np.empty(0, dtype=np.int64)


def _headroom(n: int) -> int:
    """Spare rows allocated past ``n``: virtual memory only until vectors are added."""
    return max(4_096, n // 4)


def _in_sorted(values: np.ndarray, sorted_array: np.ndarray) -> np.ndarray:
    """Membership of each value in a sorted array."""
    if len(sorted_array) == 0:
        return np.zeros(len(values), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_array, values), len(sorted_array) - 1)
    return np.asarray(sorted_array[pos] == values)


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` largest finite scores, best first."""
    if k < len(scores):
        part = np.argpartition(scores, len(scores) - k)[len(scores) - k :]
    else:
        part = np.arange(len(scores))
    best = part[np.argsort(-scores[part], kind="stable")]
    finite: np.ndarray = best[np.isfinite(scores[best])]
    return finite


@dataclass(frozen=True, slots=True)
class _Snapshot:
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


def _snapshot(ids: np.ndarray, backing: np.ndarray, n: int, graph_rows: int) -> _Snapshot:
    """The snapshot of ``n`` live rows whose ids are ``ids`` (ascending)."""
    rows = np.arange(n, dtype=np.int64)
    return _Snapshot(backing, n, ids.copy(), _EMPTY_IDS, ids.copy(), rows, graph_rows)


class VectorIndex:
    """All vectors of one model, in memory; exact (NumPy) search up to ``exact_max``, an HNSW
    graph (usearch) above, chosen automatically when the index is made."""

    #: Seconds between two row-count checks in :meth:`refresh` (they catch papers
    #: deleted directly, which bypass the change journal); None never checks.
    reconcile_seconds: float | None = 60.0

    def __init__(
        self,
        model: str,
        dim: int,
        snapshot: _Snapshot,
        graph: Graph | None,
        *,
        origin: Origin | None = None,
        version: int | None = None,
    ) -> None:
        self.model = model
        self.dim = dim
        self._snap = snapshot
        self._graph = graph
        self._origin: Origin | None = origin
        self._version = version
        self._reconciled_at = time.monotonic()
        self._lock = threading.RLock()
        self._local = threading.local()

    # --- construction -------------------------------------------------------------------------

    @classmethod
    def _create(
        cls,
        model: str,
        ids: np.ndarray,
        backing: np.ndarray,
        n: int,
        *,
        dim: int,
        exact_max: int,
        cache_dir: Path | None,
        version: int | None,
        params: HnswParams,
    ) -> VectorIndex:
        graph: Graph | None = None
        origin: Origin | None = None
        if n > exact_max:
            graph, origin = open_graph(
                ids, backing[:n], cache_dir=cache_dir, model=model, params=params
            )
        snapshot = _snapshot(ids, backing, n, n if graph is not None else 0)
        return cls(model, dim, snapshot, graph, origin=origin, version=version)

    @classmethod
    def from_matrix(
        cls,
        model: str,
        ids: Sequence[int] | np.ndarray,
        matrix: np.ndarray,
        *,
        exact_max: int,
        cache_dir: Path | None = None,
        params: HnswParams = DEFAULT_PARAMS,
    ) -> VectorIndex:
        """An index over these vectors (copied), not tied to a database until :meth:`refresh`."""
        id_array, rows = as_batch(ids, matrix)
        order = np.argsort(id_array, kind="stable")
        n, dim = rows.shape
        backing = np.empty((n + _headroom(n), dim), dtype=np.float32)
        np.take(rows, order, axis=0, out=backing[:n])
        return cls._create(
            model,
            id_array[order],
            backing,
            n,
            dim=dim,
            exact_max=exact_max,
            cache_dir=cache_dir,
            version=None,
            params=params,
        )

    @classmethod
    def load(
        cls,
        engine: Engine,
        model: str,
        *,
        exact_max: int,
        cache_dir: Path | None,
        params: HnswParams = DEFAULT_PARAMS,
    ) -> VectorIndex:
        """Every vector of ``model`` from the database, streamed into one matrix.

        Above ``exact_max`` papers an HNSW graph is needed. ``cache_dir`` holds one
        per (model, dimension, graph parameters), with the ids and a fingerprint of
        each vector it was made from: identical data reuses it; a few changed papers
        (at most 10 %, or 1,000) are removed and re-added, seconds of work; anything
        more rebuilds it (about 6.5 minutes at a million papers on 2 cores) and
        saves it there. Without ``cache_dir`` the graph is always built.
        """
        with engine.connect() as conn:
            # The journal version is read first: whatever changes after it is
            # picked up again by the next refresh (re-applying is harmless).
            version = read_journal(conn, model).version
            expected = count_model(conn, model)
            ids, backing = collect_vectors(
                iter_vectors(conn, model), expected, headroom=_headroom(expected)
            )
            dim = backing.shape[1] or _recorded_dim(conn, model)
        if backing.shape[1] == 0:
            backing = np.empty((_headroom(0), dim), dtype=np.float32)
        return cls._create(
            model,
            ids,
            backing,
            len(ids),
            dim=dim,
            exact_max=exact_max,
            cache_dir=cache_dir,
            version=version,
            params=params,
        )

    # --- facts --------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """How many papers have a vector here."""
        return len(self._snap.sorted_ids)

    @property
    def kind(self) -> str:
        """``"exact"`` or ``"hnsw"``: fixed when the index is made."""
        return "hnsw" if self._graph is not None else "exact"

    @property
    def origin(self) -> Origin | None:
        """Where the HNSW graph came from: ``built``, ``cache`` or ``repaired`` (None if exact)."""
        return self._origin

    @property
    def pending(self) -> int:
        """Papers added since the graph was made, scanned exactly until :meth:`compact`."""
        snap = self._snap
        if self._graph is None:
            return 0
        return int(np.count_nonzero(snap.row_ids[snap.graph_rows :] >= 0))

    def vector_of(self, paper_id: int) -> np.ndarray | None:
        """A copy of the paper's vector, or None."""
        snap = self._snap
        row = int(snap.rows_of(np.array([paper_id], dtype=np.int64))[0])
        return None if row < 0 else snap.matrix[row].copy()

    # --- search -------------------------------------------------------------------------------

    def search(
        self,
        query: np.ndarray,
        k: int,
        *,
        allowed: np.ndarray | None = None,
        exclude: Collection[int] = (),
    ) -> list[tuple[int, float]]:
        """The ``k`` papers most similar to ``query``: (paper id, cosine), best first.

        ``allowed`` restricts the answer to these paper ids; ``exclude`` removes some
        (the paper itself, for "similar papers"). Fewer than ``k`` come back when
        fewer papers qualify. Ties are broken by ascending id.
        """
        snap = self._snap
        if k <= 0 or len(snap.sorted_ids) == 0:
            return []
        q = self._unit_query(query)
        if q is None:
            return []
        excluded = (
            np.unique(np.fromiter(exclude, dtype=np.int64, count=len(exclude)))
            if exclude
            else _EMPTY_IDS
        )
        graph = self._graph if snap.graph_rows > 0 else None
        if allowed is not None:
            allow = np.unique(np.asarray(allowed, dtype=np.int64).reshape(-1))
            if len(excluded):
                allow = allow[~_in_sorted(allow, excluded)]
            if graph is not None and not self._filter_too_narrow(len(allow), k, snap.graph_rows):
                found = self._graph_rows(snap, graph, q, k, excluded, allow)
                if found is not None:
                    tail_ids = snap.row_ids[snap.graph_rows : snap.n]
                    wanted = (tail_ids >= 0) & _in_sorted(tail_ids, allow)
                    tail = np.flatnonzero(wanted) + snap.graph_rows
                    return self._merge(snap, q, k, [found, tail])
            rows = snap.rows_of(allow)
            return self._merge(snap, q, k, [rows[rows >= 0]])
        parts = [self._scan(snap, q, k, excluded, start=snap.graph_rows)]
        if graph is not None:
            found = self._graph_rows(snap, graph, q, k, excluded, None)
            parts.append(found if found is not None else self._scan(snap, q, k, excluded, 0))
        return self._merge(snap, q, k, parts)

    def _unit_query(self, query: np.ndarray) -> np.ndarray | None:
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        if q.shape[0] != self.dim:
            raise ValueError(f"the query has {q.shape[0]} dimensions, the index {self.dim}")
        norm = float(np.linalg.norm(q))
        if not math.isfinite(norm) or norm == 0.0:
            return None
        return np.ascontiguousarray(q / norm, dtype=np.float32)

    def _scores_buffer(self, n: int) -> np.ndarray:
        """A per-thread scratch array for one matrix-vector product (no allocation per query)."""
        buf: np.ndarray | None = getattr(self._local, "buf", None)
        if buf is None or len(buf) < n:
            buf = np.empty(max(n, 1024) + n // 4, dtype=np.float32)
            self._local.buf = buf
        return buf[:n]

    def _scan(
        self, snap: _Snapshot, q: np.ndarray, k: int, excluded: np.ndarray, start: int
    ) -> np.ndarray:
        """Rows of the best ``k`` live, non-excluded papers among rows [start, n), exactly."""
        if start >= snap.n:
            return _EMPTY_IDS
        scores = self._scores_buffer(snap.n - start)
        np.dot(snap.matrix[start : snap.n], q, out=scores)
        dead = snap.dead_rows[np.searchsorted(snap.dead_rows, start) :]
        scores[dead - start] = -np.inf
        if len(excluded):
            rows = snap.rows_of(excluded)
            scores[rows[rows >= start] - start] = -np.inf
        return _top(scores, k) + start

    @staticmethod
    def _pool(k: int) -> int:
        return max(RESCORE_FACTOR * k, RESCORE_MIN)

    def _filter_too_narrow(self, allowed: int, k: int, graph_rows: int) -> bool:
        """Whether the graph would need more than MAX_GRAPH_COUNT candidates to find k of
        ``allowed`` papers (then scoring just the allowed rows is cheaper)."""
        if allowed == 0:
            return True
        return self._pool(k) * graph_rows / allowed > MAX_GRAPH_COUNT

    def _graph_rows(
        self,
        snap: _Snapshot,
        graph: Graph,
        q: np.ndarray,
        k: int,
        excluded: np.ndarray,
        allow: np.ndarray | None,
    ) -> np.ndarray | None:
        """Rows of the graph's candidates that this snapshot allows; None when too few
        survive the filters even at MAX_GRAPH_COUNT candidates."""
        pool = self._pool(k)
        count = pool if allow is None else math.ceil(pool * snap.graph_rows / max(len(allow), 1))
        count = min(max(count, k), MAX_GRAPH_COUNT)
        while True:
            ids = graph.search(q, count)
            keep = np.ones(len(ids), dtype=bool)
            if len(excluded):
                keep &= ~_in_sorted(ids, excluded)
            if allow is not None:
                keep &= _in_sorted(ids, allow)
            rows = snap.rows_of(ids[keep])
            rows = rows[rows >= 0]
            if len(rows) >= min(k, self.size) or len(ids) < count:
                return rows
            if count >= MAX_GRAPH_COUNT:
                return None
            count = min(count * 4, MAX_GRAPH_COUNT)

    def _merge(
        self, snap: _Snapshot, q: np.ndarray, k: int, parts: list[np.ndarray]
    ) -> list[tuple[int, float]]:
        """Score candidate rows exactly and keep the best ``k`` distinct papers."""
        # Distinct rows: the graph and the exact tail can both propose a replaced paper.
        rows = np.unique(np.concatenate(parts)) if len(parts) > 1 else parts[0]
        if len(rows) == 0:
            return []
        if len(rows) * 3 < snap.n:
            scores = snap.matrix[rows] @ q
        else:
            full = self._scores_buffer(snap.n)
            np.dot(snap.matrix[: snap.n], q, out=full)
            scores = full[rows]
        best = _top(scores, min(k, len(rows)))
        ids = snap.row_ids[rows[best]]
        ordered = np.lexsort((ids, -scores[best]))
        return [(int(ids[i]), float(scores[best][i])) for i in ordered]

    # --- changes ------------------------------------------------------------------------------

    def add(self, ids: Sequence[int] | np.ndarray, matrix: np.ndarray) -> None:
        """Add new papers or replace the vectors of known ones (same id)."""
        id_array, rows = as_batch(ids, matrix)
        if len(id_array) == 0:
            return
        with self._lock:
            if self.dim == 0 and self._snap.n == 0:  # an empty index takes the first dimension
                self.dim = rows.shape[1]
                self._snap = _snapshot(_EMPTY_IDS, np.empty((0, self.dim), np.float32), 0, 0)
            if rows.shape[1] != self.dim:
                raise ValueError(f"vectors have {rows.shape[1]} dimensions, the index {self.dim}")
            snap = self._snap
            n, m = snap.n, len(id_array)
            backing = snap.matrix
            if n + m > backing.shape[0]:
                backing = np.empty((n + m + _headroom(n + m), self.dim), dtype=np.float32)
                backing[:n] = snap.matrix[:n]
            backing[n : n + m] = rows  # spare rows: no published snapshot reads them
            old = snap.rows_of(id_array)
            replaced = old[old >= 0]
            row_ids = np.concatenate([snap.row_ids, id_array])
            row_ids[replaced] = -1
            order = np.argsort(id_array, kind="stable")
            new_ids, new_rows = id_array[order], np.arange(n, n + m, dtype=np.int64)[order]
            keep = ~_in_sorted(snap.sorted_ids, new_ids)
            kept_ids, kept_rows = snap.sorted_ids[keep], snap.sorted_rows[keep]
            at = np.searchsorted(kept_ids, new_ids)
            self._publish(
                _Snapshot(
                    backing,
                    n + m,
                    row_ids,
                    np.union1d(snap.dead_rows, replaced),
                    np.insert(kept_ids, at, new_ids),
                    np.insert(kept_rows, at, new_rows),
                    snap.graph_rows,
                )
            )

    def remove(self, ids: Sequence[int] | np.ndarray) -> None:
        """Forget these papers (unknown ids are ignored)."""
        id_array = np.unique(np.asarray(ids, dtype=np.int64).reshape(-1))
        with self._lock:
            snap = self._snap
            present = _in_sorted(snap.sorted_ids, id_array)
            if not present.any():
                return
            rows = snap.sorted_rows[present]
            row_ids = snap.row_ids.copy()
            row_ids[rows] = -1
            self._publish(
                replace(
                    snap,
                    row_ids=row_ids,
                    dead_rows=np.union1d(snap.dead_rows, rows),
                    sorted_ids=snap.sorted_ids[~present],
                    sorted_rows=snap.sorted_rows[~present],
                )
            )

    def _publish(self, snap: _Snapshot) -> None:
        """Make ``snap`` the one searches read, compacting first if too many rows are dead."""
        if len(snap.dead_rows) > max(_COMPACT_MIN, COMPACT_FRACTION * snap.n):
            snap = _compacted(snap, self.dim)
        self._snap = snap

    def compact(self) -> int:
        """Drop dead rows and fold papers added since the graph was made into it.

        Slow with a graph (about 1-3 k papers a second): meant for a maintenance
        thread, not a request. Searches keep running meanwhile (they wait for at
        most one slice of :data:`_FOLD_SLICE` papers). Returns how many papers were
        folded into the graph or dropped from it.
        """
        with self._lock:
            snap = self._snap
            if len(snap.dead_rows):
                snap = _compacted(snap, self.dim)
                self._snap = snap
            graph = self._graph
            if graph is None:
                return 0
            keys = graph.keys()
            stale = keys[~_in_sorted(keys, snap.sorted_ids)]
            graph.remove(stale)
            changed = len(stale)
            for start in range(snap.graph_rows, snap.n, _FOLD_SLICE):
                stop = min(start + _FOLD_SLICE, snap.n)
                ids = snap.row_ids[start:stop]
                live = ids >= 0
                graph.upsert(ids[live], snap.matrix[start:stop][live])
                changed += int(live.sum())
                snap = replace(self._snap, graph_rows=stop)
                self._snap = snap
            return changed

    def refresh(self, engine: Engine, *, full: bool = False) -> int:
        """Catch up with the database; return how many papers were added, replaced or removed.

        Cheap when nothing changed: one primary-key read of the model's change journal
        (see :mod:`.vector_table`), which also names exactly which ids changed. A full
        comparison of every vector happens only when the journal no longer reaches
        back far enough, or on ``full=True``. Every :attr:`reconcile_seconds` the row
        count is compared too (about 30 ms at a million papers), and on a difference
        the id lists: this catches papers deleted directly, whose vectors go by
        ``ON DELETE CASCADE`` outside the journal. When another thread is already
        changing the index, returns 0 at once rather than wait.
        """
        if not self._lock.acquire(blocking=False):
            return 0
        try:
            with engine.connect() as conn:
                return self._catch_up(conn, full)
        finally:
            self._lock.release()

    def _catch_up(self, conn: Connection, full: bool) -> int:
        due = full or (
            self.reconcile_seconds is not None
            and time.monotonic() - self._reconciled_at >= self.reconcile_seconds
        )
        # The version alone first: the whole journal (up to a few hundred KB of JSON) is
        # read and parsed only when something changed.
        if not due and read_journal_version(conn, self.model) == self._version:
            return 0
        journal = read_journal(conn, self.model)
        if journal.version == self._version and not due:
            return 0
        changed = 0
        compared_ids = False
        if journal.version != self._version or full:
            ids = None if (full or self._version is None) else journal.changed_after(self._version)
            if ids is None or len(ids) > max(_STREAM_OVER, self.size // 3):
                changed += self._sync_everything(conn)
                compared_ids = True
            else:
                changed += self._sync_ids(conn, ids)
            self._version = journal.version
        # Every insert is journaled, so a paper deleted directly shows as fewer rows
        # than held: one index range count, and the id lists only when it differs.
        if due and not compared_ids and count_model(conn, self.model) != self.size:
            changed += self._sync_id_list(conn)
        if due:
            self._reconciled_at = time.monotonic()
        return changed

    def _apply(self, ids: np.ndarray, matrix: np.ndarray) -> int:
        """Add those of (ids, matrix) that are new or differ from what is held."""
        if len(ids) == 0:
            return 0
        if self.dim == 0 and self._snap.n == 0:
            self.add(ids, matrix)
            return len(ids)
        snap = self._snap
        rows = snap.rows_of(ids)
        held = rows >= 0
        differs = ~held
        differs[held] = np.any(snap.matrix[rows[held]] != matrix[held], axis=1)
        if differs.any():
            self.add(ids[differs], matrix[differs])
        return int(differs.sum())

    def _sync_ids(self, conn: Connection, ids: np.ndarray) -> int:
        found_ids, matrix = fetch_vectors(conn, self.model, ids.tolist())
        changed = self._apply(found_ids, matrix)
        gone = ids[~_in_sorted(ids, found_ids)]
        gone = gone[_in_sorted(gone, self._snap.sorted_ids)]
        self.remove(gone.tolist())
        return changed + len(gone)

    def _sync_everything(self, conn: Connection) -> int:
        seen: list[np.ndarray] = []
        changed = 0
        for ids, matrix in iter_vectors(conn, self.model):
            changed += self._apply(ids, matrix)
            seen.append(ids)
        return changed + self._drop_all_but(np.concatenate(seen) if seen else _EMPTY_IDS)

    def _sync_id_list(self, conn: Connection) -> int:
        stored = stored_ids(conn, self.model)
        new = stored[~_in_sorted(stored, self._snap.sorted_ids)]
        changed = 0
        if len(new):
            found_ids, matrix = fetch_vectors(conn, self.model, new.tolist())
            changed = self._apply(found_ids, matrix)
        return changed + self._drop_all_but(stored)

    def _drop_all_but(self, stored: np.ndarray) -> int:
        held = self._snap.sorted_ids
        gone = held[~_in_sorted(held, stored)]
        self.remove(gone.tolist())
        return len(gone)


def _compacted(snap: _Snapshot, dim: int) -> _Snapshot:
    """The same papers in a new matrix without dead rows, row order kept."""
    live = snap.row_ids >= 0
    n = int(live.sum())
    backing = np.empty((n + _headroom(n), dim), dtype=np.float32)
    np.compress(live, snap.matrix[: snap.n], axis=0, out=backing[:n])
    new_row = np.cumsum(live) - 1
    return _Snapshot(
        backing,
        n,
        snap.row_ids[live],
        _EMPTY_IDS,
        snap.sorted_ids,
        new_row[snap.sorted_rows],
        int(live[: snap.graph_rows].sum()),
    )


def _recorded_dim(conn: Connection, model: str) -> int:
    recorded = recorded_model(conn)
    return recorded[1] if recorded is not None and recorded[0] == model else 0
