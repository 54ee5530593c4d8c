"""Nearest-neighbour search over one :class:`~paperfeed.index.vectors.snapshot.Snapshot`.

Cosine similarity of unit vectors, so a dot product. Without a graph, or for rows
added after it was built (the exact tail), the matrix rows are scanned: one
matrix-vector product. With an HNSW graph (:mod:`.hnsw`), it proposes candidates
that are re-scored exactly against the float32 matrix. A filter so narrow that the
graph would need too many candidates is answered exactly over the allowed rows.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Collection

import numpy as np

from paperfeed.index.vectors.hnsw import Graph
from paperfeed.index.vectors.snapshot import EMPTY_IDS, Snapshot, in_sorted

#: Graph candidates re-scored per query under a filter (before the filter's share), and
#: the least ef of every graph walk: max(RESCORE_FACTOR * k, RESCORE_MIN).
RESCORE_FACTOR = 4
RESCORE_MIN = 64
#: Without a filter, the graph's best max(UNFILTERED_FACTOR * k, RESCORE_MIN) candidates of
#: that walk are re-scored: at 100 k and 1 M realistic papers recall@10 and recall@100 were
#: those of 4 x k (0.969 / 0.953 and 0.959 / 0.957, 200 queries), 0.1 ms (100 k) and 0.8-1.3 ms
#: (1 M) less CPU a search; 1 x k lost recall@100 (0.88 and 0.87): the int8 graph's order
#: errs near the end of its list.
UNFILTERED_FACTOR = 2
#: Largest candidate count asked of the graph under a filter; a filter so narrow that
#: more would be needed is answered exactly over the allowed papers instead.
MAX_GRAPH_COUNT = 2_048


class Scratch:
    """Per-thread scratch arrays for matrix-vector products (no allocation per query)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def scores(self, n: int) -> np.ndarray:
        """This thread's float32 buffer of (at least) ``n`` scores, cut to ``n``."""
        buf: np.ndarray | None = getattr(self._local, "buf", None)
        if buf is None or len(buf) < n:
            buf = np.empty(max(n, 1024) + n // 4, dtype=np.float32)
            self._local.buf = buf
        return buf[:n]


def unit_query(query: np.ndarray, dim: int) -> np.ndarray | None:
    """``query`` as a contiguous float32 unit vector; None when it has no direction.

    Raises ValueError when it does not have ``dim`` dimensions.
    """
    q = np.asarray(query, dtype=np.float32).reshape(-1)
    if q.shape[0] != dim:
        raise ValueError(f"the query has {q.shape[0]} dimensions, the index {dim}")
    norm = float(np.linalg.norm(q))
    if not math.isfinite(norm) or norm == 0.0:
        return None
    return np.ascontiguousarray(q / norm, dtype=np.float32)


def top(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` largest finite scores, best first."""
    if k < len(scores):
        part = np.argpartition(scores, len(scores) - k)[len(scores) - k :]
    else:
        part = np.arange(len(scores))
    best = part[np.argsort(-scores[part], kind="stable")]
    finite: np.ndarray = best[np.isfinite(scores[best])]
    return finite


def nearest(
    snap: Snapshot,
    graph: Graph | None,
    q: np.ndarray,
    k: int,
    *,
    allowed: np.ndarray | None,
    exclude: Collection[int],
    scratch: Scratch,
) -> list[tuple[int, float]]:
    """The ``k`` papers of ``snap`` most similar to the unit vector ``q``, best first.

    ``graph`` holds the snapshot's first ``graph_rows`` rows (ignored when it holds
    none). See :meth:`paperfeed.index.vectors.in_memory.VectorIndex.search` for ``allowed``,
    ``exclude`` and the order of ties.
    """
    excluded = (
        np.unique(np.fromiter(exclude, dtype=np.int64, count=len(exclude)))
        if exclude
        else EMPTY_IDS
    )
    if snap.graph_rows == 0:
        graph = None
    if allowed is not None:
        allow = np.unique(np.asarray(allowed, dtype=np.int64).reshape(-1))
        if len(excluded):
            allow = allow[~in_sorted(allow, excluded)]
        if graph is not None and not _filter_too_narrow(len(allow), k, snap.graph_rows):
            found = _graph_rows(snap, graph, q, k, excluded, allow)
            if found is not None:
                tail_ids = snap.row_ids[snap.graph_rows : snap.n]
                wanted = (tail_ids >= 0) & in_sorted(tail_ids, allow)
                tail = np.flatnonzero(wanted) + snap.graph_rows
                return _merge(snap, q, k, [found, tail], scratch)
        rows = snap.rows_of(allow)
        return _merge(snap, q, k, [rows[rows >= 0]], scratch)
    parts = [_scan(snap, q, k, excluded, snap.graph_rows, scratch)]
    if graph is not None:
        found = _graph_rows(snap, graph, q, k, excluded, None)
        parts.append(found if found is not None else _scan(snap, q, k, excluded, 0, scratch))
    return _merge(snap, q, k, parts, scratch)


def _scan(
    snap: Snapshot, q: np.ndarray, k: int, excluded: np.ndarray, start: int, scratch: Scratch
) -> np.ndarray:
    """Rows of the best ``k`` live, non-excluded papers among rows [start, n), exactly."""
    if start >= snap.n:
        return EMPTY_IDS
    scores = scratch.scores(snap.n - start)
    np.dot(snap.matrix[start : snap.n], q, out=scores)
    dead = snap.dead_rows[np.searchsorted(snap.dead_rows, start) :]
    scores[dead - start] = -np.inf
    if len(excluded):
        rows = snap.rows_of(excluded)
        scores[rows[rows >= start] - start] = -np.inf
    return top(scores, k) + start


def _pool(k: int) -> int:
    return max(RESCORE_FACTOR * k, RESCORE_MIN)


def _filter_too_narrow(allowed: int, k: int, graph_rows: int) -> bool:
    """Whether the graph would need more than MAX_GRAPH_COUNT candidates to find k of
    ``allowed`` papers (then scoring just the allowed rows is cheaper)."""
    if allowed == 0:
        return True
    return _pool(k) * graph_rows / allowed > MAX_GRAPH_COUNT


def _graph_rows(
    snap: Snapshot,
    graph: Graph,
    q: np.ndarray,
    k: int,
    excluded: np.ndarray,
    allow: np.ndarray | None,
) -> np.ndarray | None:
    """Rows of the graph's candidates that this snapshot allows; None when too few
    survive the filters even at MAX_GRAPH_COUNT candidates."""
    pool = _pool(k)
    if allow is None:
        count = max(UNFILTERED_FACTOR * k, RESCORE_MIN)
    else:
        count = math.ceil(pool * snap.graph_rows / max(len(allow), 1))
    count = min(max(count, k), MAX_GRAPH_COUNT)
    while True:
        ids = graph.search(q, count, ef=pool)
        keep = np.ones(len(ids), dtype=bool)
        if len(excluded):
            keep &= ~in_sorted(ids, excluded)
        if allow is not None:
            keep &= in_sorted(ids, allow)
        rows = snap.rows_of(ids[keep])
        rows = rows[rows >= 0]
        if len(rows) >= min(k, len(snap.sorted_ids)) or len(ids) < count:
            return rows
        if count >= MAX_GRAPH_COUNT:
            return None
        count = min(count * 4, MAX_GRAPH_COUNT)


def _merge(
    snap: Snapshot, q: np.ndarray, k: int, parts: list[np.ndarray], scratch: Scratch
) -> list[tuple[int, float]]:
    """Score candidate rows exactly and keep the best ``k`` distinct papers."""
    # Distinct rows: the graph and the exact tail can both propose a replaced paper.
    rows = np.unique(np.concatenate(parts)) if len(parts) > 1 else parts[0]
    if len(rows) == 0:
        return []
    if len(rows) * 3 < snap.n:
        scores = snap.matrix[rows] @ q
    else:
        full = scratch.scores(snap.n)
        np.dot(snap.matrix[: snap.n], q, out=full)
        scores = full[rows]
    best = top(scores, min(k, len(rows)))
    ids = snap.row_ids[rows[best]]
    ordered = np.lexsort((ids, -scores[best]))
    return [(int(ids[i]), float(scores[best][i])) for i in ordered]
