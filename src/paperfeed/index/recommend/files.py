"""The recommendation features on disk, shared by every process of a machine.

One process (``paperfeed index update``, or the first serve worker that finds the files
missing or behind the vector journal) makes the features and writes them under
``PAPERFEED_INDEX_DIR``; every process then memory-maps them read-only, so the workers of
a machine share one copy in the page cache instead of building and holding one each.

Files, for one database (its random identity, as the word index's folder is named) and
embedding model (``recommend-<database>-<model>-<digest>``)::

    .json                    the manifest: format, model, the token of the current files,
                             the journal key they were made at, the fit's bookkeeping
    .<token>.ids.npy         (n,) int64, ascending paper ids
    .<token>.dense.npy       (n, d) float32 unit embeddings, only when the manifest names
                             no ``embeddings`` set: otherwise the embedding part is the rows
                             of the machine's embeddings file (``embeddings-…``,
                             :mod:`paperfeed.index.vectors.embedding_file`) of that token,
                             whose ids are these ids, shared with the vector index
    .<token>.data.npy        the tf-idf rows as CSR arrays (float32 values,
    .<token>.indices.npy      int32 columns, int32/int64 row pointers)
    .<token>.indptr.npy
    .<token>.idf.npy         (v,) the fitted idf, and the fitted terms: what rows of papers
    .<token>.vocab.json       added later are made with
    .<token>.pindptr.npy     the tf-idf rows by term (:mod:`.postings`): int64 pointers,
    .<token>.prows.npy        int32 rows, float32 values; read a term at a time with pread
    .<token>.pvalues.npy      (:mod:`.rows`), never mapped. Sets written before they
                             existed lack them: :meth:`FeatureFiles.add_postings` adds them
    .lock                    held (``flock``) by the process writing new files

Files are never written in place: new ones carry a new random token and the manifest is
replaced atomically last, so a reader maps either the old set or the new one; the old
files are then deleted (a process still mapping them keeps reading them until it lets
go: Linux frees an unlinked file's pages only then).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any

import numpy as np

from paperfeed.index.file_sets import FileSet
from paperfeed.index.recommend.features import Features
from paperfeed.index.recommend.postings import Postings
from paperfeed.index.recommend.rows import ArrayReader, FileArray, RowReader
from paperfeed.index.vectors.embedding_file import EmbeddingFile

log = logging.getLogger(__name__)

#: Bumped when the files change meaning: older ones are then ignored (and rebuilt).
FORMAT = 1
_ARRAYS = ("ids", "dense", "data", "indices", "indptr", "idf")
_POSTINGS = ("pindptr", "prows", "pvalues")


class FeatureFiles(FileSet):
    """The feature files of one embedding model in ``directory``."""

    kind = "recommend"
    format = FORMAT

    def _path(self, token: str, part: str) -> Path:
        suffix = "json" if part == "vocab" else "npy"
        return self.directory / f"{self.stem}.{token}.{part}.{suffix}"

    def stored_key(self) -> tuple[int, int] | None:
        """The journal key the current files were made at (one small file read), or None."""
        manifest = self.read_manifest()
        if manifest is None:
            return None
        version, count = manifest.get("key", (None, None))
        return (int(version), int(count)) if version is not None else None

    def load(self) -> Features | None:
        """The current features, memory-mapped read-only, or None when absent or unusable."""
        for _ in range(3):  # a writer may delete the files named by the manifest just read
            manifest = self.read_manifest()
            if manifest is None:
                return None
            try:
                return self._open(manifest)
            except FileNotFoundError:
                continue
            except (OSError, ValueError, KeyError) as exc:
                log.warning("ignoring unreadable recommendation features %s: %s", self.stem, exc)
                return None
        return None

    def _open(self, manifest: dict[str, Any]) -> Features:
        token = str(manifest["token"])
        arrays = {
            part: np.load(self._path(token, part), mmap_mode="r", allow_pickle=False)
            for part in _ARRAYS
            if manifest["parts"].get(part)
        }
        dense_file: FileArray | None = None
        if manifest.get("embeddings"):
            embeddings = str(manifest["embeddings"])
            arrays["dense"] = self._shared_dense(embeddings, arrays["ids"])
            dense_file = FileArray.of_npy(self.embeddings().matrix_path(embeddings))
        elif "dense" in arrays:
            dense_file = FileArray.of_npy(self._path(token, "dense"))
        terms = None
        vocabulary: tuple[str, ...] = ()
        if "data" in arrays:
            from scipy import sparse

            vocabulary = tuple(json.loads(self._path(token, "vocab").read_text(encoding="utf-8")))
            shape = (len(arrays["ids"]), len(vocabulary))
            terms = sparse.csr_matrix(
                (arrays["data"], arrays["indices"], arrays["indptr"]), shape=shape, copy=False
            )
            # Written canonical (sorted, no duplicates): spare scipy a check of every row.
            terms.has_canonical_format = True
        reader = RowReader(
            dense_file,
            FileArray.of_npy(self._path(token, "data")) if terms is not None else None,
            FileArray.of_npy(self._path(token, "indices")) if terms is not None else None,
        )
        postings = None
        if terms is not None and all(manifest["parts"].get(part) for part in _POSTINGS):
            postings = Postings(
                np.load(self._path(token, "pindptr"), allow_pickle=False),
                ArrayReader(FileArray.of_npy(self._path(token, "prows"))),
                ArrayReader(FileArray.of_npy(self._path(token, "pvalues"))),
            )
        key = manifest["key"]
        return Features(
            arrays["ids"],
            arrays["dense"],
            terms,
            vocabulary,
            (int(key[0]), int(key[1])),
            fitted_on=int(manifest["fitted_on"]),
            added_since_fit=int(manifest["added_since_fit"]),
            idf=arrays.get("idf"),
            dense_as_stored=bool(manifest.get("embeddings")),
            reader=reader,
            postings=postings,
        )

    def embeddings(self) -> EmbeddingFile:
        """The machine's embeddings file of this database and model (same folder)."""
        return EmbeddingFile(self.directory, self.model, self.database)

    def _shared_dense(self, token: str, ids: np.ndarray) -> np.ndarray:
        """The embedding part from the embeddings file ``token`` (mapped read-only); a
        missing or different set is FileNotFoundError (the features are made again)."""
        mapped = self.embeddings().load(token)
        if mapped is None or not np.array_equal(mapped.ids, ids):
            raise FileNotFoundError(f"the embeddings {token} of {self.stem} are gone")
        return mapped.matrix[: mapped.rows]

    def save(self, features: Features, embeddings: str | None = None) -> None:
        """Write the features as a new set of files and make them current (see the module).

        ``embeddings`` names the embeddings file set whose rows are these features' ids and
        embeddings (:meth:`share_embeddings`): then no embedding part is written."""
        self.directory.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(6)
        previous = self.read_manifest()
        arrays: dict[str, np.ndarray] = {"ids": np.asarray(features.ids, dtype=np.int64)}
        if embeddings is None:
            arrays["dense"] = np.asarray(features.dense, dtype=np.float32)
        if features.terms is not None:
            idf = features.idf_values()
            terms = features.terms
            arrays |= {"data": terms.data, "indices": terms.indices, "indptr": terms.indptr}
            arrays |= _postings_arrays(features)
            if idf is not None:
                arrays["idf"] = idf
            self._path(token, "vocab").write_text(
                json.dumps(list(features.vocabulary)), encoding="utf-8"
            )
        for part, array in arrays.items():
            with self._path(token, part).open("wb") as out:
                np.save(out, np.ascontiguousarray(array), allow_pickle=False)
        manifest = {
            "format": FORMAT,
            "model": self.model,
            "database": self.database,
            "token": token,
            "key": list(features.key),
            "rows": len(features.ids),
            "fitted_on": features.fitted_on,
            "added_since_fit": features.added_since_fit,
            "parts": {part: True for part in arrays},
            "embeddings": embeddings,
        }
        tmp = self.directory / f"{self.stem}.{token}.tmp"
        tmp.write_text(json.dumps(manifest), encoding="utf-8")
        os.replace(tmp, self.manifest)
        self.delete_old({token}, None if previous is None else str(previous["token"]))

    def share_embeddings(self, features: Features) -> str | None:
        """Write the features' ids and embeddings as the machine's embeddings file (the
        vector index maps it too) and return its token, or reuse the current one when it
        holds exactly these; None when the embeddings are not the stored vectors as they
        are (rows that had to be normalised) or the file cannot be written."""
        if not features.dense_as_stored or len(features.ids) == 0:
            return None
        shared = self.embeddings()
        current = shared.load()
        if (
            current is not None
            and current.key == features.key
            and np.array_equal(current.ids, features.ids)
        ):
            return current.token
        try:
            with shared.lock():
                return shared.save(features.ids, features.dense, features.key)
        except OSError as exc:
            log.warning("could not write the embeddings file in %s: %s", self.directory, exc)
            return None

    def add_postings(self) -> bool:
        """Write the postings of the current set when its files lack them (sets written
        before postings were), under the folder's lock; whether the set has them now.
        Reads every tf-idf row: ``paperfeed index update``'s work, never a request's."""
        with self.lock():
            manifest = self.read_manifest()
            if manifest is None or not manifest["parts"].get("data"):
                return False
            if all(manifest["parts"].get(part) for part in _POSTINGS):
                return True
            features = self.load()
            if features is None or features.terms is None:
                return False
            token = str(manifest["token"])
            loose = Features(features.ids, features.dense, features.terms)
            for part, array in _postings_arrays(loose).items():
                with self._path(token, part).open("wb") as out:
                    np.save(out, np.ascontiguousarray(array), allow_pickle=False)
            manifest["parts"] |= {part: True for part in _POSTINGS}
            tmp = self.directory / f"{self.stem}.{token}.tmp"
            tmp.write_text(json.dumps(manifest), encoding="utf-8")
            os.replace(tmp, self.manifest)
            return True


def _postings_arrays(features: Features) -> dict[str, np.ndarray]:
    """The postings parts of the files (none without terms)."""
    postings = features.term_postings()
    if postings is None:
        return {}
    whole = postings.arrays()
    return {"pindptr": whole["indptr"], "prows": whole["rows"], "pvalues": whole["values"]}
