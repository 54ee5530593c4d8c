"""Paper embeddings: stored in the database, searched from memory.

The database is the truth (``paper_embeddings``, see :mod:`.vector_table`, whose
functions are re-exported here); :class:`VectorIndex` holds one model's vectors
in a float32 matrix and answers nearest-neighbour queries by cosine similarity
(vectors are unit length, so a dot product). Up to ``exact_max`` papers it scans
the whole matrix (one matrix-vector product: about 5 ms per 100 k papers, bound by
memory bandwidth, so one BLAS thread is as fast as two and steadier under load);
above, an HNSW graph (:mod:`.hnsw`) proposes candidates that are re-scored
exactly (under 1 ms at a million papers). The search itself is
:mod:`.vector_search`; catching up with the database, :mod:`.vector_sync`; loading from
the database or the machine's embeddings file, :mod:`.loading`.

Concurrency: searches take no lock. They read one immutable
:class:`~paperfeed.index.vectors.snapshot.Snapshot` (the matrix rows in use,
row→id, id→row), which mutations replace whole under a lock. New vectors are
appended to spare rows of the matrix, which no published snapshot reads; replaced
and removed papers only mark their rows dead, so a search never sees a half-made
change.

HNSW and change: the graph is not rebuilt while serving. Papers added after it
was built form an exact-scanned tail (cheap: 3 k papers a day is 0.1 ms a
query); :meth:`VectorIndex.compact` folds the tail into the graph, and every
:meth:`VectorIndex.load` folds it in by repairing the cached graph.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from sqlalchemy import Connection, Engine

from paperfeed.index.vectors.hnsw import DEFAULT_PARAMS, Graph, HnswParams, Origin, open_graph
from paperfeed.index.vectors.loading import load_index
from paperfeed.index.vectors.search import Scratch, nearest, unit_query
from paperfeed.index.vectors.snapshot import (
    EMPTY_IDS,
    Snapshot,
    compacted,
    headroom,
    in_sorted,
    make_snapshot,
    with_vectors,
    without,
)
from paperfeed.index.vectors.sync import sync_everything, sync_id_list, sync_ids
from paperfeed.index.vectors.table import (
    MODEL_KEY,
    as_batch,
    count_model,
    count_vectors,
    decode,
    delete_vectors,
    encode,
    load_vectors,
    missing_ids,
    read_journal,
    read_journal_version,
    record_model,
    recorded_model,
    store_vectors,
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

#: Dead rows (replaced or removed papers) tolerated before the matrix is compacted.
COMPACT_FRACTION = 0.10
_COMPACT_MIN = 4_096
#: A refresh that must look at more ids than this (and a third of the index) streams
#: every vector instead of asking for each id.
_STREAM_OVER = 50_000
#: Rows folded into the graph per lock hold in :meth:`VectorIndex.compact`.
_FOLD_SLICE = 256


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
        snapshot: Snapshot,
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
        self._scratch = Scratch()

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
        hashes: np.ndarray | None = None,
    ) -> VectorIndex:
        graph: Graph | None = None
        origin: Origin | None = None
        if n > exact_max:
            graph, origin = open_graph(
                ids, backing[:n], cache_dir=cache_dir, model=model, params=params, hashes=hashes
            )
        snapshot = make_snapshot(ids, backing, n, n if graph is not None else 0)
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
        backing = np.empty((n + headroom(n), dim), dtype=np.float32)
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
        """Every vector of ``model``, from the machine's embeddings file or the database
        (:func:`paperfeed.index.vectors.loading.load_index`)."""
        return load_index(
            cls, engine, model, exact_max=exact_max, cache_dir=cache_dir, params=params
        )

    # --- facts --------------------------------------------------------------------------------

    @property
    def snapshot(self) -> Snapshot:
        """What a search would read now (immutable; see :mod:`.vector_snapshot`)."""
        return self._snap

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
        q = unit_query(query, self.dim)
        if q is None:
            return []
        return nearest(
            snap, self._graph, q, k, allowed=allowed, exclude=exclude, scratch=self._scratch
        )

    def graph_candidates(self, queries: np.ndarray, count: int, ef: int) -> list[np.ndarray] | None:
        """For each query row (any length: the graph ranks by inner product, which for
        unit paper vectors is the order of cosine), the ids of the graph's approximate
        ``count`` nearest papers (``ef``: see :meth:`Graph.search_many`), then one more
        array: every paper added since the graph was made (the exact tail, which the graph
        does not hold). Nothing is re-scored here: the caller scores the candidates
        itself. None without a graph (an exactly searched index)."""
        snap, graph = self._snap, self._graph
        if graph is None or snap.graph_rows == 0:
            return None
        found = graph.search_many(queries, count, ef)
        tail = snap.row_ids[snap.graph_rows : snap.n]
        return [*found, np.asarray(tail[tail >= 0], dtype=np.int64)]

    # --- changes ------------------------------------------------------------------------------

    def add(self, ids: Sequence[int] | np.ndarray, matrix: np.ndarray) -> None:
        """Add new papers or replace the vectors of known ones (same id)."""
        id_array, rows = as_batch(ids, matrix)
        if len(id_array) == 0:
            return
        with self._lock:
            if self.dim == 0 and self._snap.n == 0:  # an empty index takes the first dimension
                self.dim = rows.shape[1]
                self._snap = make_snapshot(EMPTY_IDS, np.empty((0, self.dim), np.float32), 0, 0)
            if rows.shape[1] != self.dim:
                raise ValueError(f"vectors have {rows.shape[1]} dimensions, the index {self.dim}")
            self._publish(with_vectors(self._snap, id_array, rows, self.dim))

    def remove(self, ids: Sequence[int] | np.ndarray) -> None:
        """Forget these papers (unknown ids are ignored)."""
        id_array = np.unique(np.asarray(ids, dtype=np.int64).reshape(-1))
        with self._lock:
            snap = without(self._snap, id_array)
            if snap is not None:
                self._publish(snap)

    def _publish(self, snap: Snapshot) -> None:
        """Make ``snap`` the one searches read, compacting first if too many rows are dead."""
        if len(snap.dead_rows) > max(_COMPACT_MIN, COMPACT_FRACTION * snap.n):
            snap = compacted(snap, self.dim)
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
                snap = compacted(snap, self.dim)
                self._snap = snap
            graph = self._graph
            if graph is None:
                return 0
            keys = graph.keys()
            stale = keys[~in_sorted(keys, snap.sorted_ids)]
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

    def refresh(self, engine: Engine, *, full: bool = False, version: int | None = None) -> int:
        """Catch up with the database; return how many papers were added, replaced or removed.

        Cheap when nothing changed: one primary-key read of the model's change journal
        (see :mod:`.vector_table`), which also names exactly which ids changed. A full
        comparison of every vector happens only when the journal no longer reaches
        back far enough, or on ``full=True``. Every :attr:`reconcile_seconds` the row
        count is compared too (about 30 ms at a million papers), and on a difference
        the id lists: this catches papers deleted directly, whose vectors go by
        ``ON DELETE CASCADE`` outside the journal. When another thread is already
        changing the index, returns 0 at once rather than wait.

        ``version`` is the journal's version when the caller has read it already (search()
        reads both indexes' versions in one statement): then nothing is read at all while
        it is the version held and no reconcile is due.
        """
        if not full and version is not None and version == self._version and not self._due():
            return 0
        if not self._lock.acquire(blocking=False):
            return 0
        try:
            with engine.connect() as conn:
                return self._catch_up(conn, full, version)
        finally:
            self._lock.release()

    def _due(self) -> bool:
        """Whether the row count is to be compared again (every :attr:`reconcile_seconds`)."""
        return (
            self.reconcile_seconds is not None
            and time.monotonic() - self._reconciled_at >= self.reconcile_seconds
        )

    def _catch_up(self, conn: Connection, full: bool, version: int | None = None) -> int:
        due = full or self._due()
        # The version alone first: the whole journal (up to a few hundred KB of JSON) is
        # read and parsed only when something changed.
        if version is None:
            version = read_journal_version(conn, self.model)
        if not due and version == self._version:
            return 0
        journal = read_journal(conn, self.model)
        if journal.version == self._version and not due:
            return 0
        changed = 0
        compared_ids = False
        if journal.version != self._version or full:
            ids = None if (full or self._version is None) else journal.changed_after(self._version)
            if ids is None or len(ids) > max(_STREAM_OVER, self.size // 3):
                changed += sync_everything(conn, self)
                compared_ids = True
            else:
                changed += sync_ids(conn, self, ids)
            self._version = journal.version
        # Every insert is journaled, so a paper deleted directly shows as fewer rows
        # than held: one index range count, and the id lists only when it differs.
        if due and not compared_ids and count_model(conn, self.model) != self.size:
            changed += sync_id_list(conn, self)
        if due:
            self._reconciled_at = time.monotonic()
        return changed
