"""The corpus the recommendation model ranks: every paper with a vector of the configured
embedder, its unit embedding and its tf-idf row (:mod:`.term_view`).

:func:`build_features` fits the terms and makes every row; :func:`extend_features` brings
features up to date from the vector journal (new and changed papers get rows in the
fitted terms, the rest are kept). Where they live between requests, and who makes them:
:mod:`.cache` (memory-mapped files under the index folder,
:mod:`.files`, shared by the processes of a machine).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from paperfeed.index.recommend.postings import Postings
from paperfeed.index.recommend.rows import RowReader
from paperfeed.index.recommend.term_view import fit_terms, restore_vectorizer, transform_terms

if TYPE_CHECKING:  # scipy takes a second to import: only where rows are made
    from scipy import sparse


@dataclass(frozen=True)
class Features:
    """The corpus as the model sees it: row i is paper ``ids[i]`` (ids ascending).

    The arrays may be memory-mapped files (read-only) shared with other processes: nothing
    here writes into them, and no per-paper Python object is made (a row is found by a
    binary search of ``ids``)."""

    ids: np.ndarray  # (n,) int64, ascending
    dense: np.ndarray  # (n, d) float32, unit rows
    terms: sparse.csr_matrix | None  # (n, v) l2-normalised tf-idf rows, float32
    vocabulary: Sequence[str] = ()
    #: What the corpus was built from (the vector journal's version and the vector count):
    #: a model trained on other features must not be used on these.
    key: tuple[int, int] = (0, 0)
    #: The fitted tf-idf vectorizer, the papers it was fitted on, and the rows made with
    #: it since (papers added or changed after the fit). Features read from files carry
    #: the fitted idf instead; :meth:`term_vectorizer` makes the vectorizer from it.
    vectorizer: Any = field(default=None, compare=False, repr=False)
    fitted_on: int = 0
    added_since_fit: int = 0
    idf: np.ndarray | None = field(default=None, compare=False, repr=False)
    #: Whether ``dense`` holds the stored vectors bit for bit (then the machine's shared
    #: embeddings file can serve as the embedding part: see :mod:`.files`).
    dense_as_stored: bool = field(default=False, compare=False)
    #: Reads single rows from the files the arrays are mapped from, without mapping them
    #: (:mod:`.rows`); None when the features are held in memory.
    reader: RowReader | None = field(default=None, compare=False, repr=False)
    #: The tf-idf rows by term (:mod:`.postings`): from the files, or made from ``terms``
    #: when first asked (:meth:`term_postings`).
    postings: Postings | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.ids) > 1 and not bool(np.all(self.ids[1:] > self.ids[:-1])):
            raise ValueError("feature rows must be in ascending paper id order")

    def rows_of(self, paper_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Rows of these papers (absent papers left out), in the given order."""
        wanted = np.asarray(paper_ids, dtype=np.int64).reshape(-1)
        if len(self.ids) == 0 or len(wanted) == 0:
            return np.empty(0, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.ids, wanted), len(self.ids) - 1)
        rows: np.ndarray = pos[self.ids[pos] == wanted].astype(np.int64)
        return rows

    def dense_rows(self, rows: np.ndarray) -> np.ndarray:
        """The unit embeddings of these rows (a copy, in the given order): read from the
        file when the features are mapped (nothing mapped for a few scattered rows)."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if self.reader is not None and self.reader.dense is not None:
            return self.reader.dense_rows(rows)
        return np.asarray(self.dense[rows])

    def term_rows(self, rows: np.ndarray) -> sparse.csr_matrix:
        """The tf-idf rows of these rows (in the given order), read as :meth:`dense_rows`."""
        assert self.terms is not None
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if self.reader is not None and self.reader.data is not None:
            return self.reader.term_rows(self.terms, rows)
        picked: sparse.csr_matrix = self.terms[rows]
        return picked

    def term_postings(self) -> Postings | None:
        """The tf-idf rows by term: the files', or made once from rows held in memory.
        None without terms, and for mapped features whose files hold none (written before
        postings were: ``paperfeed index update`` adds them, see :mod:`.files`)."""
        if self.postings is None and self.terms is not None and self.reader is None:
            object.__setattr__(self, "postings", Postings.of_terms(self.terms))
        return self.postings

    def row_of(self, paper_id: int) -> int | None:
        rows = self.rows_of([paper_id])
        return int(rows[0]) if len(rows) else None

    def idf_values(self) -> np.ndarray | None:
        """The fitted terms' idf (what :func:`extend_features` needs besides the terms)."""
        if self.idf is not None:
            return self.idf
        if self.vectorizer is None:
            return None
        return np.asarray(self.vectorizer.idf_, dtype=np.float64)

    def term_vectorizer(self) -> Any:
        """The fitted vectorizer, made from the stored terms and idf when read from files."""
        if self.vectorizer is None and self.idf is not None and self.vocabulary:
            made = restore_vectorizer(self.fitted_on, self.vocabulary, np.asarray(self.idf))
            object.__setattr__(self, "vectorizer", made)
        return self.vectorizer


