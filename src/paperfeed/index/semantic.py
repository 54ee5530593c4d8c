"""The semantic index of one process: the configured embedder plus the vector index,
kept in step with the vectors stored in the database.

The vector index is the in-memory :class:`~paperfeed.index.vectors.in_memory.VectorIndex` or, on
PostgreSQL, pgvector inside the database (:class:`~paperfeed.index.vectors.pgvector_index.
PgVectorIndex`), chosen by ``PAPERFEED_VECTOR_BACKEND``. Both answer the same calls.
``auto`` is memory on both databases; on PostgreSQL pgvector answers until the process's
memory index is loaded (the machine's files mapped, or its graph built), on a thread of
its own (:mod:`~paperfeed.index.vectors.background`), so a new machine serves at once and
then takes the faster path; the switch is logged and recorded for ``index status``.

Vectors are stored with the name of the model that made them. When the stored
vectors were made by another model than the configured one, nothing is mixed:
:meth:`SemanticIndex.mismatch` says so, and semantic search refuses until
``paperfeed index rebuild``.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

import numpy as np

# onnxruntime must be loaded before usearch (imported by vectors): the other order
# crashes the interpreter (both bundle native libraries whose initialisers clash).
import onnxruntime  # noqa: F401
from sqlalchemy import Engine, delete, select

from paperfeed.config import Settings
from paperfeed.errors import ConfigError
from paperfeed.index.embedders.embedder import Embedder, load_embedder, paper_text, query_text
from paperfeed.index.vectors import in_memory as vectors
from paperfeed.index.vectors import pgvector_index as vectors_pgvector
from paperfeed.index.vectors.background import Loader, describe
from paperfeed.index.vectors.bundled import embed_texts
from paperfeed.index.vectors.hnsw import DEFAULT_PARAMS, REPAIR_FRACTION, GraphCache
from paperfeed.index.vectors.pgvector_index import PgVectorIndex
from paperfeed.index.vectors.table import journal_name as vector_journal
from paperfeed.models import Hit
from paperfeed.store.engine import writing
from paperfeed.store.tables.papers import index_state, papers

log = logging.getLogger(__name__)

#: Papers embedded per model call and per write transaction.
EMBED_CHUNK = 64
#: Query vectors kept per process (1.5 KB each at 384 dimensions).
QUERY_CACHE_SIZE = 2048
#: What PAPERFEED_VECTOR_BACKEND may be.
BACKENDS = ("auto", "memory", "database")
#: Seconds an answer of :meth:`SemanticIndex.mismatch` is reused: the stored model changes
#: only with ``index rebuild``, and reading it is a round trip per search on PostgreSQL.
MISMATCH_SECONDS = 1.0


def resolve_backend(backend: str, dialect: str) -> str:
    """Where vectors are searched once a process is ready, for a PAPERFEED_VECTOR_BACKEND
    value on this database: ``memory`` or ``database`` (``auto``: memory on both; see
    :func:`interim_backend` for what answers before)."""
    if backend not in BACKENDS:
        raise ConfigError(
            f"PAPERFEED_VECTOR_BACKEND must be one of {', '.join(BACKENDS)}, not {backend!r}"
        )
    if backend == "auto":
        return "memory"
    if backend == "database" and dialect != "postgresql":
        raise ConfigError(
            "PAPERFEED_VECTOR_BACKEND=database searches vectors with pgvector inside "
            f"PostgreSQL; this database is {dialect}: use `auto` or `memory`"
        )
    return backend


def interim_backend(backend: str, dialect: str) -> str | None:
    """What answers while a process loads its memory index: ``database`` (pgvector) for
    ``auto`` on PostgreSQL; None when the memory index answers from the start (exactly,
    while a missing graph is built in the background)."""
    return "database" if backend == "auto" and dialect == "postgresql" else None


class SemanticIndex:
    """Embeds papers and queries, and answers nearest-neighbour searches."""

    def __init__(
        self,
        engine: Engine,
        *,
        embedder: str,
        exact_max: int,
        cache_dir: Path | None,
        backend: str = "auto",
        on_switch: Callable[[str], None] | None = None,
    ) -> None:
        self.engine = engine
        #: ``memory`` or ``database`` (see :func:`resolve_backend`).
        self.backend = resolve_backend(backend, engine.dialect.name)
        #: ``database`` when pgvector answers until the memory index is loaded, else None.
        self.interim = interim_backend(backend, engine.dialect.name)
        #: Called (on the loading thread) with a line saying what vector search switched to.
        self.on_switch = on_switch
        self.embedder_key = embedder
        self.exact_max = exact_max
        self.cache_dir = cache_dir
        self._embedder: Embedder | None = None
        self._index: vectors.VectorIndex | PgVectorIndex | None = None
        self._lock = threading.Lock()
        # Recent query vectors: the next page of a search, or a query many readers type,
        # costs no second model call. Keyed by the text, so it never goes stale.
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._queries_lock = threading.Lock()
        #: Load the memory index (and build a missing HNSW graph) in the call (the CLI,
        #: benchmarks) rather than in the background.
        self.wait_for_graph = False
        #: Load the memory index in the background at all. A command that answers and
        #: exits sets it off: it keeps to pgvector, or to the exact scan, meanwhile.
        self.background = True
        self._loader = Loader()
        #: Bumped by :meth:`reset`: a background load begun before it is not handed over.
        self._generation = 0
        #: (when read, the answer) of the last :meth:`mismatch` that read the database.
        self._mismatch: tuple[float, str | None] | None = None

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = load_embedder(self.embedder_key)
        return self._embedder

    def mismatch(self) -> str | None:
        """Why stored vectors cannot be used with the configured embedder, if they cannot
        (read from the database at most every :data:`MISMATCH_SECONDS`, and after this
        index stored vectors or forgot them)."""
        last = self._mismatch
        if last is not None and time.monotonic() - last[0] < MISMATCH_SECONDS:
            return last[1]
        read_at = time.monotonic()
        with self.engine.connect() as conn:
            recorded = vectors.recorded_model(conn)
        problem = None
        embedder = self.embedder
        if recorded is not None and recorded != (embedder.name, embedder.dim):
            name, dim = recorded
            problem = (
                f"the stored vectors were made by {name} ({dim} dimensions) but "
                f"PAPERFEED_EMBEDDER={self.embedder_key} is {embedder.name} ({embedder.dim}): "
                "run `paperfeed index rebuild`"
            )
        self._mismatch = (read_at, problem)
        return problem

    def journal_name(self) -> str:
        """The ``index_state`` name of the change journal the vector index follows (its
        version is what :meth:`search` takes as ``version``)."""
        return vector_journal(self.embedder.name)

    def index(self, version: int | None = None) -> vectors.VectorIndex | PgVectorIndex:
        """The vector index, loaded on first use and caught up with the database;
        ``version``: its journal's version when the caller has read it already.

        Nothing here waits on a build: with an interim backend the first call answers
        from pgvector and starts loading the memory index in the background (again, later,
        should that fail)."""
        with self._lock:
            index = self._index
            if index is None:
                problem = self.mismatch()
                if problem:
                    raise ConfigError(problem)
                embedder = self.embedder
                if self.backend == "database":
                    index = PgVectorIndex.load(self.engine, embedder.name, embedder.dim)
                elif self.interim is not None and not self.wait_for_graph:
                    index = PgVectorIndex.load(self.engine, embedder.name, embedder.dim)
                    if self.background:
                        self._load_later(embedder.name, "pgvector")
                else:
                    index = self._load_memory()
                self._index = index
                return index
            if (
                self.interim is not None
                and self.background
                and isinstance(index, PgVectorIndex)
                and self._loader.due()
            ):
                self._load_later(index.model, "pgvector")  # the last load failed: again
        # Caught up outside the lock: searches on other threads need not queue behind it
        # (each index guards its own catching up).
        index.refresh(self.engine, version=version)
        return index

    def _load_memory(self) -> vectors.VectorIndex:
        """The in-memory index. Above ``exact_max`` papers it needs an HNSW graph: from the
        cache (or repaired) when the folder has one near the stored vectors; otherwise the
        vectors are searched exactly while a background thread builds the graph and swaps
        the index in when done, so no request waits on a build (minutes at 1 M papers).
        ``wait_for_graph`` (``paperfeed index update``) builds it in the call instead."""
        name = self.embedder.name
        if self.wait_for_graph or self.cache_dir is None or self._graph_cached(name):
            return vectors.VectorIndex.load(
                self.engine, name, exact_max=self.exact_max, cache_dir=self.cache_dir
            )
        exact = vectors.VectorIndex.load(self.engine, name, exact_max=sys.maxsize, cache_dir=None)
        if exact.size > self.exact_max and self.background:
            self._load_later(name, "an exact scan in this process")
        return exact

    def _graph_cached(self, model: str) -> bool:
        """Whether the folder's graph cache is close enough to the stored vectors to be
        reused or repaired in seconds (see :func:`~.vectors.hnsw.open_graph`)."""
        with self.engine.connect() as conn:
            count = vectors.count_vectors(conn).get(model, 0)
            recorded = vectors.recorded_model(conn)
        if count <= self.exact_max or recorded is None or self.cache_dir is None:
            return True  # searched exactly: no graph needed
        cache = GraphCache(self.cache_dir, model, recorded[1], DEFAULT_PARAMS)
        try:
            cached = int(json.loads(cache.manifest.read_text(encoding="utf-8"))["count"])
        except (OSError, ValueError, KeyError, TypeError):
            return False
        return abs(count - cached) <= max(1_000, REPAIR_FRACTION * count)

    def _load_later(self, model: str, meanwhile: str) -> None:
        """Load the memory index on a thread of its own (the machine's files mapped, a
        missing graph built) and hand it over when ready; ``meanwhile`` answers until then."""
        generation = self._generation

        def load() -> vectors.VectorIndex:
            return vectors.VectorIndex.load(
                self.engine, model, exact_max=self.exact_max, cache_dir=self.cache_dir
            )

        def ready(loaded: vectors.VectorIndex, seconds: float) -> None:
            with self._lock:
                if self._index is None or self._generation != generation:
                    return  # reset meanwhile: the next search loads afresh
                self._index = loaded
            line = f"{describe(loaded)}, loaded in {seconds:.1f} s (before: {meanwhile})"
            # A warning so that it shows at the default log level: what answers changed.
            log.warning("vector search switched to %s", line)
            if self.on_switch is not None:
                self.on_switch(line)

        self._loader.start(load, ready, meanwhile=meanwhile, cache_dir=self.cache_dir, model=model)

    def building_graph(self) -> bool:
        """Whether the memory index is being loaded (or its graph built) in the background,
        while pgvector or an exact scan answers."""
        return self._loader.running()

    def join_graph(self, timeout: float | None = None) -> None:
        """Wait for a background load of the memory index (tests, benchmarks)."""
        self._loader.join(timeout)

    def answering(self) -> str:
        """What answers this process's vector searches now: ``pgvector``, ``hnsw``,
        ``exact`` or ``not loaded``."""
        index = self._index
        if index is None:
            return "not loaded"
        return "pgvector" if isinstance(index, PgVectorIndex) else index.kind

    def search_method(self, papers: int) -> str:
        """How nearest neighbours are found now (for ``paperfeed index status``)."""
        if self.backend == "memory":
            if papers <= self.exact_max:
                if self.interim is not None:
                    return "exact in memory (pgvector while a serving process loads the vectors)"
                return "exact"
            if not self._graph_cached(self.embedder.name):
                if self.interim is not None:
                    return (
                        f"{self._pgvector_method()} until a serving process has built this "
                        "machine's HNSW graph (in the background), then hnsw"
                    )
                return "exact until a serving process builds its HNSW graph (in the background)"
            if self.interim is not None:
                return "hnsw (this machine's graph; pgvector while a serving process maps it)"
            return "hnsw"
        return self._pgvector_method()

    def _pgvector_method(self) -> str:
        embedder = self.embedder
        with self.engine.connect() as conn:
            state = vectors_pgvector.hnsw_state(conn, embedder.name, embedder.dim)
        if state == "valid":
            return "pgvector hnsw"
        return "pgvector exact (its HNSW index is built on first use)"

    def embed_papers(
        self, paper_ids: Sequence[int], progress: Callable[[int], None] | None = None
    ) -> int:
        """Embed these papers and store their vectors (chunk by chunk, each committed)."""
        embedder = self.embedder
        problem = self.mismatch()
        if problem:
            raise ConfigError(problem)
        if (self.backend == "database" or self.interim == "database") and paper_ids:
            # The model's HNSW index, before its first vectors (then kept by each insert).
            vectors_pgvector.ensure_index(self.engine, embedder.name, embedder.dim)
        done = 0
        for start in range(0, len(paper_ids), EMBED_CHUNK):
            chunk = list(paper_ids[start : start + EMBED_CHUNK])
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(papers.c.id, papers.c.title, papers.c.abstract).where(
                        papers.c.id.in_(chunk)
                    )
                ).all()
            if not rows:
                continue
            matrix = embed_texts(embedder, [paper_text(r.title, r.abstract) for r in rows])
            with writing(self.engine) as conn:
                # Papers deleted meanwhile are skipped by the foreign key check below.
                present = set(
                    conn.execute(select(papers.c.id).where(papers.c.id.in_(chunk))).scalars()
                )
                keep = [i for i, r in enumerate(rows) if r.id in present]
                vectors.store_vectors(conn, embedder.name, [rows[i].id for i in keep], matrix[keep])
                vectors.record_model(conn, embedder.name, embedder.dim)
            self._mismatch = None
            done += len(rows)
            if progress is not None:
                progress(done)
        return done

    def reset(self) -> None:
        """Forget every stored vector and the model that made them (before a rebuild)."""
        with writing(self.engine) as conn:
            vectors.delete_vectors(conn)
            conn.execute(delete(index_state).where(index_state.c.name == vectors.MODEL_KEY))
            if conn.dialect.name == "postgresql":
                vectors_pgvector.drop_indexes(conn)
        self._mismatch = None
        self.unload()

    def unload(self) -> None:
        """Forget this process's loaded index (the next search loads it again); a
        background load begun before is not handed over."""
        with self._lock:
            self._index = None
            self._generation += 1

    def embed_missing(self, progress: Callable[[int], None] | None = None) -> int:
        """Embed every paper that has no vector from the configured model."""
        with self.engine.connect() as conn:
            missing = vectors.missing_ids(conn, self.embedder.name)
        return self.embed_papers(missing, progress)

    def query_vector(self, text: str) -> np.ndarray:
        with self._queries_lock:
            cached = self._queries.get(text)
            if cached is not None:
                self._queries.move_to_end(text)
                return cached
        vector: np.ndarray = self.embedder.embed([query_text(text)])[0]
        vector.setflags(write=False)
        with self._queries_lock:
            self._queries[text] = vector
            while len(self._queries) > QUERY_CACHE_SIZE:
                self._queries.popitem(last=False)
        return vector

    def search(
        self,
        text: str,
        k: int,
        *,
        allowed: np.ndarray | None = None,
        exclude: Collection[int] = (),
        version: int | None = None,
        vector: np.ndarray | None = None,
    ) -> list[Hit]:
        """The ``k`` papers nearest ``text``; ``version``: the journal's version (see
        :meth:`journal_name`) when the caller has read it already; ``vector``: the text's
        embedding (:meth:`query_vector`) when the caller has it already."""
        index = self.index(version)
        if vector is None:
            vector = self.query_vector(text)
        found = index.search(vector, k, allowed=allowed, exclude=exclude)
        return [Hit(pid, score) for pid, score in found]

    def similar(
        self,
        paper_ids: Sequence[int],
        k: int,
        *,
        allowed: np.ndarray | None = None,
    ) -> list[Hit]:
        """Nearest neighbours of one paper, or of the centroid of several, excluding them."""
        index = self.index()
        if isinstance(index, PgVectorIndex):
            found = list(index.vectors_of(paper_ids).values())
        else:
            found = [v for v in (index.vector_of(pid) for pid in paper_ids) if v is not None]
        if not found:
            return []
        centre = np.mean(np.stack(found), axis=0)
        norm = float(np.linalg.norm(centre))
        if norm == 0.0:
            return []
        hits = index.search(
            (centre / norm).astype(np.float32), k, allowed=allowed, exclude=set(paper_ids)
        )
        return [Hit(pid, score) for pid, score in hits]


def semantic_index(
    engine: Engine, settings: Settings, *, on_switch: Callable[[str], None] | None = None
) -> SemanticIndex:
    """The semantic index the settings describe (nothing is loaded until first use).
    ``on_switch`` hears a switch of what answers vector searches (the app passes
    :func:`paperfeed.index.machines.positions.switch_recorder`, which records it as this
    machine's note in ``paperfeed index status``)."""
    return SemanticIndex(
        engine,
        embedder=settings.embedder,
        exact_max=settings.vector_exact_max,
        cache_dir=Path(settings.index_dir),
        backend=settings.vector_backend,
        on_switch=on_switch,
    )
