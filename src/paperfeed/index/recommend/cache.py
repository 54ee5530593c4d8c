"""Where a process gets the recommendation features, and who makes them.

:class:`FeatureCache` answers with the features of one embedding model at the vector
journal's current key (its version and the vector count: two index reads). With an index
folder, the features are the memory-mapped files of :mod:`.files`: a process
whose files are in step maps them (milliseconds, nothing private); one that finds them
behind or missing takes the folder's lock, brings them up to date (new and changed papers
get rows in the fitted terms, :func:`~.features.extend_features`, or everything
is fitted again, see :meth:`FeatureCache._changed_since`), writes new files and maps
those. The other processes of the machine wait on the lock, then map the new files: the
work is done once per machine, and ``paperfeed index update`` does it ahead of any
request. Without a folder (benchmarks, some tests) the features are held in memory.

Requests never wait long: :meth:`FeatureCache.ready` starts the update in a background
thread and waits at most the time it is given; past it the request uses the features it
already has (a few papers behind) or, before the first ones exist, none (the feed then
says so and shows trending papers).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sqlalchemy import Connection, Engine, select

from paperfeed.index.embedders.embedder import paper_text
from paperfeed.index.journal import insert_if_absent, read_state
from paperfeed.index.recommend.features import (
    Features,
    build_features,
    extend_features,
    picked_rows,
)
from paperfeed.index.recommend.files import FeatureFiles
from paperfeed.index.recommend.term_view import SMALL_CORPUS
from paperfeed.index.vectors.table import (
    count_model,
    fetch_vectors,
    load_vectors,
    read_journal,
    read_journal_version,
    stored_ids,
)
from paperfeed.store.engine import writing
from paperfeed.store.tables.papers import papers

log = logging.getLogger(__name__)

#: The ``index_state`` row holding the database's random identity: the word index's
#: (:data:`paperfeed.index.lexical.tantivy_index.IDENTITY`), which names its folder the same way.
IDENTITY = "lexical:identity"

#: Share of the fitted papers that may be added or changed before the vocabulary and idf
#: are fitted again (until then new papers get rows in the fitted terms).
REFIT_SHARE = 0.2
#: Above this many papers a serving process has a child process fit the features
#: (:mod:`.build`): minutes of tokenising would hold its interpreter lock.
CHILD_OVER = 20_000
#: Above this many papers a serving process has a child bring them up to date too (the
#: rows of new papers added to the others'): that copies every row, at a million papers
#: 2.3 GB read and several GB at its peak, which a serve worker must not come to hold.
CHILD_EXTEND_OVER = 200_000
#: Seconds a child may take to fit them (then the process fits them itself).
CHILD_SECONDS = 3_600.0
#: Seconds a request trusts the vector count it last read while the journal's version
#: is unchanged (as the vector index does: every insert is journaled, and a paper deleted
#: directly shows as one vector fewer within this time). Counting is an index range scan:
#: ~5 ms at 100 k papers, tens at a million, on every "For you" answer otherwise.
RECOUNT_SECONDS = 60.0


class FeatureCache:
    """The features of one database and embedder, brought up to date when its vectors
    change; shared through files in ``directory`` when one is given."""

    def __init__(self, engine: Engine, model: str, directory: Path | None = None) -> None:
        self.engine = engine
        self.model = model
        self.directory = directory
        self._files: FeatureFiles | None = None
        self._features: Features | None = None
        self._lock = threading.Lock()  # one update at a time in this process
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        #: Features this process made (fitted or extended) rather than mapped: tests
        #: check that a second process on the same folder makes none.
        self.builds = 0
        #: Past this many papers a full fit goes to a child process (None: never; the
        #: CLI and the child itself fit in their own process).
        self.in_child_over: int | None = None
        #: Past this many papers (and ``in_child_over``) an update that extends the
        #: files goes to a child process too (None: extended in this process).
        self.extend_in_child_over: int | None = None
        self.recount_seconds = RECOUNT_SECONDS
        #: The key a request last read, and when its count was read.
        self._seen: tuple[tuple[int, int], float] | None = None

    def files(self) -> FeatureFiles | None:
        """The files of this database and model in the folder (None without a folder).
        Their names carry the database's random identity: a folder that serves another
        database (a copy, a test) never hands one database's features to the other."""
        if self.directory is None:
            return None
        if self._files is None:
            with self.engine.connect() as conn:
                found = read_state(conn, IDENTITY)
            if not isinstance(found, str):
                with writing(self.engine) as conn:
                    insert_if_absent(conn, IDENTITY, uuid.uuid4().hex)
                    found = read_state(conn, IDENTITY)
            self._files = FeatureFiles(self.directory, self.model, str(found))
        return self._files

    def current_key(self) -> tuple[int, int]:
        with self.engine.connect() as conn:
            return read_journal_version(conn, self.model), count_model(conn, self.model)

    def request_key(self) -> tuple[int, int]:
        """The key as a request checks it: the journal's version read each time, the
        vector count again only when the version moved or :attr:`recount_seconds` passed."""
        now = time.monotonic()
        with self.engine.connect() as conn:
            version = read_journal_version(conn, self.model)
            seen = self._seen
            if seen is not None and seen[0][0] == version and now - seen[1] < self.recount_seconds:
                return seen[0]
            key = (version, count_model(conn, self.model))
        self._seen = (key, now)
        return key

    def held(self) -> Features | None:
        """The features this process has now (maybe behind the journal), without waiting."""
        return self._features

    def features(self) -> Features:
        """The features at the journal's current key, waiting as long as that takes (the
        CLI, digests, tests; requests use :meth:`ready`)."""
        key = self.current_key()
        self._seen = (key, time.monotonic())
        with self._lock:
            if self._features is None or self._features.key != key:
                self._features = self._bring_up_to(key, self._features)
            return self._features

    def ready(self, wait: float) -> Features | None:
        """The features for a request: up to date if that takes at most ``wait`` seconds
        (the update goes on in the background otherwise), else the ones held (None
        before the first exist). Only the request that starts an update waits for it, or
        one that has none: while it runs the others answer at once with the ones held (at
        a million papers an update takes minutes, and each request would wait ``wait``)."""
        have = self._features
        if have is not None and have.key == self.request_key():
            return have
        running = self._thread is not None and self._thread.is_alive()
        done = self.start()
        if have is None or not running:
            done.wait(wait)
        return self._features

    def start(self) -> threading.Event:
        """Bring the features up to date in a background thread (one at a time); the
        event is set when that run ends."""
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._done = threading.Event()
                self._thread = threading.Thread(
                    target=self._run, args=(self._done,), name="recommend-features", daemon=True
                )
                self._thread.start()
            return self._done

    def _run(self, done: threading.Event) -> None:
        try:
            self.features()
        except Exception:  # a background update must not die silently, nor kill anything
            log.exception("could not bring the recommendation features up to date")
        finally:
            done.set()

    # --- making them ---------------------------------------------------------------------------

    def _bring_up_to(self, key: tuple[int, int], previous: Features | None) -> Features:
        files = self.files()
        if files is None:
            return self._load(key, previous)
        if files.stored_key() == key:
            mapped = files.load()
            if mapped is not None:
                return mapped
        if previous is None:
            # The files behind the journal serve the requests meanwhile (mapped in
            # milliseconds, a few papers behind) rather than none at all.
            self._features = files.load()
        if self._fit_in_child(key, previous):
            mapped = files.load()
            if mapped is not None and mapped.key == key:
                return mapped
        with files.lock():
            # Another process may have written them while this one waited for the lock.
            mapped = files.load()
            if mapped is not None and mapped.key == key:
                return mapped
            base = mapped if mapped is not None else previous
            made = self._load(key, base)
            # The embedding part goes to the machine's embeddings file, which the vector
            # index maps too: one copy of the embeddings per machine.
            files.save(made, files.share_embeddings(made))
            return files.load() or made

    def _fit_in_child(self, key: tuple[int, int], previous: Features | None) -> bool:
        """Whether a child process brought the files to ``key`` (tried for a full fit of
        a large corpus, and for an extension of a very large one)."""
        files = self.files()
        if files is None or self.in_child_over is None or key[1] <= self.in_child_over:
            return False
        base = files.load() or previous
        small = self.extend_in_child_over is None or key[1] <= self.extend_in_child_over
        if base is not None and small:
            with self.engine.connect() as conn:
                if self._changed_since(conn, base, key[1]) is not None:
                    return False  # an extension: seconds, fine in this process
        from paperfeed.index.recommend.build import build_in_child

        return build_in_child(self.engine, self.model, files.directory, CHILD_SECONDS)

    def _load(self, key: tuple[int, int], previous: Features | None) -> Features:
        self.builds += 1
        with self.engine.connect() as conn:
            changed = self._changed_since(conn, previous, key[1])
            if changed is not None and previous is not None:
                ids, dense, fresh = self._vectors_after(conn, previous, changed)
                text = self._texts(conn, [int(p) for p in ids[fresh]])
                return extend_features(previous, ids, dense, changed, text, key)
            ids, matrix = load_vectors(conn, self.model)
            text = self._texts(conn, [int(i) for i in ids])
        keep = np.array([int(pid) in text for pid in ids.tolist()], dtype=bool)
        kept_ids = ids[keep]
        dense = picked_rows(matrix, keep)  # no copy of every embedding when all are kept
        return build_features(kept_ids, dense, [text[int(p)] for p in kept_ids], key)

    def _vectors_after(
        self, conn: Connection, previous: Features, changed: set[int]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every paper with a vector now, its vector, and which are new or changed: the
        vectors of the others come from ``previous``, theirs from the database."""
        ids = stored_ids(conn, self.model)
        n_old = len(previous.ids)
        pos = np.minimum(np.searchsorted(previous.ids, ids), max(n_old - 1, 0))
        known = previous.ids[pos] == ids if n_old else np.zeros(len(ids), dtype=bool)
        fresh = ~known | np.isin(ids, np.fromiter(changed, dtype=np.int64, count=len(changed)))
        got_ids, got = fetch_vectors(conn, self.model, [int(i) for i in ids[fresh]])
        # A paper whose vector went meanwhile is left out.
        present = ~fresh | np.isin(ids, got_ids)
        ids, fresh, pos = ids[present], fresh[present], pos[present]
        dense = np.empty((len(ids), previous.dense.shape[1]), dtype=np.float32)
        dense[~fresh] = picked_rows(previous.dense, pos[~fresh])
        if fresh.any():
            dense[fresh] = got[np.searchsorted(got_ids, ids[fresh])]
        return ids, dense, fresh

    def _changed_since(
        self, conn: Connection, previous: Features | None, papers_now: int
    ) -> set[int] | None:
        """Papers whose vectors changed since ``previous`` was made, when it can be brought
        up to date rather than fitted again (None: fit again)."""
        if previous is None or previous.terms is None or previous.idf_values() is None:
            return None
        if previous.fitted_on < SMALL_CORPUS:  # its vectorizer's settings depend on the size
            return None
        changed = read_journal(conn, self.model).changed_after(previous.key[0])
        if changed is None:
            return None
        growth = max(len(changed), papers_now - len(previous.ids))
        if previous.added_since_fit + growth > REFIT_SHARE * previous.fitted_on:
            return None
        return {int(i) for i in changed}

    @staticmethod
    def _texts(conn: Connection, paper_ids: Sequence[int]) -> dict[int, str]:
        text: dict[int, str] = {}
        for start in range(0, len(paper_ids), 1_000):
            chunk = paper_ids[start : start + 1_000]
            for pid, title, abstract in conn.execute(
                select(papers.c.id, papers.c.title, papers.c.abstract).where(papers.c.id.in_(chunk))
            ):
                text[int(pid)] = paper_text(title, abstract)
        return text
