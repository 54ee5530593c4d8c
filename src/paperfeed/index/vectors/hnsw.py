"""An HNSW graph over paper vectors (usearch), and its cache on disk.

The graph only proposes candidates: :class:`~paperfeed.index.vectors.in_memory.VectorIndex`
re-scores them exactly against its float32 matrix. So the graph stores its own
copy of the vectors as int8 (a quarter of float32: about 0.4 GB at 1 M papers),
which makes it smaller and faster to build, while exact re-scoring of a few dozen
candidates recovers the precision (recall measured by ``bench/vector_speed.py``).

A graph read from the cache is memory-mapped from its file, read-only (usearch's
``view``), not copied into the process: the serve workers of a machine then share one
copy in the page cache instead of holding one each (about 0.65 GB at 1 M papers). The
first change a process makes to it (a repair, or folding new papers in) reads it into
that process's memory first; cache files are never written in place (a new file and
manifest replace them), so a mapped file never changes under a reader.

Keys are paper ids, so a cached graph stays meaningful across restarts: the
cache keeps, beside the graph, the ids it holds and a 64-bit fingerprint of each
vector. :func:`open_graph` compares those with the vectors just loaded and
either reuses the graph as is, repairs it (removes and re-adds the few papers
that changed: a day of ingestion costs seconds, not the minutes of a rebuild) or
rebuilds it when too much changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np

# onnxruntime (the embedder's runtime) must be loaded before usearch: in the other order
# the interpreter crashes on import (their bundled native libraries clash).
import onnxruntime  # noqa: F401
from usearch.index import Index

log = logging.getLogger(__name__)

#: Bumped when the cache files change meaning: older caches are then ignored.
CACHE_FORMAT = 1

#: A cached graph is repaired when at most this share of its papers changed
#: (and at least _REPAIR_MIN); beyond that a fresh build gives a better graph.
REPAIR_FRACTION = 0.10
_REPAIR_MIN = 1_000

#: Leftover cache files (from a crash) older than this are deleted by the next save.
_STALE_SECONDS = 86_400

Origin = Literal["built", "cache", "repaired"]


@dataclass(frozen=True, slots=True)
class HnswParams:
    """Graph parameters, measured by ``bench/vector_speed.py`` on structured 384-dim vectors
    and by ``bench/search_speed.py`` on the realistic corpus.

    ``connectivity`` is HNSW's M; ``expansion_add`` its efConstruction;
    ``expansion_search`` its ef (raised to the candidate count when that is larger).
    At 1 M vectors M=16 / efConstruction=128 stalled at recall@10 0.93 however
    large ef was (the graph itself misses neighbours). On the realistic 1 M corpus
    (#17), M=32 / 200 needed ef 2,048 for recall@10 0.959 (1,024: 0.935); M=48 / 256
    reaches 0.953 at ef 1,024, 0.969 at 1,408 and 0.988 at 2,048, so the same recall
    costs a shorter walk: 4.1-4.4 ms p50 at ef 1,408 against 5.1-6.0 ms for M=32 at
    2,048, in the same runs. It built in 6.3 minutes on a quiet 2-core machine, and its
    file is 752 MB at 1 M (M=32: 630 MB). M=64 / 256 found no more at a given ef and
    walked slower; float16 storage instead of int8 gained nothing (0.950 at 1,536).
    int8 storage loses nothing measurable once candidates are re-scored in float32.
    """

    connectivity: int = 48
    expansion_add: int = 256
    expansion_search: int = 256
    dtype: str = "i8"
    metric: str = "ip"  # vectors are unit length: inner product is cosine

    def tag(self) -> str:
        """A short stable digest, part of the cache file names."""
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:10]


DEFAULT_PARAMS = HnswParams()

#: Up to this many vectors ``expansion_search`` keeps recall@10 of the graph at 0.97 or
#: more on realistic vectors (0.974 at 100 k with M=32, bench/search_speed.py). Beyond it
#: the graph is searched with ef grown in proportion to its size, up to :data:`EF_MAX`:
#: 900 at 500 k (M=48: 768 gave 0.958, 1,024 gave 0.972) and 1,800 at 1 M. Recall at a
#: given ef varies from one build of a graph to the next: three M=48 builds over the same
#: 1 M vectors gave 0.948, 0.963 and 0.969 at ef 1,422-1,536, and 0.971 and 0.978 at 1,800
#: (a fixed ef of 256 gave 0.863 with M=32). ef is a search-time value, so it is not part
#: of the cache file's name and no graph is rebuilt for it.
EF_BASE_SIZE = 142_222
EF_MAX = 2_048


def search_ef(params: HnswParams, size: int) -> int:
    """The ef a graph of ``size`` vectors is searched with (see :data:`EF_BASE_SIZE`)."""
    grown = params.expansion_search * size // EF_BASE_SIZE
    return max(params.expansion_search, min(EF_MAX, grown))


class Graph:
    """A usearch index keyed by paper id.

    usearch keeps per-thread search contexts and its Python binding hands every
    call the same one, so concurrent calls on one index are not safe: every call
    holds one lock. A search takes well under a millisecond, so the lock costs
    little on a 2-core server.
    """

    def __init__(self, index: Index, params: HnswParams, *, mapped: bool = False) -> None:
        self._index = index
        self.params = params
        self._mapped = mapped
        self._lock = threading.Lock()

    @staticmethod
    def _new_index(dim: int, params: HnswParams) -> Index:
        return Index(
            ndim=dim,
            metric=params.metric,
            dtype=params.dtype,
            connectivity=params.connectivity,
            expansion_add=params.expansion_add,
            expansion_search=params.expansion_search,
        )

    @classmethod
    def build(
        cls, dim: int, ids: np.ndarray, matrix: np.ndarray, params: HnswParams = DEFAULT_PARAMS
    ) -> Graph:
        """A new graph over ``matrix`` rows keyed by ``ids`` (uses every core)."""
        graph = cls(cls._new_index(dim, params), params)
        graph.add(ids, matrix, threads=0)
        return graph

    @classmethod
    def restore(cls, path: Path, dim: int, params: HnswParams, *, view: bool = False) -> Graph:
        """A graph saved by :meth:`save`: read into memory, or with ``view`` memory-mapped
        read-only from the file (shared with every process that maps it)."""
        index = cls._new_index(dim, params)
        if view:
            index.view(os.fspath(path))
        else:
            index.load(os.fspath(path))
        return cls(index, params, mapped=view)

    @property
    def mapped(self) -> bool:
        """Whether the graph is still the read-only mapping of its cache file."""
        return self._mapped

    def _own(self) -> None:
        """Before a change (lock held): a mapped graph becomes this process's own copy,
        read from the mapping itself (the file may have been replaced since)."""
        if self._mapped:
            index = self._new_index(self._index.ndim, self.params)
            index.load(self._index.save())
            self._index = index
            self._mapped = False

    def __len__(self) -> int:
        with self._lock:
            return len(self._index)

    def search(self, query: np.ndarray, count: int, *, ef: int = 0) -> np.ndarray:
        """Ids of up to ``count`` approximate nearest neighbours, best first, searched
        with the ef this graph's size needs (:func:`search_ef`), or ``ef`` when larger."""
        with self._lock:
            ef = max(ef, search_ef(self.params, len(self._index)))
            if self._index.expansion_search != ef:
                # usearch's stub declares the property read-only; its setter works (2.x).
                self._index.expansion_search = ef  # type: ignore[misc]
            matches = self._index.search(query, count, threads=1)
        return np.asarray(matches.keys, dtype=np.int64)

    def search_many(self, queries: np.ndarray, count: int, ef: int) -> list[np.ndarray]:
        """Ids of up to ``count`` approximate nearest neighbours of each query row (best
        first), searched with ``ef`` (at least ``count``): candidates for a caller that
        scores them itself (For you's shortlist), where a smaller ef than search's will do."""
        rows = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if len(rows) == 0 or count <= 0:
            return []
        with self._lock:
            wanted = max(ef, count)
            if self._index.expansion_search != wanted:
                self._index.expansion_search = wanted  # type: ignore[misc]
            matches = self._index.search(rows, count, threads=1)
        keys = np.asarray(matches.keys, dtype=np.int64).reshape(len(rows), -1)
        counts = np.asarray(getattr(matches, "counts", [keys.shape[1]]), dtype=np.int64)
        return [keys[i, : counts[i]] for i in range(len(rows))]

    def add(self, ids: np.ndarray, matrix: np.ndarray, *, threads: int = 1) -> None:
        """Insert new ids (``threads=0``: all cores, for builds nobody searches yet)."""
        if len(ids) == 0:
            return
        keys = np.ascontiguousarray(ids, dtype=np.uint64)
        rows = np.ascontiguousarray(matrix, dtype=np.float32)
        with self._lock:
            self._own()
            self._index.add(keys, rows, threads=threads)

    def upsert(self, ids: np.ndarray, matrix: np.ndarray) -> None:
        """Insert or replace, atomically for concurrent searches."""
        if len(ids) == 0:
            return
        keys = np.ascontiguousarray(ids, dtype=np.uint64)
        rows = np.ascontiguousarray(matrix, dtype=np.float32)
        with self._lock:
            self._own()
            present = np.asarray(self._index.contains(keys), dtype=bool)
            if present.any():
                self._index.remove(keys[present])
            self._index.add(keys, rows, threads=1)

    def remove(self, ids: np.ndarray) -> None:
        if len(ids) == 0:
            return
        with self._lock:
            self._own()
            self._index.remove(np.ascontiguousarray(ids, dtype=np.uint64))

    def keys(self) -> np.ndarray:
        """Every id in the graph, ascending."""
        with self._lock:
            keys = np.asarray(self._index.keys, dtype=np.int64)
        return np.sort(keys)

    def save(self, path: Path) -> None:
        with self._lock:
            self._index.save(os.fspath(path))


def row_hashes(matrix: np.ndarray, *, chunk: int = 16_384) -> np.ndarray:
    """A 64-bit fingerprint of each row's exact float32 bits (not cryptographic).

    A dot product of the rows' bits with fixed odd 64-bit multipliers, wrapping:
    changing any one value always changes the fingerprint.
    """
    n, dim = matrix.shape
    multipliers = np.random.default_rng(dim).integers(0, 2**63, dim, dtype=np.uint64) * 2 + 1
    out = np.empty(n, dtype=np.uint64)
    for start in range(0, n, chunk):
        bits = np.ascontiguousarray(matrix[start : start + chunk], dtype=np.float32).view(np.uint32)
        out[start : start + chunk] = bits.astype(np.uint64) @ multipliers
    return out


class GraphCache:
    """The cached graph of one (model, dimension, parameters) in ``directory``.

    A JSON manifest names the current graph file and its ids/fingerprints file,
    both carrying a random token; new files are written first and the manifest
    replaced atomically last, so a crash leaves either the old cache or the new.
    """

    def __init__(self, directory: Path, model: str, dim: int, params: HnswParams) -> None:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", model)[:40]
        digest = hashlib.sha256(model.encode()).hexdigest()[:8]
        self.directory = Path(directory)
        self.stem = f"hnsw-{slug}-{digest}-{dim}-{params.tag()}"
        self.model = model
        self.dim = dim
        self.params = params

    @property
    def manifest(self) -> Path:
        return self.directory / f"{self.stem}.json"

    def files(self, token: str) -> tuple[Path, Path]:
        return (
            self.directory / f"{self.stem}.{token}.usearch",
            self.directory / f"{self.stem}.{token}.npz",
        )

    def _expected_header(self) -> dict[str, object]:
        return {
            "format": CACHE_FORMAT,
            "model": self.model,
            "dim": self.dim,
            "params": asdict(self.params),
        }

    def load(self) -> tuple[Graph, np.ndarray, np.ndarray] | None:
        """(graph, its ids ascending, their fingerprints), or None when absent or unusable."""
        try:
            manifest = json.loads(self.manifest.read_text(encoding="utf-8"))
            if {k: manifest.get(k) for k in self._expected_header()} != self._expected_header():
                return None
            graph_path, ids_path = self.files(str(manifest["token"]))
            with np.load(ids_path) as stored:
                ids = np.asarray(stored["ids"], dtype=np.int64)
                hashes = np.asarray(stored["hashes"], dtype=np.uint64)
            graph = Graph.restore(graph_path, self.dim, self.params, view=True)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            log.warning("ignoring the unreadable HNSW cache %s: %s", self.manifest, exc)
            return None
        if len(graph) != len(ids) or len(ids) != len(hashes):
            log.warning("ignoring the inconsistent HNSW cache %s", self.manifest)
            return None
        return graph, ids, hashes

    def _current_token(self) -> str | None:
        try:
            return str(json.loads(self.manifest.read_text(encoding="utf-8"))["token"])
        except (OSError, ValueError, KeyError):
            return None

    def save(self, graph: Graph, ids: np.ndarray, hashes: np.ndarray) -> None:
        """Write the graph and its fingerprints; a failure only logs (the cache is optional).

        Afterwards the files of the replaced manifest are deleted, and any other
        file of this cache older than a day (left by a crash); files another
        process is writing right now are left alone.
        """
        token = secrets.token_hex(6)
        graph_path, ids_path = self.files(token)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            previous = self._current_token()
            graph.save(graph_path)
            with ids_path.open("wb") as out:
                np.savez(out, ids=ids, hashes=hashes)
            manifest = {**self._expected_header(), "token": token, "count": len(ids)}
            tmp = self.manifest.with_suffix(f".{token}.tmp")
            tmp.write_text(json.dumps(manifest), encoding="utf-8")
            os.replace(tmp, self.manifest)
        except (OSError, RuntimeError) as exc:
            log.warning("could not write the HNSW cache in %s: %s", self.directory, exc)
            for path in (graph_path, ids_path):
                path.unlink(missing_ok=True)
            return
        if previous is not None and previous != token:
            for path in self.files(previous):
                path.unlink(missing_ok=True)
        cutoff = time.time() - _STALE_SECONDS
        for old in self.directory.glob(f"{self.stem}.*.*"):
            try:
                if f".{token}." not in old.name and old.stat().st_mtime < cutoff:
                    old.unlink(missing_ok=True)
            except OSError:
                continue


def open_graph(
    ids: np.ndarray,
    matrix: np.ndarray,
    *,
    cache_dir: Path | None,
    model: str,
    params: HnswParams = DEFAULT_PARAMS,
    hashes: np.ndarray | None = None,
) -> tuple[Graph, Origin]:
    """The graph over ``matrix`` rows keyed by ``ids`` (ascending): from the cache when it
    matches, repaired when little changed, otherwise built (and cached). ``hashes`` are the
    rows' fingerprints (:func:`row_hashes`) when the caller has them: a mapped matrix is
    then not read at all when the cached graph matches."""
    dim = int(matrix.shape[1])
    if cache_dir is None:
        return Graph.build(dim, ids, matrix, params), "built"
    cache = GraphCache(cache_dir, model, dim, params)
    if hashes is None:
        hashes = row_hashes(matrix)
    cached = cache.load()
    if cached is not None:
        graph, old_ids, old_hashes = cached
        pos = np.minimum(np.searchsorted(old_ids, ids), max(len(old_ids) - 1, 0))
        known = (old_ids[pos] == ids) if len(old_ids) else np.zeros(len(ids), dtype=bool)
        stale = known & (old_hashes[pos] != hashes) if len(old_ids) else known
        upsert = ~known | stale
        gone = old_ids[~np.isin(old_ids, ids, assume_unique=True)]
        changes = int(upsert.sum()) + len(gone)
        if changes == 0:
            return graph, "cache"
        if changes <= max(_REPAIR_MIN, REPAIR_FRACTION * len(ids)):
            graph.remove(np.concatenate([gone, ids[stale]]))
            graph.add(ids[upsert], matrix[upsert], threads=0)
            cache.save(graph, ids, hashes)
            return graph, "repaired"
    graph = Graph.build(dim, ids, matrix, params)
    cache.save(graph, ids, hashes)
    return graph, "built"
