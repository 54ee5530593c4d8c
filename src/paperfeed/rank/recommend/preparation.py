"""What a process prepares before its first "For you" answer: the corpus features (mapped
from the index folder, or made there) and the model's libraries (seconds to import), made
in the background by :meth:`Preparation.warm` when the app starts, so that nothing slow
happens on a request (:class:`~.feed.Recommender` waits for them a bounded time)."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from sqlalchemy import Engine

from paperfeed.errors import ConfigError
from paperfeed.index.recommend.cache import CHILD_EXTEND_OVER, CHILD_OVER, FeatureCache
from paperfeed.index.recommend.features import Features
from paperfeed.index.semantic import SemanticIndex
from paperfeed.index.vectors.table import recorded_model

log = logging.getLogger(__name__)


class Preparation:
    """A process's corpus features (one cache per embedding model) and its readiness."""

    def __init__(
        self,
        engine: Engine,
        *,
        shortlist_over: int,
        semantic: SemanticIndex | None = None,
        index_dir: Path | None = None,
    ) -> None:
        self.engine = engine
        #: Corpus size above which members' models score a shortlist drawn from the vector
        #: index's graph (which :meth:`warm` then loads too).
        self.shortlist_over = shortlist_over
        self.semantic = semantic
        #: Where the corpus features are shared with the machine's other processes.
        self.index_dir = index_dir
        self._caches: dict[str, FeatureCache] = {}
        self._lock = threading.Lock()
        self._libraries = threading.Event()
        self._warming: threading.Thread | None = None

    def cache(self) -> FeatureCache | None:
        """The feature cache of the recorded embedding model (None before any vector)."""
        with self.engine.connect() as conn:
            recorded = recorded_model(conn)
        if recorded is None:
            return None
        with self._lock:
            cache = self._caches.get(recorded[0])
            if cache is None:
                cache = FeatureCache(self.engine, recorded[0], self.index_dir)
                cache.in_child_over = CHILD_OVER  # a serving process: fit large ones apart
                cache.extend_in_child_over = CHILD_EXTEND_OVER  # and extend very large ones
                self._caches[recorded[0]] = cache
        return cache

    def features(self, wait: float | None = None) -> Features | None:
        """The corpus features: up to date (``wait`` None), or as ready within ``wait``
        seconds (maybe a few papers behind; None when there are none yet)."""
        cache = self.cache()
        if cache is None:
            return None
        return cache.features() if wait is None else cache.ready(wait)

    def warm(self) -> None:
        """Prepare in the background what a first answer needs: the model's libraries
        (seconds to import) and the corpus features (mapped from the index folder, or
        made there)."""
        with self._lock:
            if self._warming is not None:
                return
            self._warming = threading.Thread(target=self._warm, name="recommend-warm", daemon=True)
            self._warming.start()

    def _warm(self) -> None:
        try:
            self._import_libraries()
            cache = self.cache()
            if cache is not None and len(cache.features().ids) > self.shortlist_over:
                self._load_graph()
        except Exception:  # the requests will try again, and say what failed
            log.exception("could not prepare recommendations")

    def _load_graph(self) -> None:
        """Load the vector index the shortlist draws from
        (:meth:`.feed.Recommender._nearest`), so that a member's first answer does not wait
        for it when it comes before any search (1.4 s at a million papers from the
        machine's cached graph)."""
        if self.semantic is None:
            return
        try:
            self.semantic.index()
        except ConfigError:  # no vectors of this embedder: every paper is scored
            return

    def prepared(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for what :meth:`warm` prepares (the model's
        libraries, and corpus features to answer with); whether it is all there."""
        deadline = time.monotonic() + timeout
        self.warm()
        if not self._libraries.wait(timeout):
            return False
        cache = self.cache()
        return cache is None or cache.ready(max(0.0, deadline - time.monotonic())) is not None

    def _import_libraries(self) -> None:
        import scipy.sparse  # noqa: F401
        import sklearn.linear_model  # noqa: F401

        self._libraries.set()

    def libraries_ready(self, wait: float | None) -> bool:
        """Whether the model's libraries are imported (within ``wait`` seconds; None: import
        them here)."""
        if not self._libraries.is_set():
            if wait is None:
                self._import_libraries()
            else:
                self.warm()
        return self._libraries.wait(wait)
