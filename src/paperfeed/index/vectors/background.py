"""Loading a process's in-memory vector index off the request path (#17).

Mapping the machine's embeddings file and HNSW graph takes seconds; building a graph that
is missing takes minutes (about 19 at a million papers on 2 cores). No request waits for
either: :class:`SemanticIndex <paperfeed.index.semantic.SemanticIndex>` answers from
something else meanwhile (pgvector inside PostgreSQL for ``auto`` there, an exact scan of
the vectors for ``memory``) and :func:`load_later` loads the index on a thread of its own,
handing it over when ready.

The processes of one machine (the serve workers) load one at a time (:func:`machine_lock`,
a lock file in the index folder): the first builds or repairs the graph and writes the
embeddings file, the others wait on their own threads, then map what it wrote, instead
of every worker building its own copy of the same graph at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from paperfeed.index.vectors.in_memory import VectorIndex

log = logging.getLogger(__name__)

#: Seconds after a failed background load before a search starts another.
RETRY_SECONDS = 300.0


@contextmanager
def machine_lock(cache_dir: Path | None, model: str) -> Iterator[None]:
    """Held by the one process of the machine loading ``model``'s vectors (no-op without a
    folder: nothing is shared then)."""
    if cache_dir is None:
        yield
        return
    cache_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(model.encode()).hexdigest()[:12]
    with (cache_dir / f"vectors-load-{digest}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def describe(index: VectorIndex) -> str:
    """One line for logs and status: what the loaded index searches with."""
    if index.kind == "hnsw":
        return f"this process's HNSW graph ({index.origin}, {index.size:,} papers)"
    return f"an exact scan in this process ({index.size:,} papers)"


class Loader:
    """One background load at a time, retried after :data:`RETRY_SECONDS` when it failed."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._failed_at: float | None = None

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def due(self) -> bool:
        """Whether a load may start now (none running, and none failed recently)."""
        if self.running():
            return False
        return self._failed_at is None or time.monotonic() - self._failed_at >= RETRY_SECONDS

    def start(
        self,
        load: Callable[[], VectorIndex],
        ready: Callable[[VectorIndex, float], None],
        *,
        meanwhile: str,
        cache_dir: Path | None,
        model: str,
    ) -> None:
        """Run ``load`` under the machine's lock on a new thread, then ``ready(index,
        seconds)``; ``meanwhile`` names what answers until then (for the logs)."""
        if not self.due():
            return

        def run() -> None:
            started = time.monotonic()
            try:
                with machine_lock(cache_dir, model):
                    index = load()
            except Exception:
                self._failed_at = time.monotonic()
                log.exception(
                    "loading the vector index in the background failed; searches stay on "
                    "%s and it is tried again in %.0f s",
                    meanwhile,
                    RETRY_SECONDS,
                )
                return
            self._failed_at = None
            ready(index, time.monotonic() - started)

        log.info("vector search: %s until this process's vector index is loaded", meanwhile)
        self._thread = threading.Thread(target=run, name="vector-index-load", daemon=True)
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
