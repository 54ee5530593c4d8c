"""The tf-idf rows turned around: for each term, the papers that hold it and its value in
each (the tf-idf matrix by column, like a word index's postings).

A member's shortlist (:mod:`paperfeed.rank.recommend.shortlist`) sums the postings of the
terms that weigh most in their model, to find the papers the tf-idf part of the model scores
highest without reading every paper's row. On disk they are three arrays of the feature
files (:mod:`.files`), read a term at a time with ``pread`` (:mod:`.rows`); a corpus held in
memory (tests, benchmarks) turns its matrix around once, when first asked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from paperfeed.index.recommend.rows import ArrayReader

if TYPE_CHECKING:
    from scipy import sparse


class Postings:
    """Each term's rows (ascending) and values: term ``t``'s are ``[indptr[t], indptr[t+1])``
    of ``rows`` and ``values`` (arrays, or readers of the files that hold them)."""

    def __init__(
        self,
        indptr: np.ndarray,
        rows: np.ndarray | ArrayReader,
        values: np.ndarray | ArrayReader,
    ) -> None:
        self.indptr = np.asarray(indptr, dtype=np.int64)
        self._rows = rows
        self._values = values

    @classmethod
    def of_terms(cls, terms: sparse.csr_matrix) -> Postings:
        """The postings of a tf-idf matrix (read whole: a corpus's build, not a request)."""
        by_term = terms.tocsc()
        by_term.sort_indices()
        return cls(
            by_term.indptr.astype(np.int64),
            by_term.indices.astype(np.int32),
            by_term.data.astype(np.float32),
        )

    @property
    def terms(self) -> int:
        return len(self.indptr) - 1

    def arrays(self) -> dict[str, np.ndarray]:
        """The three arrays, whole (to write them)."""
        return {
            "indptr": self.indptr,
            "rows": self._whole(self._rows),
            "values": self._whole(self._values),
        }

    def _whole(self, part: np.ndarray | ArrayReader) -> np.ndarray:
        if isinstance(part, ArrayReader):
            return part.ranges(np.zeros(1, dtype=np.int64), self.indptr[-1:])
        return part

    def of(self, term_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The postings of these terms, one term after another: (rows, values, and how
        many belong to each term)."""
        term_ids = np.asarray(term_ids, dtype=np.int64).reshape(-1)
        starts, stops = self.indptr[term_ids], self.indptr[term_ids + 1]
        return (
            self._part(self._rows, starts, stops),
            self._part(self._values, starts, stops),
            stops - starts,
        )

    @staticmethod
    def _part(part: np.ndarray | ArrayReader, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
        if isinstance(part, ArrayReader):
            return part.ranges(starts, stops)
        if len(starts) == 0:
            return part[:0]
        return np.concatenate([part[a:b] for a, b in zip(starts, stops, strict=True)])
