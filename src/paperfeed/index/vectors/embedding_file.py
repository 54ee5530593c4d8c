"""One model's paper embeddings as a file under the index folder, mapped by every process.

The in-memory vector index (:class:`~paperfeed.index.vectors.in_memory.VectorIndex`: its
exact re-scoring and exact tail) and the recommendation features (their embedding part)
both read the float32 matrix of every paper's vector: 1.5 GB at a million papers. Read
into each serve worker from the database, it was one private copy per worker and one more
in the features. Written once per machine as this file, every process maps it read-only,
so the page cache holds one copy that all of them share.

Files, for one database (its random identity, as the word index's folder is named) and
embedding model (``embeddings-<database>-<model>-<digest>``)::

    .json                 the manifest: format, model, database, dim, the token of the
                          current files, the journal key they were written at (vector
                          journal version, vector count) and the rows in use
    .<token>.ids.npy      (rows,) int64, ascending paper ids
    .<token>.hashes.npy   (rows,) uint64, each row's fingerprint (hnsw.row_hashes): the
                          HNSW cache is checked against them without reading the matrix
    .<token>.key.npy      (2,) int64, the journal key of this set (the manifest says it
                          for the current set only)
    .<token>.matrix.npy   (capacity, dim) float32; rows [0, rows) are the vectors as stored
                          in the database (bit for bit), rows past them a sparse hole
    .lock                 held (``flock``) by the process writing new files

The spare rows past ``rows`` take no disk (the file is sparse) and no memory: the vector
index maps the file copy-on-write, so the papers added after the file was written (caught
up from the vector journal) go to those spare rows as pages of its own, a small private
delta, while every row written in the file stays shared. The recommendation features map
the same file read-only (``rows`` rows) instead of keeping their own embeddings.

Files are never written in place: new ones carry a new random token and the manifest is
replaced atomically last. The previous set is kept (a process mapping it, or features
naming it, go on reading it); older ones are deleted (Linux frees an unlinked file's pages
once the last process mapping it lets go).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import Engine

from paperfeed.index.file_sets import FileSet
from paperfeed.index.journal import insert_if_absent, read_state
from paperfeed.store.engine import writing

log = logging.getLogger(__name__)

#: Bumped when the files change meaning: older ones are then ignored (and written again).
FORMAT = 1
#: The ``index_state`` row holding the database's random identity (the word index's).
IDENTITY = "lexical:identity"


def spare_rows(rows: int) -> int:
    """Rows reserved past ``rows`` in a new file (a sparse hole: no disk, no memory)."""
    return max(4_096, rows // 10)


def database_identity(engine: Engine) -> str:
    """The database's random identity (made on first use), which names its index files."""
    with engine.connect() as conn:
        found = read_state(conn, IDENTITY)
    if not isinstance(found, str):
        with writing(engine) as conn:
            insert_if_absent(conn, IDENTITY, uuid.uuid4().hex)
            found = read_state(conn, IDENTITY)
    return str(found)


@dataclass(frozen=True)
class MappedEmbeddings:
    """One set of files, mapped."""

    token: str
    ids: np.ndarray  # (rows,) int64 ascending
    hashes: np.ndarray  # (rows,) uint64
    matrix: np.ndarray  # (capacity, dim) float32, rows [0, rows) in use
    key: tuple[int, int]  # (vector journal version, vector count) when written

    @property
    def rows(self) -> int:
        return len(self.ids)


