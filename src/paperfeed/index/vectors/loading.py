"""Loading a :class:`~paperfeed.index.vectors.in_memory.VectorIndex`: the machine's
embeddings file mapped and caught up with the journal, or every vector streamed from the
database (and written as a new file for the machine's other processes).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import Connection, Engine

from paperfeed.index.vectors.embedding_file import EmbeddingFile, database_identity
from paperfeed.index.vectors.hnsw import DEFAULT_PARAMS, HnswParams
from paperfeed.index.vectors.snapshot import headroom
from paperfeed.index.vectors.table import (
    collect_vectors,
    count_model,
    iter_vectors,
    read_journal,
    recorded_model,
)

if TYPE_CHECKING:
    from paperfeed.index.vectors.in_memory import VectorIndex

log = logging.getLogger(__name__)

#: A mapped embeddings file is caught up from the journal when at most this share of its
#: rows (or _REWRITE_MIN) changed since it was written; beyond, a new one is written.
REWRITE_FRACTION = 0.05
_REWRITE_MIN = 20_000


def load_index(
    cls: type[VectorIndex],
    engine: Engine,
    model: str,
    *,
    exact_max: int,
    cache_dir: Path | None,
    params: HnswParams = DEFAULT_PARAMS,
) -> VectorIndex:
    """Every vector of ``model``: with ``cache_dir``, the machine's embeddings file
    mapped (:mod:`.embedding_file`), else streamed from the database into one matrix.

    The file is shared by the machine's processes: it is mapped copy-on-write, and the
    papers changed since it was written (the vector journal names them) go to its
    spare rows as this process's own pages. When it is missing, or further behind
    than :data:`REWRITE_FRACTION` of its rows, the vectors are read from the database
    and written as a new file (one process at a time; the others then map it).

    Above ``exact_max`` papers an HNSW graph is needed. ``cache_dir`` holds one
    per (model, dimension, graph parameters), with the ids and a fingerprint of
    each vector it was made from: identical data reuses it; a few changed papers
    (at most 10 %, or 1,000) are removed and re-added, seconds of work; anything
    more rebuilds it (about 6.5 minutes at a million papers on 2 cores) and
    saves it there. Without ``cache_dir`` the graph is always built.
    """
    shared = (
        None if cache_dir is None else EmbeddingFile(cache_dir, model, database_identity(engine))
    )
    if shared is not None:
        index = from_file(
            cls, engine, shared, model, exact_max=exact_max, cache_dir=cache_dir, params=params
        )
        if index is not None:
            return index
    with engine.connect() as conn:
        # The journal version is read first: whatever changes after it is
        # picked up again by the next refresh (re-applying is harmless).
        version = read_journal(conn, model).version
        expected = count_model(conn, model)
        ids, backing = collect_vectors(
            iter_vectors(conn, model), expected, headroom=headroom(expected)
        )
        dim = backing.shape[1] or _recorded_dim(conn, model)
    if backing.shape[1] == 0:
        backing = np.empty((headroom(0), dim), dtype=np.float32)
    if shared is not None and len(ids):
        with shared.lock():  # another process may have written one meanwhile
            index = from_file(
                cls, engine, shared, model, exact_max=exact_max, cache_dir=cache_dir, params=params
            )
            if index is not None:
                return index
            try:
                shared.save(ids, backing[: len(ids)], (version, len(ids)))
            except OSError as exc:
                log.warning("could not write the embeddings file in %s: %s", cache_dir, exc)
            else:
                index = from_file(
                    cls,
                    engine,
                    shared,
                    model,
                    exact_max=exact_max,
                    cache_dir=cache_dir,
                    params=params,
                )
                if index is not None:
                    return index
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


def from_file(
    cls: type[VectorIndex],
    engine: Engine,
    shared: EmbeddingFile,
    model: str,
    *,
    exact_max: int,
    cache_dir: Path | None,
    params: HnswParams,
) -> VectorIndex | None:
    """The index over the mapped embeddings file, caught up with the journal; None when
    there is no file or it is too far behind (or the journal no longer reaches it)."""
    mapped = shared.load(copy_on_write=True)
    if mapped is None:
        return None
    with engine.connect() as conn:
        changed = read_journal(conn, model).changed_after(mapped.key[0])
    if changed is None or len(changed) > max(_REWRITE_MIN, REWRITE_FRACTION * mapped.rows):
        return None
    index = cls._create(
        model,
        mapped.ids,
        mapped.matrix,
        mapped.rows,
        dim=int(mapped.matrix.shape[1]),
        exact_max=exact_max,
        cache_dir=cache_dir,
        version=mapped.key[0],
        params=params,
        hashes=mapped.hashes,
    )
    index.refresh(engine)
    return index


def _recorded_dim(conn: Connection, model: str) -> int:
    recorded = recorded_model(conn)
    return recorded[1] if recorded is not None and recorded[0] == model else 0
