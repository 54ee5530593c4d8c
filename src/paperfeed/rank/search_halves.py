"""The two halves of a search: the word hits and the meaning hits, each caught up to the
journal versions read first, and for hybrid search both at once on two threads.

:func:`search <paperfeed.rank.search.search>` decides which halves a query needs and ranks
what they find; this module finds it. The meaning half of a hybrid search starts on a
thread of its own before anything is read (:func:`both_halves`), while the process has a
core pair free (:func:`overlap`).
"""

from __future__ import annotations

import contextvars
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Literal

import numpy as np
from sqlalchemy import Engine

from paperfeed.errors import ConfigError
from paperfeed.index import journal
from paperfeed.index.lexical import database as lexical
from paperfeed.index.lexical.tantivy_index import JOURNAL as word_journal
from paperfeed.index.lexical.tantivy_index import WordIndex
from paperfeed.index.query import Query
from paperfeed.index.semantic import SemanticIndex
from paperfeed.models import Hit
from paperfeed.store.engine import reading

Mode = Literal["hybrid", "lexical", "semantic"]


def both_halves(
    engine: Engine,
    semantic: SemanticIndex,
    words: WordIndex | None,
    parsed: Query,
    wanted: int,
) -> tuple[list[Hit], list[Hit], str | None]:
    """Hybrid search's two halves at once: (word hits, meaning hits, notice).

    The meaning half starts on another thread before anything is read: it embeds the
    query (the model needs nothing from the database), then waits for the journal
    versions and the filters' ids, which this thread reads meanwhile, and asks the
    vector index. This thread then asks the word index. onnxruntime, usearch and tantivy
    release the interpreter lock, so the halves run on two cores.
    """
    read: Future[tuple[dict[str, int], np.ndarray | None]] = Future()
    context = contextvars.copy_context()
    _count_both(1)
    try:
        meaning = _threads().submit(
            context.run, _meaning_when_read, engine, semantic, words, parsed, wanted, read
        )
        try:
            try:
                versions, allowed = read_first(engine, semantic, words, parsed, "hybrid")
            except BaseException as exc:
                read.set_exception(exc)
                raise
            read.set_result((versions, allowed))
            word_hits = find_word_hits(engine, words, parsed, wanted, versions)
        finally:
            meaning_hits, notice = meaning.result()
    finally:
        _count_both(-1)
    return word_hits, meaning_hits, notice


def _meaning_when_read(
    engine: Engine,
    semantic: SemanticIndex,
    words: WordIndex | None,
    parsed: Query,
    wanted: int,
    read: Future[tuple[dict[str, int], np.ndarray | None]],
) -> tuple[list[Hit], str | None]:
    """The meaning half of :func:`both_halves`: the query embedded first, then the
    vector index asked once ``read`` holds the versions and the allowed ids."""
    vector = None if semantic.mismatch() else semantic.query_vector(parsed.semantic_text)
    versions, allowed = read.result()
    return find_meaning_hits(
        engine, semantic, words, parsed, wanted, "hybrid", versions, allowed, vector=vector
    )


#: Threads that find hybrid search's meaning half, per process (made on first use, and
#: anew in a forked child, where the parent's threads do not exist).
_POOL: tuple[int, ThreadPoolExecutor] | None = None
_POOL_LOCK = threading.Lock()
#: Meaning halves found at once; more wait (each takes a few ms of one core).
POOL_THREADS = 4
#: Hybrid searches of this process running their two halves at once now (under _POOL_LOCK).
_both_running = 0


def overlap() -> bool:
    """Whether hybrid search gives its meaning half a thread of its own: on a machine of
    two cores or more, while this process runs fewer such searches than half its cores
    (each keeps two cores busy; beyond, the extra thread would only queue for a core).

    The machine's load average is not asked: a search on two threads raises it by itself,
    so a gate on the load closed on a quiet machine; and on a busy one the two ways
    measured within noise of each other (100 k papers: load 10-17, now one ahead, now the
    other; load 8, 25.6 / 43.0 ms p50 / p95 on two threads, 26.0 / 47.8 on one).
    """
    cores = os.cpu_count() or 1
    return cores >= 2 and _both_running < cores // 2


def _count_both(step: int) -> None:
    global _both_running
    with _POOL_LOCK:
        _both_running += step


def _threads() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL[0] != os.getpid():
            _POOL = (os.getpid(), ThreadPoolExecutor(POOL_THREADS, "search-meaning"))
        return _POOL[1]


def read_first(
    engine: Engine,
    semantic: SemanticIndex | None,
    words: WordIndex | None,
    parsed: Query,
    mode: Mode,
) -> tuple[dict[str, int], np.ndarray | None]:
    """What the indexes need from the database before they run, in one connection: the
    change-journal versions of the indexes this search asks (one statement), and the ids
    the filters allow the meaning half (None: no filter, nothing read)."""
    names = []
    if words is not None:  # hybrid's meaning half constrains with it too
        names.append(word_journal)
    meaning = semantic is not None and mode != "lexical"
    if semantic is not None and meaning:
        names.append(semantic.journal_name())
    filtering = meaning and lexical.filter_ids(parsed) is not None
    if not names and not filtering:
        return {}, None
    with reading(engine) as conn:
        versions = journal.read_versions(conn, names)
        allowed = lexical.allowed_ids(conn, parsed) if filtering else None
    return versions, allowed


def find_word_hits(
    engine: Engine, words: WordIndex | None, parsed: Query, wanted: int, versions: dict[str, int]
) -> list[Hit]:
    """The best ``wanted`` word matches: tantivy's (which already hold every phrase and no
    excluded word) when it is in step, else the database's."""
    fast = None
    if words is not None:
        fast = words.search(parsed, limit=wanted, version=versions.get(word_journal))
    if fast is not None:
        return fast
    with reading(engine) as conn:
        return lexical.search(conn, parsed, limit=wanted)


def find_meaning_hits(
    engine: Engine,
    semantic: SemanticIndex | None,
    words: WordIndex | None,
    parsed: Query,
    wanted: int,
    mode: Mode,
    versions: dict[str, int],
    allowed: np.ndarray | None,
    *,
    vector: np.ndarray | None = None,
) -> tuple[list[Hit], str | None]:
    """The ``wanted`` papers nearest in meaning that pass the filters, phrases and
    exclusions, and a notice when hybrid search has to do without them (an embedder that
    does not match the stored vectors; semantic search raises instead). ``vector``: the
    query's embedding when the caller has it already."""
    if semantic is None:
        raise ConfigError("search by meaning is not available here")
    problem = semantic.mismatch()
    if problem and mode == "semantic":
        raise ConfigError(problem)
    if problem:
        return [], f"showing word matches only: {problem}"
    version = versions.get(semantic.journal_name())
    found = semantic.search(
        parsed.semantic_text, wanted, allowed=allowed, version=version, vector=vector
    )
    candidates = [h.paper_id for h in found]
    quick = None
    if words is not None:
        quick = words.constrain(parsed, candidates, version=versions.get(word_journal))
    if quick is not None:
        kept = quick
    else:
        with reading(engine) as conn:
            kept = lexical.constrain(conn, parsed, candidates)
    by_id = {h.paper_id: h for h in found}
    return [by_id[pid] for pid in kept], None
