"""The ``paper_embeddings`` table: vectors as bytes, their reads and writes, and a change journal.

Every function takes a :class:`~sqlalchemy.Connection` and runs inside the caller's
transaction, on SQLite and PostgreSQL alike. Vectors are little-endian float32 bytes
in Python, one row per paper, tagged with the model that made them; SQLite stores the
bytes, PostgreSQL a pgvector ``vector`` converted exactly both ways by the column type
(:mod:`paperfeed.store.vector_type`), where the model's HNSW index
(:mod:`paperfeed.index.vectors.pgvector_index`) is kept in step by each write.

The change journal lets an in-memory index catch up cheaply (see
:meth:`paperfeed.index.vectors.in_memory.VectorIndex.refresh`). Each model has one
``index_state`` row, ``vectors:<model>``, holding a version counter and the ids
changed at each recent version, compressed into ``[first, last]`` runs::

    {"version": 42, "since": 17, "entries": [[18, [[1, 1000]]], ..., [42, [[5, 5], [9, 12]]]]}

:func:`store_vectors` and :func:`delete_vectors` bump the version in the same
transaction as the change, so a reader that saw version *v* learns exactly which
ids changed after *v* with one primary-key read. Old entries are dropped once the
journal holds more than :data:`paperfeed.index.journal.JOURNAL_MAX_RUNS` runs; ``since``
then says which readers are too far behind and must compare everything instead. Papers deleted
directly (``ON DELETE CASCADE``) bypass the journal; readers find those by
comparing id lists now and then.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
from sqlalchemy import Connection, and_, delete, func, select

from paperfeed.index import journal
from paperfeed.index.journal import Journal, put_state
from paperfeed.store.bulk import insert_rows
from paperfeed.store.tables.papers import index_state, paper_embeddings, papers

#: The ``index_state`` row naming the embedding model in use and its dimension.
MODEL_KEY = "embedding_model"

#: Rows per query when streaming vectors out (about 25 MB of 384-dim vectors).
READ_CHUNK = 16_384

#: Ids per ``IN (...)`` list: SQLite allows 32,766 bound parameters.
IN_CHUNK = 900

_DTYPE = np.dtype("<f4")


def encode(vector: np.ndarray) -> bytes:
    """One vector as stored: float32, little-endian, no header."""
    array = np.asarray(vector)
    if array.ndim != 1:
        raise ValueError(f"expected a 1-D vector, got shape {array.shape}")
    return array.astype(_DTYPE, copy=False).tobytes()


def decode(blob: bytes, dim: int) -> np.ndarray:
    """The vector of a stored blob, as a writable native float32 array of ``dim`` values."""
    if len(blob) != dim * _DTYPE.itemsize:
        raise ValueError(f"a {dim}-dim vector takes {dim * 4} bytes, got {len(blob)}")
    return np.frombuffer(blob, dtype=_DTYPE).astype(np.float32)


def as_batch(ids: Sequence[int] | np.ndarray, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate a batch of (ids, vectors): unique ids, one finite float32 row per id."""
    id_array = np.asarray(ids, dtype=np.int64).reshape(-1)
    rows = np.asarray(matrix)
    if rows.ndim != 2 or rows.shape[0] != id_array.shape[0]:
        raise ValueError(f"expected a ({len(id_array)}, dim) matrix, got shape {rows.shape}")
    if np.unique(id_array).shape[0] != id_array.shape[0]:
        raise ValueError("paper ids must be unique within one batch")
    rows = np.ascontiguousarray(rows, dtype=np.float32)
    if not np.isfinite(rows).all():
        raise ValueError("vectors must be finite")
    return id_array, rows


