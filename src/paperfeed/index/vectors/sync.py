"""Bringing an in-memory copy of one model's vectors in line with ``paper_embeddings``.

:meth:`paperfeed.index.vectors.in_memory.VectorIndex.refresh` decides from the change journal
what to compare; these functions compare it: the vectors of a few ids
(:func:`sync_ids`), every stored vector (:func:`sync_everything`) or only the id
lists (:func:`sync_id_list`). Each adds what is new or differs, removes what is no
longer stored and returns how many papers changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from sqlalchemy import Connection

from paperfeed.index.vectors.snapshot import EMPTY_IDS, Snapshot, in_sorted
from paperfeed.index.vectors.table import fetch_vectors, iter_vectors, stored_ids


class Mirror(Protocol):
    """The in-memory side: what it holds now, and its two changes."""

    model: str
    dim: int

    @property
    def snapshot(self) -> Snapshot: ...

    def add(self, ids: Sequence[int] | np.ndarray, matrix: np.ndarray) -> None: ...

    def remove(self, ids: Sequence[int] | np.ndarray) -> None: ...


def apply_vectors(mirror: Mirror, ids: np.ndarray, matrix: np.ndarray) -> int:
    """Add those of (ids, matrix) that are new or differ from what is held."""
    if len(ids) == 0:
        return 0
    if mirror.dim == 0 and mirror.snapshot.n == 0:
        mirror.add(ids, matrix)
        return len(ids)
    snap = mirror.snapshot
    rows = snap.rows_of(ids)
    held = rows >= 0
    differs = ~held
    differs[held] = np.any(snap.matrix[rows[held]] != matrix[held], axis=1)
    if differs.any():
        mirror.add(ids[differs], matrix[differs])
    return int(differs.sum())


def sync_ids(conn: Connection, mirror: Mirror, ids: np.ndarray) -> int:
    """Compare the vectors of these ids (those no longer stored are removed)."""
    found_ids, matrix = fetch_vectors(conn, mirror.model, ids.tolist())
    changed = apply_vectors(mirror, found_ids, matrix)
    gone = ids[~in_sorted(ids, found_ids)]
    gone = gone[in_sorted(gone, mirror.snapshot.sorted_ids)]
    mirror.remove(gone.tolist())
    return changed + len(gone)


def sync_everything(conn: Connection, mirror: Mirror) -> int:
    """Compare every stored vector of the model, streamed."""
    seen: list[np.ndarray] = []
    changed = 0
    for ids, matrix in iter_vectors(conn, mirror.model):
        changed += apply_vectors(mirror, ids, matrix)
        seen.append(ids)
    return changed + _drop_all_but(mirror, np.concatenate(seen) if seen else EMPTY_IDS)


def sync_id_list(conn: Connection, mirror: Mirror) -> int:
    """Compare the id lists only: fetch the ids not held, remove those not stored."""
    stored = stored_ids(conn, mirror.model)
    new = stored[~in_sorted(stored, mirror.snapshot.sorted_ids)]
    changed = 0
    if len(new):
        found_ids, matrix = fetch_vectors(conn, mirror.model, new.tolist())
        changed = apply_vectors(mirror, found_ids, matrix)
    return changed + _drop_all_but(mirror, stored)


def _drop_all_but(mirror: Mirror, stored: np.ndarray) -> int:
    held = mirror.snapshot.sorted_ids
    gone = held[~in_sorted(held, stored)]
    mirror.remove(gone.tolist())
    return len(gone)
