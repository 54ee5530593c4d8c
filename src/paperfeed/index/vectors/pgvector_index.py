"""Nearest-neighbour search inside PostgreSQL: pgvector's HNSW index, shared by every worker.

The in-memory :class:`~paperfeed.index.vectors.in_memory.VectorIndex` loads every vector into
each process and builds (or reloads) a graph there. On PostgreSQL the vectors already
live in a pgvector column (:mod:`paperfeed.store.vector_type`) with one HNSW index per
model (:mod:`paperfeed.store.pgvector_schema`), kept in step by the database in the
same transaction as each write. :class:`PgVectorIndex` answers the same calls as the
memory index with one query each, so any number of web workers on any number of
machines share one index with nothing to load, build or refresh per process.

A query orders by inner product (vectors are unit length: the same order and score
as cosine) through the model's index, with ``hnsw.ef_search`` raised to five times
``k`` (:data:`EF_PER_RESULT`) and pgvector 0.8's iterative index scans on, so a filter
(``allowed`` ids, the ``exclude`` ids) that drops the first candidates makes the scan go
on until ``k`` papers qualify. Two cases are answered exactly instead (a scan of the qualifying rows
by primary key): a filter so narrow that the index would visit more rows than it
allows (``len(allowed)² <= k · size``), and an approximate answer that came back short
of ``k`` (the scan reached ``hnsw.max_scan_tuples``), so a filter never loses results.

A model whose index does not exist yet (vectors copied in, a new embedder) is searched
exactly meanwhile; :func:`ensure_index` builds the index, at once while the model has
few vectors, else in a background thread with ``CREATE INDEX CONCURRENTLY`` under an
advisory lock, so writes go on and only one process builds it.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Collection, Sequence

import numpy as np
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from paperfeed.index.vectors.table import (
    count_model,
    fetch_vectors,
    read_journal_version,
    recorded_model,
)
from paperfeed.store import pgvector_schema as schema
from paperfeed.store.vector_type import to_text

log = logging.getLogger(__name__)

#: ``hnsw.ef_search`` (candidates kept while walking the graph): at least this, and at
#: least ``EF_PER_RESULT k`` (pgvector's most is 1,000). On the realistic 100 k corpus
#: (docs/benchmarks.md) the top 10 of a k = 100 search held 0.90 of the exact top 10 at
#: ef 200, 0.95 at 400 and 0.96 at 600: search asks for 100, so 500.
EF_SEARCH_MIN = 100
EF_PER_RESULT = 5
EF_SEARCH_MAX = 1_000
#: Rows an iterative scan may visit before it stops (pgvector's default is 20,000).
MAX_SCAN_TUPLES = 40_000
#: Vectors of a model up to which a missing index is built at once (a few seconds at
#: most, blocking writes to the table meanwhile); above, in the background.
SYNC_BUILD_MAX = 20_000
#: How long a build at once waits for writers' locks before leaving it for later.
LOCK_TIMEOUT_MS = 2_000
#: Seconds between two checks for a model's index while it is missing.
RECHECK_SECONDS = 30.0
#: Seconds between two reads of the model's size (used to choose exact or approximate
#: search for a filter; a second's staleness changes nothing).
REFRESH_SECONDS = 1.0
_builders: dict[tuple[str, str, int], threading.Thread] = {}
_builders_lock = threading.Lock()


def _lock_key(model: str, dim: int) -> int:
    """The advisory lock a model's index build holds (a signed 64-bit key)."""
    digest = schema.index_name(model, dim)[len(schema.INDEX_PREFIX) :][:15]
    return int(digest, 16) - (1 << 59)


def hnsw_state(conn: Connection, model: str, dim: int) -> str:
    """``"valid"``, ``"invalid"`` (a failed concurrent build) or ``"missing"``."""
    valid = conn.execute(
        text(
            "SELECT i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
            "WHERE c.relname = :name AND c.relnamespace = current_schema()::regnamespace"
        ),
        {"name": schema.index_name(model, dim)},
    ).scalar_one_or_none()
    if valid is None:
        return "missing"
    return "valid" if valid else "invalid"


