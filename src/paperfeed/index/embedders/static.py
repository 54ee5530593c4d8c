"""The ``static`` embedder: one fixed vector per WordPiece token, averaged. Pure NumPy.

The token vectors (``models/static-minilm-256.npz``) are distilled offline from the
``minilm`` model by ``bench/build_static_embedder.py``, model2vec-style: every vocabulary
token run through MiniLM on its own, reduced to 256 dimensions by PCA, weighted down by
its Zipf rank (SIF) so frequent tokens count less. A text's vector is then the mean of
its tokens' vectors: hundreds of times faster than the transformer, with clearly lower
quality (it ignores word order and context). It is the bulk option for large back-fills.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from importlib.resources import files

import numpy as np
import numpy.typing as npt

from paperfeed.errors import ConfigError
from paperfeed.index.embedders.wordpiece import SPECIAL_IDS, load_wordpiece

MATRIX_RESOURCE = "models/static-minilm-256.npz"
#: A sane cap on tokens read per text: an arXiv abstract is at most ~500 tokens.
MAX_TOKENS = 512
#: Texts tokenised per call (the tokenizer works on a batch in parallel); bounds the
#: memory held by token lists whatever the input's size.
CHUNK = 1024


class StaticEmbedder:
    """Mean of distilled token vectors: 256-dim, thousands of texts per second.

    The sum of the vectors is used for the mean: the two differ only in length, which
    the L2 normalisation removes.

    A text with no known token (empty, or only symbols outside the vocabulary) gets the
    vector MiniLM distils for an empty text, so every row is still a unit vector.
    """

    name = "static-minilm-256"

    def __init__(self) -> None:
        data = files("paperfeed.index").joinpath(MATRIX_RESOURCE).read_bytes()
        with np.load(io.BytesIO(data)) as npz:
            vectors = np.asarray(npz["vectors"], dtype=np.float32)
            empty = np.asarray(npz["empty"], dtype=np.float32)
        self._tokenizer = load_wordpiece(MAX_TOKENS)
        if vectors.shape[0] != self._tokenizer.get_vocab_size():
            raise ConfigError(f"{MATRIX_RESOURCE} does not match the bundled tokenizer")
        vectors[sorted(SPECIAL_IDS)] = 0.0
        self._vectors = vectors
        self._empty = empty / np.linalg.norm(empty)
        self._known = np.ones(vectors.shape[0], dtype=bool)
        self._known[sorted(SPECIAL_IDS)] = False
        self.dim: int = int(vectors.shape[1])

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Unit vectors of ``texts``, one row each, in input order; shape ``(len(texts), 256)``."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), CHUNK):
            chunk = list(texts[start : start + CHUNK])
            out[start : start + len(chunk)] = self._embed_chunk(chunk)
        return out

    def _embed_chunk(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """Sum each text's token vectors (special tokens have zero rows), then normalise.

        A sum per text is ~50x faster than one gather of the whole chunk followed by
        ``np.add.reduceat``: each text's rows stay in cache.
        """
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(texts, add_special_tokens=False)
        for row, encoding in enumerate(encodings):
            ids = np.asarray(encoding.ids, dtype=np.intp)
            if self._known[ids].any():
                out[row] = self._vectors[ids].sum(axis=0)
            else:
                out[row] = self._empty
        norms: npt.NDArray[np.float32] = np.linalg.norm(out, axis=1, keepdims=True)
        unit = (out / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
        return unit
