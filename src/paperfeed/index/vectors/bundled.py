"""Vectors that ship with the package: the bundled demo papers, embedded when it was built.

``paperfeed ingest sample`` loads some 1,400 real papers; running the minilm model over
them takes 35 s on two idle cores (minutes on a busy one), the slowest step of a fresh
install. ``bench/build_demo.py`` therefore stores each demo paper's vector (float16) in
``models/demo-vectors-minilm.npz``, keyed by the SHA-256 of the exact text the embedder
reads (:func:`~paperfeed.index.embedders.embedder.paper_text`) and named by the model that made it.
:func:`embed_texts` reads a vector from there when the model and the text are the same,
and runs the model for every other text: a paper edited since, or another embedder,
is embedded as usual.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources

import numpy as np
import numpy.typing as npt

from paperfeed.index.embedders.embedder import Embedder

#: Bytes of the SHA-256 digest kept as a text's key (collisions are out of reach at 16).
KEY_BYTES = 16
_RESOURCE = ("models", "demo-vectors-minilm.npz")

Matrix = npt.NDArray[np.float32]


def text_key(text: str) -> bytes:
    """The key of an embedded text."""
    return hashlib.sha256(text.encode("utf-8")).digest()[:KEY_BYTES]


class BundledVectors:
    """One model's shipped vectors by text key."""

    def __init__(self, model: str, keys: npt.NDArray[np.uint8], vectors: Matrix) -> None:
        self.model = model
        self.vectors = vectors
        self.rows = {bytes(key): row for row, key in enumerate(keys)}

    def find(self, model: str, texts: Sequence[str]) -> dict[int, int]:
        """``{position in texts: row}`` for the texts this model's vectors cover."""
        if model != self.model:
            return {}
        found = {}
        for position, text in enumerate(texts):
            row = self.rows.get(text_key(text))
            if row is not None:
                found[position] = row
        return found


@lru_cache(maxsize=1)
def bundled() -> BundledVectors | None:
    """The shipped vectors (read once per process), or ``None`` when the file is absent."""
    resource = resources.files("paperfeed.index").joinpath(*_RESOURCE)
    if not resource.is_file():
        return None
    with resource.open("rb") as raw, np.load(raw) as data:
        vectors = data["vectors"].astype(np.float32)
        # float16 rounds each vector's length a little: make them unit vectors again.
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return BundledVectors(str(data["model"]), data["keys"], vectors)


def embed_texts(embedder: Embedder, texts: Sequence[str]) -> Matrix:
    """``embedder.embed(texts)``, with the shipped vectors read instead where they cover a text."""
    shipped = bundled()
    found = shipped.find(embedder.name, texts) if shipped is not None else {}
    if not found:
        return embedder.embed(list(texts))
    assert shipped is not None
    matrix = np.empty((len(texts), embedder.dim), dtype=np.float32)
    for position, row in found.items():
        matrix[position] = shipped.vectors[row]
    missing = [i for i in range(len(texts)) if i not in found]
    if missing:
        matrix[missing] = embedder.embed([texts[i] for i in missing])
    return matrix