def _chunks(values: Sequence[int], size: int = IN_CHUNK) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def store_vectors(conn: Connection, model: str, ids: Sequence[int], matrix: np.ndarray) -> None:
    """Store (or replace) the vectors of these papers, made by ``model``.

    A paper has one vector: storing replaces whatever it had, of any model. Runs
    in the caller's transaction and records the ids in the model's change journal.
    """
    id_array, rows = as_batch(ids, matrix)
    if id_array.shape[0] == 0:
        return
    id_list = [int(i) for i in id_array]
    replaced_models: set[str] = set()
    for chunk in _chunks(id_list):
        replaced_models.update(
            conn.execute(
                delete(paper_embeddings)
                .where(paper_embeddings.c.paper_id.in_(chunk))
                .returning(paper_embeddings.c.model)
            ).scalars()
        )
    data = rows.astype(_DTYPE, copy=False)
    insert_rows(
        conn,
        paper_embeddings,
        ("paper_id", "model", "vector"),
        [(pid, model, data[i].tobytes()) for i, pid in enumerate(id_list)],
    )
    for name in sorted(replaced_models | {model}):
        _journal_append(conn, name, id_list)


def iter_vectors(
    conn: Connection, model: str, *, chunk: int = READ_CHUNK
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Stream ``model``'s vectors as (ids int64, matrix float32) chunks in ascending id order.

    Keyset pagination on the ``(model, paper_id)`` index: memory stays at one chunk.
    """
    last = -1
    dim: int | None = None
    while True:
        result = conn.execute(
            select(paper_embeddings.c.paper_id, paper_embeddings.c.vector)
            .where(paper_embeddings.c.model == model, paper_embeddings.c.paper_id > last)
            .order_by(paper_embeddings.c.paper_id)
            .limit(chunk)
        ).all()
        if not result:
            return
        ids = np.fromiter((r[0] for r in result), dtype=np.int64, count=len(result))
        blobs = [bytes(r[1]) for r in result]
        if dim is None:
            dim = len(blobs[0]) // _DTYPE.itemsize
        nbytes = dim * _DTYPE.itemsize
        if any(len(b) != nbytes for b in blobs):
            raise ValueError(f"vectors of model {model!r} have different lengths")
        matrix = np.frombuffer(b"".join(blobs), dtype=_DTYPE).reshape(len(blobs), dim)
        yield ids, matrix.astype(np.float32, copy=False)
        last = int(ids[-1])
        if len(result) < chunk:
            return


def count_model(conn: Connection, model: str) -> int:
    """How many vectors ``model`` has (one index range count)."""
    query = select(func.count()).select_from(paper_embeddings)
    return int(conn.execute(query.where(paper_embeddings.c.model == model)).scalar_one())


def load_vectors(conn: Connection, model: str) -> tuple[np.ndarray, np.ndarray]:
    """All of ``model``'s vectors: (ids int64 ascending, matrix float32 (n, dim)).

    Streamed chunk by chunk into one preallocated matrix, so the peak is the
    matrix plus one chunk, not twice the matrix.
    """
    ids, matrix = collect_vectors(iter_vectors(conn, model), count_model(conn, model))
    return ids, matrix[: ids.shape[0]]


def collect_vectors(
    chunks: Iterable[tuple[np.ndarray, np.ndarray]], expected: int, *, headroom: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Gather streamed chunks into one matrix with ``headroom`` spare rows.

    Returns (ids, backing matrix whose first ``len(ids)`` rows are filled). The
    backing array comes from ``np.empty``: spare rows stay untouched virtual memory
    until written. ``expected`` is a size hint; more rows (written meanwhile by
    another process) grow the matrix.
    """
    id_parts: list[np.ndarray] = []
    backing: np.ndarray | None = None
    filled = 0
    for ids, rows in chunks:
        if backing is None:
            backing = np.empty((max(expected, len(ids)) + headroom, rows.shape[1]), np.float32)
        if filled + len(ids) > backing.shape[0]:
            grown = np.empty((2 * (filled + len(ids)) + headroom, backing.shape[1]), np.float32)
            grown[:filled] = backing[:filled]
            backing = grown
        backing[filled : filled + len(ids)] = rows
        filled += len(ids)
        id_parts.append(ids)
    if backing is None:
        return np.empty(0, dtype=np.int64), np.empty((0, 0), np.float32)
    return np.concatenate(id_parts), backing


def fetch_vectors(
    conn: Connection, model: str, ids: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """The stored vectors of these papers made by ``model`` (absent ones left out), id order."""
    found_ids: list[int] = []
    blobs: list[bytes] = []
    for chunk in _chunks(sorted(set(ids))):
        for pid, blob in conn.execute(
            select(paper_embeddings.c.paper_id, paper_embeddings.c.vector).where(
                paper_embeddings.c.model == model, paper_embeddings.c.paper_id.in_(chunk)
            )
        ):
            found_ids.append(int(pid))
            blobs.append(bytes(blob))
    if not blobs:
        return np.empty(0, np.int64), np.empty((0, 0), np.float32)
    dim = len(blobs[0]) // _DTYPE.itemsize
    order = np.argsort(np.asarray(found_ids, dtype=np.int64), kind="stable")
    matrix = np.frombuffer(b"".join(blobs), dtype=_DTYPE).reshape(len(blobs), dim)
    return np.asarray(found_ids, dtype=np.int64)[order], matrix[order].astype(np.float32)


def stored_ids(conn: Connection, model: str) -> np.ndarray:
    """Every paper id with a vector of ``model``, ascending (an index-only scan)."""
    query = (
        select(paper_embeddings.c.paper_id)
        .where(paper_embeddings.c.model == model)
        .order_by(paper_embeddings.c.paper_id)
    )
    return np.fromiter(conn.execute(query).scalars(), dtype=np.int64)


def missing_ids(conn: Connection, model: str, limit: int | None = None) -> list[int]:
    """Papers with no vector of ``model`` (none at all, or another model's), oldest id first."""
    query = (
        select(papers.c.id)
        .select_from(
            papers.outerjoin(
                paper_embeddings,
                and_(paper_embeddings.c.paper_id == papers.c.id, paper_embeddings.c.model == model),
            )
        )
        .where(paper_embeddings.c.paper_id.is_(None))
        .order_by(papers.c.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return [int(i) for i in conn.execute(query).scalars()]


def delete_vectors(conn: Connection, model: str | None = None) -> int:
    """Delete the vectors of ``model`` (of every model when None); return how many went."""
    if model is None:
        models = list(conn.execute(select(paper_embeddings.c.model).distinct()).scalars())
        deleted = conn.execute(delete(paper_embeddings)).rowcount
    else:
        models = [model]
        deleted = conn.execute(
            delete(paper_embeddings).where(paper_embeddings.c.model == model)
        ).rowcount
    for name in models:
        _journal_reset(conn, name)
    return int(deleted)


def count_vectors(conn: Connection) -> dict[str, int]:
    """How many vectors each model has."""
    query = (
        select(paper_embeddings.c.model, func.count())
        .group_by(paper_embeddings.c.model)
        .order_by(paper_embeddings.c.model)
    )
    return {str(model): int(n) for model, n in conn.execute(query)}


def record_model(conn: Connection, name: str, dim: int) -> None:
    """Remember which model (and dimension) the stored vectors come from."""
    put_state(conn, MODEL_KEY, {"name": name, "dim": int(dim)})


def recorded_model(conn: Connection) -> tuple[str, int] | None:
    """The recorded (model, dimension), or None when nothing was recorded."""
    value = conn.execute(
        select(index_state.c.value).where(index_state.c.name == MODEL_KEY)
    ).scalar_one_or_none()
    if not isinstance(value, dict):
        return None
    return str(value["name"]), int(value["dim"])


# --- the change journal (paperfeed.index.journal), one per model ---------------------------


def journal_name(model: str) -> str:
    """The ``index_state`` name of a model's journal (hashed when the model name is long)."""
    name = f"vectors:{model}"
    if len(name) <= 64:
        return name
    return "vectors:#" + hashlib.sha256(model.encode()).hexdigest()[:40]


def read_journal(conn: Connection, model: str) -> Journal:
    """The model's journal (one primary-key read); an empty one if never written."""
    return journal.read(conn, journal_name(model))


def read_journal_version(conn: Connection, model: str) -> int:
    """Only the version of the model's journal (0 if never written)."""
    return journal.read_version(conn, journal_name(model))


def _journal_append(conn: Connection, model: str, ids: Sequence[int]) -> None:
    journal.append(conn, journal_name(model), ids)


def _journal_reset(conn: Connection, model: str) -> None:
    """Mark everything changed: readers behind this version compare everything."""
    journal.reset(conn, journal_name(model))
