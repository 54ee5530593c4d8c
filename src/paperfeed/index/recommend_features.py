"""The corpus the recommendation model ranks: every paper with a vector of the configured
embedder, its unit embedding and its tf-idf row (:mod:`.term_view`), held in memory.

:class:`FeatureCache` rebuilds it when the stored vectors change (the vector journal's
version and the vector count: two index reads per request): on a 100 k-paper hub that is
some seconds of loading and fitting after an ingest, then nothing until the next one.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from sqlalchemy import Engine, select

from paperfeed.index.embedder import paper_text
from paperfeed.index.term_view import fit_terms
from paperfeed.index.vector_table import count_model, load_vectors, read_journal_version
from paperfeed.store.tables.papers import papers


@dataclass(frozen=True)
class Features:
    """The corpus as the model sees it: row i is paper ``ids[i]``."""

    ids: np.ndarray  # (n,) int64
    dense: np.ndarray  # (n, d) float32, unit rows
    terms: sparse.csr_matrix | None  # (n, v) l2-normalised tf-idf rows, float32
    vocabulary: Sequence[str] = ()
    #: What the corpus was built from (the vector journal's version and the vector count):
    #: a model trained on other features must not be used on these.
    key: tuple[int, int] = (0, 0)
    _index: dict[int, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._index.update({int(pid): row for row, pid in enumerate(self.ids)})

    def rows_of(self, paper_ids: Sequence[int]) -> np.ndarray:
        """Rows of these papers (absent papers left out), in the given order."""
        return np.array([self._index[p] for p in paper_ids if p in self._index], dtype=np.int64)

    def row_of(self, paper_id: int) -> int | None:
        return self._index.get(paper_id)


def build_features(
    ids: np.ndarray, dense: np.ndarray, texts: Sequence[str], key: tuple[int, int] = (0, 0)
) -> Features:
    """Features of a corpus given its embeddings and its texts (row-aligned)."""
    norms = np.linalg.norm(dense, axis=1, keepdims=True)
    unit = (dense / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    view = fit_terms(texts)
    if view is None:
        return Features(np.asarray(ids, dtype=np.int64), unit, None, (), key)
    # float32 halves the values' memory (a 100 k-paper hub: ~100 MB of tf-idf rows in
    # float64) and keeps the scoring product in one type: a float32 matrix times a float64
    # vector makes scipy copy the whole matrix to float64 on every call.
    terms = sparse.csr_matrix(view.matrix, dtype=np.float32)
    terms.sum_duplicates()  # canonical (sorted) rows: the model's training matrix reuses them
    return Features(np.asarray(ids, dtype=np.int64), unit, terms, view.vocabulary, key)


class FeatureCache:
    """The features of one database and embedder, rebuilt when its vectors change."""

    def __init__(self, engine: Engine, model: str) -> None:
        self.engine = engine
        self.model = model
        self._key: tuple[int, int] | None = None
        self._features: Features | None = None
        self._lock = threading.Lock()

    def features(self) -> Features:
        with self.engine.connect() as conn:
            key = (read_journal_version(conn, self.model), count_model(conn, self.model))
        with self._lock:
            if self._features is None or key != self._key:
                self._features = self._load(key)
                self._key = key
            return self._features

    def _load(self, key: tuple[int, int]) -> Features:
        with self.engine.connect() as conn:
            ids, matrix = load_vectors(conn, self.model)
            text: dict[int, str] = {}
            id_list = [int(i) for i in ids]
            for start in range(0, len(id_list), 1_000):
                chunk = id_list[start : start + 1_000]
                for pid, title, abstract in conn.execute(
                    select(papers.c.id, papers.c.title, papers.c.abstract).where(
                        papers.c.id.in_(chunk)
                    )
                ):
                    text[int(pid)] = paper_text(title, abstract)
        keep = [row for row, pid in enumerate(id_list) if pid in text]
        kept_ids = ids[keep]
        texts = [text[int(p)] for p in kept_ids]
        return build_features(kept_ids, matrix[: len(ids)][keep], texts, key)