def _unit(dense: np.ndarray) -> tuple[np.ndarray, bool]:
    """A float32 copy with unit rows, made a block at a time (no full-size temporaries);
    rows already of unit length (within 1e-4, as every embedder writes them) are kept bit
    for bit, so that the embedding part can be the machine's shared embeddings file
    (:mod:`paperfeed.index.vectors.embedding_file`) rather than a second copy. Also says
    whether every row was kept so."""
    out = np.array(dense, dtype=np.float32, copy=True)
    kept = True
    for start in range(0, len(out), 65_536):
        block = out[start : start + 65_536]
        norms = np.sqrt(np.einsum("ij,ij->i", block, block))[:, None]
        off = (np.abs(norms - 1.0) > 1e-4) & (norms > 0)
        if off.any():
            kept = False
            block[off[:, 0]] /= norms[off[:, 0]]
    return out, kept


def _float32_rows(matrix: sparse.spmatrix) -> sparse.csr_matrix:
    # float32 halves the values' memory (a 100 k-paper hub: ~100 MB of tf-idf rows in
    # float64) and keeps the scoring product in one type: a float32 matrix times a float64
    # vector makes scipy copy the whole matrix to float64 on every call.
    from scipy import sparse

    terms = sparse.csr_matrix(matrix, dtype=np.float32)
    terms.sum_duplicates()  # canonical (sorted) rows: the model's training matrix reuses them
    return terms


def picked_rows(array: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``array[rows]`` (an index or a mask), as a view without a copy where ``rows`` is a
    run of consecutive rows: the usual case (ids come ascending, none dropped), where a
    copy of every embedding is 1.5 GB at a million papers."""
    rows = np.asarray(rows)
    if rows.dtype == bool:
        if bool(rows.all()):
            return array
        if not rows.any():
            return array[:0]
        rows = np.flatnonzero(rows)
    if len(rows) == 0:
        return array[:0]
    first = int(rows[0])
    if int(rows[-1]) - first == len(rows) - 1 and bool(np.all(np.diff(rows) == 1)):
        return array[first : first + len(rows)]
    picked: np.ndarray = array[rows]
    return picked


def _ascending(ids: np.ndarray) -> np.ndarray:
    """The order that sorts ``ids`` (their rows follow it)."""
    return np.argsort(np.asarray(ids, dtype=np.int64), kind="stable")


def build_features(
    ids: np.ndarray, dense: np.ndarray, texts: Sequence[str], key: tuple[int, int] = (0, 0)
) -> Features:
    """Features of a corpus given its embeddings and its texts (row-aligned)."""
    order = _ascending(ids)
    ids = np.asarray(ids, dtype=np.int64)[order]
    unit, as_stored = _unit(picked_rows(np.asarray(dense), order))
    texts = [texts[int(i)] for i in order]
    view = fit_terms(texts)
    if view is None:
        return Features(ids, unit, None, (), key, dense_as_stored=as_stored)
    return Features(
        ids,
        unit,
        _float32_rows(view.matrix),
        view.vocabulary,
        key,
        vectorizer=view.vectorizer,
        fitted_on=len(texts),
        dense_as_stored=as_stored,
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

    vec = previous.term_vectorizer()
    assert previous.terms is not None and vec is not None
    order = _ascending(ids)
    ids = np.asarray(ids, dtype=np.int64)[order]
    dense = picked_rows(np.asarray(dense), order)
    n_old = len(previous.ids)
    pos = np.minimum(np.searchsorted(previous.ids, ids), max(n_old - 1, 0))
    known = previous.ids[pos] == ids if n_old else np.zeros(len(ids), dtype=bool)
    fresh = ~known | np.isin(ids, np.fromiter(changed, dtype=np.int64, count=len(changed)))
    with_text = np.isin(ids, np.fromiter(texts, dtype=np.int64, count=len(texts)))
    keep = ~fresh | with_text
    ids, dense, fresh, pos = ids[keep], picked_rows(dense, keep), fresh[keep], pos[keep]
    kept = previous.terms[pos[~fresh]]
    made = transform_terms(vec, [texts[int(p)] for p in ids[fresh]])
    stacked = sparse.vstack([kept, _float32_rows(made)], format="csr")
    # Back into the order of ids: the kept rows first in ``stacked``, then the made ones.
    back = np.empty(len(ids), dtype=np.int64)
    back[~fresh] = np.arange(int((~fresh).sum()))
    back[fresh] = int((~fresh).sum()) + np.arange(int(fresh.sum()))
    unit, as_stored = _unit(dense)
    return Features(
        ids,
        unit,
        _float32_rows(stacked[back]),
        previous.vocabulary,
        key,
        vectorizer=vec,
        fitted_on=previous.fitted_on,
        added_since_fit=previous.added_since_fit + int(fresh.sum()),
        idf=previous.idf,
        dense_as_stored=as_stored and previous.dense_as_stored,
    )
