"""The bundled embedders for search by meaning, chosen by the ``embedder`` setting.

Two models ship with paperfeed; both run offline on the CPU and download nothing:

- ``minilm``: all-MiniLM-L6-v2 as int8 ONNX (onnxruntime), 384 dimensions, the quality
  default at tens of abstracts per second on two cores
  (:mod:`paperfeed.index.embedders.minilm`);
- ``static``: token vectors distilled from it, 256 dimensions, pure NumPy, thousands of
  abstracts per second at clearly lower quality, for bulk loads
  (:mod:`paperfeed.index.embedders.static`).

Every stored vector records its embedder's :attr:`Embedder.name`, so vectors from two
models are never compared. Papers are embedded as :func:`paper_text`, queries as
:func:`query_text`; ``bench/embedders.py`` measures both embedders on real papers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from paperfeed.errors import ConfigError
from paperfeed.index.embedders.minilm import MiniLMEmbedder
from paperfeed.index.embedders.static import StaticEmbedder


class Embedder(Protocol):
    """A text embedding model: texts in, unit vectors out."""

    #: Recorded with every stored vector (e.g. ``minilm-l6-int8``): a change of model
    #: changes the name, so stale vectors are found and rebuilt, never mixed.
    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """float32 array of shape ``(len(texts), dim)``, each row L2-normalised, in input
        order; an empty input gives shape ``(0, dim)``. The same input gives the same array;
        a text's vector moves by under 1e-5 with the other texts in its call."""
        ...


#: The bundled embedders by setting value; each factory loads its model (slow: call
#: :func:`load_embedder`, which loads each once per process).
EMBEDDERS: dict[str, Callable[[], Embedder]] = {
    "minilm": MiniLMEmbedder,
    "static": StaticEmbedder,
}

_loaded: dict[str, Embedder] = {}
_lock = threading.Lock()


def load_embedder(key: str) -> Embedder:
    """The embedder named by the ``embedder`` setting, loaded once per process and shared.

    Raises :class:`~paperfeed.errors.ConfigError` for a key not in :data:`EMBEDDERS`.
    """
    try:
        factory = EMBEDDERS[key]
    except KeyError:
        known = ", ".join(repr(k) for k in EMBEDDERS)
        raise ConfigError(f"unknown embedder {key!r}; choose one of: {known}") from None
    with _lock:
        if key not in _loaded:
            _loaded[key] = factory()
        return _loaded[key]


def paper_text(title: str, abstract: str) -> str:
    """The text embedded for a paper (the document side): ``title + ". " + abstract``.

    The title leads because it is the densest statement of the topic, and it survives
    the minilm embedder's 256-token cut when a long abstract does not.
    """
    return f"{title.strip()}. {abstract.strip()}"


def query_text(query: str) -> str:
    """The text embedded for a search query: the query itself, trimmed.

    all-MiniLM-L6-v2 was trained on symmetric pairs and takes no instruction prefix
    (unlike e5's ``query: ``); a future model that needs one changes only this function.
    """
    return query.strip()
