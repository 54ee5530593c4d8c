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
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Connection, Engine, select

from paperfeed.index.embedder import paper_text
from paperfeed.index.term_view import SMALL_CORPUS, fit_terms, transform_terms
from paperfeed.index.vector_table import (
    count_model,
    load_vectors,
    read_journal,
    read_journal_version,
)
from paperfeed.store.tables.papers import papers

if TYPE_CHECKING:  # scipy takes a second to import: only where rows are made
    from scipy import sparse

#: Share of the fitted papers that may be added or changed before the vocabulary and idf
#: are fitted again (until then new papers get rows in the fitted terms).
REFIT_SHARE = 0.2


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
    #: The fitted tf-idf vectorizer, the papers it was fitted on, and the rows made with
    #: it since (papers added or changed after the fit).
    vectorizer: Any = field(default=None, compare=False, repr=False)
    fitted_on: int = 0
    added_since_fit: int = 0
    _index: dict[int, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._index.update({int(pid): row for row, pid in enumerate(self.ids)})

    def rows_of(self, paper_ids: Sequence[int]) -> np.ndarray:
        """Rows of these papers (absent papers left out), in the given order."""
        return np.array([self._index[p] for p in paper_ids if p in self._index], dtype=np.int64)

    def row_of(self, paper_id: int) -> int | None:
        return self._index.get(paper_id)


def _unit(dense: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(dense, axis=1, keepdims=True)
    return (dense / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def _float32_rows(matrix: sparse.spmatrix) -> sparse.csr_matrix:
    # float32 halves the values' memory (a 100 k-paper hub: ~100 MB of tf-idf rows in
    # float64) and keeps the scoring product in one type: a float32 matrix times a float64
    # vector makes scipy copy the whole matrix to float64 on every call.
    from scipy import sparse

    terms = sparse.csr_matrix(matrix, dtype=np.float32)
    terms.sum_duplicates()  # canonical (sorted) rows: the model's training matrix reuses them
    return terms


def build_features(
    ids: np.ndarray, dense: np.ndarray, texts: Sequence[str], key: tuple[int, int] = (0, 0)
) -> Features:
    """Features of a corpus given its embeddings and its texts (row-aligned)."""
    unit = _unit(dense)
    view = fit_terms(texts)
    if view is None:
        return Features(np.asarray(ids, dtype=np.int64), unit, None, (), key)
    terms = _float32_rows(view.matrix)
    return Features(
        np.asarray(ids, dtype=np.int64),
        unit,
        terms,
        view.vocabulary,
        key,
        vectorizer=view.vectorizer,
        fitted_on=len(texts),
    )


def extend_features(
    previous: Features,
    ids: np.ndarray,
    dense: np.ndarray,
    changed: set[int],
    texts: dict[int, str],
    key: tuple[int, int],
) -> Features:
    """The corpus ``ids`` (row-aligned with ``dense``) from ``previous``: the tf-idf rows
    of papers neither new nor in ``changed`` are kept, the others made from ``texts`` (by
    id) with the previous fit. Papers of ``ids`` left without a row or text are dropped."""
    from scipy import sparse

    assert previous.terms is not None and previous.vectorizer is not None
    ids = np.asarray(ids, dtype=np.int64)
    old_rows = np.array([previous.row_of(int(p)) for p in ids], dtype=object)
    fresh = np.array(
        [old is None or int(p) in changed for p, old in zip(ids, old_rows, strict=True)],
        dtype=bool,
    )
    keep = ~fresh | np.array([int(p) in texts for p in ids], dtype=bool)
    ids, dense, fresh, old_rows = ids[keep], dense[keep], fresh[keep], old_rows[keep]
    kept = previous.terms[np.asarray(old_rows[~fresh], dtype=np.int64)]
    made = transform_terms(previous.vectorizer, [texts[int(p)] for p in ids[fresh]])
    stacked = sparse.vstack([kept, _float32_rows(made)], format="csr")
    # Back into the order of ids: the kept rows first in ``stacked``, then the made ones.
    order = np.empty(len(ids), dtype=np.int64)
    order[~fresh] = np.arange(int((~fresh).sum()))
    order[fresh] = int((~fresh).sum()) + np.arange(int(fresh.sum()))
    return Features(
        ids,
        _unit(dense),
        _float32_rows(stacked[order]),
        previous.vocabulary,
        key,
        vectorizer=previous.vectorizer,
        fitted_on=previous.fitted_on,
        added_since_fit=previous.added_since_fit + int(fresh.sum()),
    )


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
                self._features = self._load(key, self._features)
                self._key = key
            return self._features

    def _load(self, key: tuple[int, int], previous: Features | None) -> Features:
        with self.engine.connect() as conn:
            ids, matrix = load_vectors(conn, self.model)
            matrix = matrix[: len(ids)]
            changed = self._changed_since(conn, previous, len(ids))
            wanted = [int(i) for i in ids]
            if changed is not None and previous is not None:
                wanted = [p for p in wanted if p in changed or previous.row_of(p) is None]
            text = self._texts(conn, wanted)
        if changed is not None and previous is not None:
            return extend_features(previous, ids, matrix, changed, text, key)
        keep = [row for row, pid in enumerate(ids) if int(pid) in text]
        kept_ids = ids[keep]
        return build_features(kept_ids, matrix[keep], [text[int(p)] for p in kept_ids], key)

    def _changed_since(
        self, conn: Connection, previous: Features | None, papers_now: int
    ) -> set[int] | None:
        """Papers whose vectors changed since ``previous`` was made, when it can be brought
        up to date rather than fitted again (None: fit again)."""
        if previous is None or previous.vectorizer is None or previous.terms is None:
            return None
        if previous.fitted_on < SMALL_CORPUS:  # its vectorizer's settings depend on the size
            return None
        changed = read_journal(conn, self.model).changed_after(previous.key[0])
        if changed is None:
            return None
        growth = max(len(changed), papers_now - len(previous.ids))
        if previous.added_since_fit + growth > REFIT_SHARE * previous.fitted_on:
            return None
        return {int(i) for i in changed}

    @staticmethod
    def _texts(conn: Connection, paper_ids: Sequence[int]) -> dict[int, str]:
        text: dict[int, str] = {}
        for start in range(0, len(paper_ids), 1_000):
            chunk = paper_ids[start : start + 1_000]
            for pid, title, abstract in conn.execute(
                select(papers.c.id, papers.c.title, papers.c.abstract).where(papers.c.id.in_(chunk))
            ):
                text[int(pid)] = paper_text(title, abstract)
        return text