class EmbeddingFile(FileSet):
    """The embeddings file of one database and model in ``directory``."""

    kind = "embeddings"
    format = FORMAT

    def __init__(self, directory: Path, model: str, database: str) -> None:
        super().__init__(directory, model, database)

    def _path(self, token: str, part: str) -> Path:
        return self.directory / f"{self.stem}.{token}.{part}.npy"

    def matrix_path(self, token: str) -> Path:
        """The ``.npy`` file of the set ``token``'s matrix (the recommendation features
        read single rows of it: :mod:`paperfeed.index.recommend.rows`)."""
        return self._path(token, "matrix")

    def stored_key(self) -> tuple[int, int] | None:
        """The journal key the current files were written at, or None."""
        manifest = self.read_manifest()
        if manifest is None:
            return None
        return int(manifest["key"][0]), int(manifest["key"][1])

    def load(
        self, token: str | None = None, *, copy_on_write: bool = False
    ) -> MappedEmbeddings | None:
        """The current set (or the set ``token``, while its files exist), mapped: read-only,
        or ``copy_on_write`` (writes to the mapping stay in this process). None when absent
        or unusable."""
        if token is not None:
            try:
                return self._open(token, copy_on_write)
            except FileNotFoundError:
                return None
            except (OSError, ValueError, KeyError) as exc:
                log.warning("ignoring unreadable embeddings %s.%s: %s", self.stem, token, exc)
                return None
        for _ in range(3):  # a writer may delete the files named by the manifest just read
            manifest = self.read_manifest()
            if manifest is None:
                return None
            try:
                return self._open(str(manifest["token"]), copy_on_write)
            except FileNotFoundError:
                continue
            except (OSError, ValueError, KeyError) as exc:
                log.warning("ignoring unreadable embeddings %s: %s", self.stem, exc)
                return None
        return None

    def _open(self, token: str, copy_on_write: bool) -> MappedEmbeddings:
        with self._path(token, "key").open("rb") as handle:
            key = np.load(handle, allow_pickle=False)
        ids = np.load(self._path(token, "ids"), mmap_mode="r", allow_pickle=False)
        hashes = np.load(self._path(token, "hashes"), mmap_mode="r", allow_pickle=False)
        matrix = np.load(
            self._path(token, "matrix"), mmap_mode="c" if copy_on_write else "r", allow_pickle=False
        )
        if matrix.dtype != np.float32 or matrix.ndim != 2 or len(hashes) != len(ids):
            raise ValueError("unexpected shapes")
        if len(ids) > matrix.shape[0]:
            raise ValueError("more ids than rows")
        return MappedEmbeddings(
            token,
            np.asarray(ids),
            np.asarray(hashes),
            np.asarray(matrix),  # a plain ndarray over the mapping (it keeps the mapping)
            (int(key[0]), int(key[1])),
        )

    def save(
        self,
        ids: np.ndarray,
        matrix: np.ndarray,
        key: tuple[int, int],
        hashes: np.ndarray | None = None,
    ) -> str:
        """Write ``matrix`` rows (paper ``ids``, ascending) as a new set made current; its token.

        ``hashes`` are the rows' fingerprints when the caller has them (computed otherwise).
        """
        from paperfeed.index.vectors.hnsw import row_hashes

        ids = np.asarray(ids, dtype=np.int64)
        rows, dim = len(ids), int(matrix.shape[1])
        if len(matrix) < rows:
            raise ValueError("fewer vectors than ids")
        if rows > 1 and not bool(np.all(ids[1:] > ids[:-1])):
            raise ValueError("embedding rows must be in ascending paper id order")
        self.directory.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(6)
        previous = self.read_manifest()
        out = np.lib.format.open_memmap(
            self._path(token, "matrix"),
            mode="w+",
            dtype=np.float32,
            shape=(rows + spare_rows(rows), dim),
        )
        for start in range(0, rows, 65_536):
            stop = min(start + 65_536, rows)
            out[start:stop] = matrix[start:stop]
        out.flush()
        del out
        if hashes is None:
            hashes = row_hashes(np.asarray(matrix[:rows], dtype=np.float32))
        for part, array in (
            ("ids", ids),
            ("hashes", np.asarray(hashes, dtype=np.uint64)),
            ("key", np.asarray(key, dtype=np.int64)),
        ):
            with self._path(token, part).open("wb") as handle:
                np.save(handle, array, allow_pickle=False)
        manifest = {
            "format": FORMAT,
            "model": self.model,
            "database": self.database,
            "dim": dim,
            "token": token,
            "key": list(key),
            "rows": rows,
            "previous": None if previous is None else previous.get("token"),
        }
        tmp = self.directory / f"{self.stem}.{token}.tmp"
        tmp.write_text(json.dumps(manifest), encoding="utf-8")
        os.replace(tmp, self.manifest)
        keep = {token, str(previous["token"])} if previous is not None else {token}
        self.delete_old(keep, None if previous is None else previous.get("previous"))
        return token
