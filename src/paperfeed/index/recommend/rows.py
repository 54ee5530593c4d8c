"""Reading a few rows of the recommendation features from their files, without mapping them.

The features' arrays are memory-mapped (:mod:`.files`), and a whole-corpus product reads
them through the mapping. A member's model needs only some rows: its positives and sampled
negatives to train, the shortlist it scores (:mod:`paperfeed.rank.recommend.shortlist`),
the liked papers an explanation names. Read through the mapping, each of those rows maps
the 64 KB around it into the process (the kernel's fault-around), so a few thousand
scattered rows per member soon map whole files: at a million papers, 2.2 GB counted in
every worker's memory although each answer needed a few megabytes. Here such rows are read
with ``pread`` into a fresh array: the pages stay in the page cache, shared and reclaimable,
and nothing is mapped.

Descriptors are opened when the features are loaded and closed when the reader is
collected: files replaced by a newer set stay readable while a process still uses the
features it loaded from them (as their mappings do).
"""

from __future__ import annotations

import os
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from scipy import sparse


@dataclass(frozen=True)
class FileArray:
    """Where an array's values lie in a ``.npy`` file: a C-ordered array starting at
    byte ``offset``, ``width`` values a row (1 for a vector)."""

    path: Path
    offset: int
    dtype: np.dtype[np.generic]
    width: int = 1

    @classmethod
    def of_npy(cls, path: Path) -> FileArray:
        """The array of a ``.npy`` file (its header read to find the values)."""
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
        if not isinstance(mapped, np.memmap) or not mapped.flags.c_contiguous:
            raise ValueError(f"{path} does not hold one C-ordered array")
        shape, offset, dtype = mapped.shape, int(mapped.offset), mapped.dtype
        del mapped
        width = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        return cls(path, offset, np.dtype(dtype), width)


class _Descriptor:
    """An open read-only descriptor, closed when collected."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        weakref.finalize(self, os.close, self.fd)


class ArrayReader:
    """Reads ranges of one array's file with ``pread``, adjacent ranges as one read.

    A ``pread`` per scattered row (~1.5-3 µs each here, a 1.5 KB embedding row) was 2-3
    times faster than gathering the rows through a mapping made for the call: each row
    then costs a page fault, and unmapping the pages after it more
    (``bench/recommend_shortlist.py``'s rows: 2,000 rows 5.8 ms against 13.3 ms, 4,000 rows
    9.5 against 31 ms, load 7)."""

    def __init__(self, where: FileArray) -> None:
        self.where = where
        self._file = _Descriptor(where.path)
        self._item = where.dtype.itemsize * where.width

    def ranges(self, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
        """The rows ``[starts[i], stops[i])`` of each range, one after another (as one
        array of ``sum(stops - starts)`` rows)."""
        starts = np.asarray(starts, dtype=np.int64).reshape(-1)
        stops = np.asarray(stops, dtype=np.int64).reshape(-1)
        total = int((stops - starts).sum())
        shape = (total, self.where.width) if self.where.width > 1 else (total,)
        out = np.empty(shape, dtype=self.where.dtype)
        if total == 0:
            return out
        view = out.reshape(-1).view(np.uint8).data
        at = 0
        fd, item, base = self._file.fd, self._item, self.where.offset
        # Ranges that follow each other in the file (and in the output) are one read.
        begin, end = int(starts[0]), int(stops[0])
        for start, stop in zip(starts[1:].tolist(), stops[1:].tolist(), strict=True):
            if start == end:
                end = stop
                continue
            if end > begin:
                at = self._read(fd, view, at, base + begin * item, (end - begin) * item)
            begin, end = start, stop
        if end > begin:
            self._read(fd, view, at, base + begin * item, (end - begin) * item)
        return out

    @staticmethod
    def _read(fd: int, view: memoryview, at: int, offset: int, size: int) -> int:
        done = 0
        while done < size:
            got = os.preadv(fd, [view[at + done : at + size]], offset + done)
            if got <= 0:
                raise OSError(f"short read at byte {offset + done}")
            done += got
        return at + size

    def rows(self, rows: np.ndarray) -> np.ndarray:
        """These rows, in the given order."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        return self.ranges(rows, rows + 1)


class RowReader:
    """Rows of the features' files: the embedding part's and the tf-idf part's."""

    def __init__(
        self,
        dense: FileArray | None,
        data: FileArray | None = None,
        indices: FileArray | None = None,
    ) -> None:
        self.dense = ArrayReader(dense) if dense is not None else None
        self.data = ArrayReader(data) if data is not None else None
        self.indices = ArrayReader(indices) if indices is not None else None

    def dense_rows(self, rows: np.ndarray) -> np.ndarray:
        assert self.dense is not None
        return self.dense.rows(rows)

    def term_rows(self, terms: sparse.csr_matrix, rows: np.ndarray) -> sparse.csr_matrix:
        """Rows of the CSR matrix ``terms`` (whose row pointers are read from its mapping,
        its values and columns from the files), in the given order."""
        from scipy import sparse

        assert self.data is not None and self.indices is not None
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        starts = np.asarray(terms.indptr[rows], dtype=np.int64)
        stops = np.asarray(terms.indptr[rows + 1], dtype=np.int64)
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(stops - starts, out=indptr[1:])
        made = sparse.csr_matrix(
            (self.data.ranges(starts, stops), self.indices.ranges(starts, stops), indptr),
            shape=(len(rows), terms.shape[1]),
        )
        made.has_canonical_format = bool(terms.has_canonical_format)
        return made