def _build_now(engine: Engine, model: str, dim: int) -> bool:
    """CREATE INDEX in one short transaction; False when another build or writer holds
    the table longer than :data:`LOCK_TIMEOUT_MS`."""
    try:
        with engine.begin() as conn:
            got = conn.execute(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _lock_key(model, dim)}
            ).scalar_one()
            if not got:
                return False
            conn.execute(text(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}"))
            conn.execute(text("SET LOCAL statement_timeout = 0"))  # a web engine's limit
            memory = _build_memory(conn, model, dim)
            conn.execute(text(f"SET LOCAL maintenance_work_mem = '{memory}'"))
            if hnsw_state(conn, model, dim) == "invalid":
                conn.execute(text(f"DROP INDEX IF EXISTS {schema.index_name(model, dim)}"))
            conn.execute(text(schema.create_index_sql(model, dim)))
        return True
    except DBAPIError as exc:
        log.warning("could not build the HNSW index of %s yet: %s", model, exc.orig)
        return False


def _build_memory(conn: Connection, model: str, dim: int) -> str:
    """``maintenance_work_mem`` for the model's graph to be built in memory."""
    return schema.build_memory(count_model(conn, model), dim)


def _build_in_background(engine: Engine, model: str, dim: int) -> None:
    """CREATE INDEX CONCURRENTLY on an autocommit connection, under a session advisory lock."""
    key = _lock_key(model, dim)
    try:
        with engine.connect() as conn:
            auto = conn.execution_options(isolation_level="AUTOCOMMIT")
            if not auto.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar():
                return  # another process builds it
            try:
                memory = _build_memory(auto, model, dim)
                auto.execute(text(f"SET maintenance_work_mem = '{memory}'"))
                auto.execute(text("SET statement_timeout = 0"))  # minutes at a million
                if hnsw_state(auto, model, dim) == "invalid":
                    name = schema.index_name(model, dim)
                    auto.execute(text(f"DROP INDEX CONCURRENTLY IF EXISTS {name}"))
                started = time.monotonic()
                auto.execute(text(schema.create_index_sql(model, dim, concurrently=True)))
                log.info("built the HNSW index of %s in %.1f s", model, time.monotonic() - started)
            finally:
                auto.execute(text("RESET maintenance_work_mem"))
                auto.execute(text("RESET statement_timeout"))
                auto.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
    except Exception as exc:  # a background thread: log, the next check starts another
        log.warning("building the HNSW index of %s failed: %s", model, exc)


def ensure_index(engine: Engine, model: str, dim: int, *, background: bool = True) -> bool:
    """Make sure the model's HNSW index exists; True once it is usable.

    Built at once while the model has at most :data:`SYNC_BUILD_MAX` vectors (or when
    ``background`` is False), else started in a background thread (False until done).
    """
    if dim <= 0:
        return False
    with engine.connect() as conn:
        if hnsw_state(conn, model, dim) == "valid":
            return True
        count = count_model(conn, model)
    if count <= SYNC_BUILD_MAX or not background:
        return _build_now(engine, model, dim)
    key = (str(engine.url), model, dim)
    with _builders_lock:
        running = _builders.get(key)
        if running is None or not running.is_alive():
            thread = threading.Thread(
                target=_build_in_background,
                args=(engine, model, dim),
                name=f"hnsw-build-{model}",
                daemon=True,
            )
            _builders[key] = thread
            thread.start()
    return False


def drop_indexes(conn: Connection, keep: Collection[str] = ()) -> list[str]:
    """Drop the per-model HNSW indexes except those named in ``keep``; return the dropped."""
    names = conn.execute(
        text(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = 'paper_embeddings' AND starts_with(indexname, :prefix)"
        ),
        {"prefix": schema.INDEX_PREFIX},
    ).scalars()
    dropped = [str(n) for n in names if n not in keep]
    for name in dropped:
        conn.execute(text(f'DROP INDEX IF EXISTS "{name}"'))
    return dropped


class PgVectorIndex:
    """One model's vectors, searched by pgvector in PostgreSQL (see the module docstring)."""

    kind = "pgvector"
    origin = None
    pending = 0

    def __init__(self, engine: Engine, model: str, dim: int, *, size: int) -> None:
        self.engine = engine
        self.model = model
        self.dim = dim
        self._size = size
        self._version: int | None = None
        self._refreshed_at = time.monotonic()
        self._indexed = False
        self._checked_at = -math.inf
        self._iterative = True
        self._literal = schema.model_literal(model)

    @classmethod
    def load(cls, engine: Engine, model: str, dim: int | None = None) -> PgVectorIndex:
        """The index of ``model`` (reads its size, and its dimension unless given; builds
        nothing heavy unless the model's HNSW index is missing and small)."""
        with engine.connect() as conn:
            if not dim:
                dim = _stored_dim(conn, model)
            size = count_model(conn, model)
            version = read_journal_version(conn, model)
            extension = schema.extension_version(conn) or (0,)
        index = cls(engine, model, dim, size=size)
        index._version = version
        index._iterative = extension >= schema.ITERATIVE_SCAN_VERSION
        index._check_index()
        return index

    # --- facts --------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """How many papers have a vector of this model (as of the last refresh)."""
        return self._size

    @property
    def indexed(self) -> bool:
        """Whether the model's HNSW index exists (else searches are exact scans)."""
        return self._indexed

    def vector_of(self, paper_id: int) -> np.ndarray | None:
        found = self.vectors_of([paper_id])
        return found.get(paper_id)

    def vectors_of(self, paper_ids: Sequence[int]) -> dict[int, np.ndarray]:
        """The stored vectors of these papers (absent ones left out)."""
        with self.engine.connect() as conn:
            ids, matrix = fetch_vectors(conn, self.model, list(paper_ids))
        return {int(pid): matrix[i] for i, pid in enumerate(ids)}

    # --- keeping up ---------------------------------------------------------------------------

    def refresh(
        self, engine: Engine | None = None, *, full: bool = False, version: int | None = None
    ) -> int:
        """Nothing to catch up (the database is the index): at most every
        :data:`REFRESH_SECONDS` (always with ``full``), re-reads the size when the model's
        change journal moved, and looks for a missing HNSW index now and then. Returns 0.
        ``version``: the journal's version when the caller has read it already."""
        now = time.monotonic()
        if not full and now - self._refreshed_at < REFRESH_SECONDS:
            return 0
        self._refreshed_at = now
        if full or version is None or version != self._version:
            with self.engine.connect() as conn:
                if version is None:
                    version = read_journal_version(conn, self.model)
                if full or version != self._version:
                    self._size = count_model(conn, self.model)
                    self._version = version
                    if self.dim == 0:  # the model's first vectors were stored meanwhile
                        self.dim = _stored_dim(conn, self.model)
        if not self._indexed and time.monotonic() - self._checked_at >= RECHECK_SECONDS:
            self._check_index()
        return 0

    def _check_index(self) -> None:
        if self.dim > 0:  # until the first vector, there is no dimension to index
            self._checked_at = time.monotonic()
            self._indexed = ensure_index(self.engine, self.model, self.dim)

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

        Same contract as :meth:`paperfeed.index.vectors.in_memory.VectorIndex.search`: ``allowed``
        restricts, ``exclude`` removes, fewer than ``k`` only when fewer qualify, ties
        by ascending id.
        """
        if k <= 0 or self.dim == 0:
            return []
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        if q.shape[0] != self.dim:
            raise ValueError(f"the query has {q.shape[0]} dimensions, the index {self.dim}")
        norm = float(np.linalg.norm(q))
        if not math.isfinite(norm) or norm == 0.0:
            return []
        q_text = to_text((q / norm).astype("<f4").tobytes())
        excluded = sorted({int(i) for i in exclude})
        allow: list[int] | None = None
        if allowed is not None:
            allow_array = np.unique(np.asarray(allowed, dtype=np.int64).reshape(-1))
            if excluded:
                allow_array = allow_array[~np.isin(allow_array, excluded)]
            if len(allow_array) == 0:
                return []
            allow = allow_array.tolist()
            if len(allow) ** 2 <= k * max(self._size, 1):
                return self._query(q_text, k, allow, [], exact=True)
        found = self._query(q_text, k, allow, excluded, exact=False)
        if len(found) < k and (self._size > len(found) + len(excluded)):
            found = self._query(q_text, k, allow, excluded, exact=True)
        return found

    def _query(
        self, q_text: str, k: int, allow: list[int] | None, excluded: list[int], *, exact: bool
    ) -> list[tuple[int, float]]:
        """One search as one round trip: settings and query in a single script of literals.

        Every literal is made here from numbers (the query's floats, ids, ``k``) or by
        :func:`~paperfeed.store.pgvector_schema.model_literal`; none comes from a user.
        Sent without parameters, the script runs in one implicit transaction, so the
        ``SET LOCAL`` settings hold for its query and end with it.
        """
        vector = f"'{q_text}'::vector({self.dim})"
        distance = f"{schema.vector_expression(self.dim)} <#> {vector}"
        where = [f"model = {self._literal}"]
        if allow is not None:
            # Exact: looked up by primary key. Approximate: "+ 0" spares the planner an
            # estimate per listed id (7 ms per 10,000) and leaves the HNSW scan to it.
            column = "paper_id" if exact else "(paper_id + 0)"
            where.append(f"{column} = ANY({_int_array(allow)})")
        if excluded:
            where.append(f"paper_id <> ALL({_int_array(excluded)})")
        # The index serves ORDER BY <expression> <#> <query> only; "+ 0" keeps it out.
        order = f"({distance}) + 0" if exact else "distance"
        query = (
            "WITH found AS MATERIALIZED ("
            f"SELECT paper_id, {distance} AS distance "
            f"FROM paper_embeddings WHERE {' AND '.join(where)} ORDER BY {order} "
            f"LIMIT {int(k)}) SELECT paper_id, distance FROM found ORDER BY distance, paper_id"
        )
        script = query if exact else self._settings(k) + query
        with self.engine.connect() as conn:
            auto = conn.execution_options(isolation_level="AUTOCOMMIT")
            raw = auto.connection.driver_connection
            assert raw is not None
            with raw.cursor() as cursor:
                cursor.execute(script)
                while cursor.description is None and cursor.nextset():
                    pass
                rows = cursor.fetchall()
        return [(int(pid), -float(distance)) for pid, distance in rows]

    def _settings(self, k: int) -> str:
        """``SET LOCAL`` statements for one approximate query of ``k`` results."""
        ef = min(max(EF_SEARCH_MIN, EF_PER_RESULT * k), EF_SEARCH_MAX)
        sql = f"SET LOCAL hnsw.ef_search = {int(ef)}; "
        if self._iterative:
            scan = max(MAX_SCAN_TUPLES, 4 * k)
            sql += "SET LOCAL hnsw.iterative_scan = relaxed_order; "
            sql += f"SET LOCAL hnsw.max_scan_tuples = {int(scan)}; "
        return sql


def _stored_dim(conn: Connection, model: str) -> int:
    """The model's dimension: recorded with its vectors, else read off one of them; 0 if none."""
    recorded = recorded_model(conn)
    if recorded is not None and recorded[0] == model:
        return recorded[1]
    dim = conn.execute(
        text(
            "SELECT vector_dims(vector) FROM paper_embeddings "
            f"WHERE model = {schema.model_literal(model)} LIMIT 1"
        )
    ).scalar_one_or_none()
    return int(dim or 0)


def _int_array(ids: Sequence[int]) -> str:
    """An ``integer[]`` literal of these ids."""
    return "'{" + ",".join(str(int(i)) for i in ids) + "}'::integer[]"
