"""``search()``: the one search of paperfeed, used by the CLI, the pages, the API and feeds.

Hybrid search fuses the lexical list (tantivy when in step, else FTS5 / tsvector) and
the semantic list (embeddings) by a weighted combination of min-max normalised scores
(docs/design.md gives the measurements behind the choice); filters
(author, category, dates) restrict both lists before ranking, and required
phrases and excluded words hold in every mode.
"""

from __future__ import annotations

import contextvars
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from sqlalchemy import Engine, select

from paperfeed.config import Settings
from paperfeed.errors import ConfigError, InvalidQueryError
from paperfeed.index import journal
from paperfeed.index.lexical import database as lexical
from paperfeed.index.lexical.tantivy_index import JOURNAL as word_journal
from paperfeed.index.lexical.tantivy_index import WordIndex
from paperfeed.index.query import Query, parse_query
from paperfeed.index.semantic import SemanticIndex
from paperfeed.models import Hit, StoredPaper
from paperfeed.rank.fusion import normalised_combination, reciprocal_rank_fusion
from paperfeed.store import moderation
from paperfeed.store import papers as store
from paperfeed.store.engine import reading
from paperfeed.store.tables.papers import papers

Mode = Literal["hybrid", "lexical", "semantic"]
MODES: tuple[Mode, ...] = ("hybrid", "lexical", "semantic")
#: Candidates taken from each list before fusion (at least; more for deep pages).
CANDIDATES = 100
MAX_LIMIT = 100
MAX_OFFSET = 1000
#: Below this cosine similarity of the nearest paper (and with no word match), nothing is
#: close to the query: measured per bundled embedder by bench/no_match_floor.py, halfway
#: between the best nonsense query and the worst real one (docs/benchmarks.md).
NO_MATCH_FLOOR = {"minilm-l6-int8": 0.38, "static-minilm-256": 0.45}
#: The nearest papers shown, labelled as such, when nothing is close.
NEAREST_SHOWN = 5


@dataclass(frozen=True)
class Fusion:
    """How hybrid search fuses its two lists (defaults: the measured best, docs/design.md)."""

    method: str = "normalised"
    lexical_weight: float = 0.7
    rrf_k: int = 60

    @classmethod
    def from_settings(cls, settings: Settings) -> Fusion:
        return cls(settings.search_fusion, settings.search_lexical_weight, settings.search_rrf_k)

    def fuse(self, lexical_hits: list[Hit], semantic_hits: list[Hit]) -> list[Hit]:
        if self.method == "rrf":
            return reciprocal_rank_fusion([lexical_hits, semantic_hits], k=self.rrf_k)
        return normalised_combination(lexical_hits, semantic_hits, alpha=self.lexical_weight)


@dataclass(frozen=True)
class SearchResult:
    """One page of results, with the papers loaded, and a notice when a mode fell back."""

    query: Query
    mode: Mode
    hits: list[Hit]
    papers: list[StoredPaper]
    offset: int
    limit: int
    more: bool
    notice: str | None = None
    #: False when no paper is close to the words (the few nearest are shown, as such).
    close_match: bool = True
    #: Results over all pages: those ranked (each list gives at least ``CANDIDATES``,
    #: more for deep pages), or every match of a filters-only query up to the deepest page.
    total: int = 0


def _check(mode: str, limit: int, offset: int) -> Mode:
    if mode not in MODES:
        raise InvalidQueryError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidQueryError(f"limit must be between 1 and {MAX_LIMIT}")
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidQueryError(f"offset must be between 0 and {MAX_OFFSET}")
    return mode


def search(
    engine: Engine,
    semantic: SemanticIndex | None,
    query: str | Query,
    *,
    mode: str = "hybrid",
    limit: int = 20,
    offset: int = 0,
    fusion: Fusion | None = None,
    words: WordIndex | None = None,
) -> SearchResult:
    """Search the papers. Raises :class:`InvalidQueryError` for any unusable input.

    ``words`` is the fast tantivy word index; without it (or while it is not in step
    with the database) FTS5 / tsvector rank the word matches.

    The steps: check the input, read the journal versions of both indexes (one
    statement), take the word hits and the meaning hits (caught up to those versions, so
    neither index reads its own), rank them (one list, or both fused), then drop hidden
    papers and load the page. Hybrid search embeds the query on another thread from the
    start, while this one reads the versions and asks the word index (:func:`_both_halves`).
    Each database step takes its own short-lived connection, and none is held while the
    indexes run: the semantic index checks out one of its own now and then (catching up,
    re-checking its model), and holding one here deadlocked the pool under load.
    """
    checked = _check(mode, limit, offset)
    parsed = _parsed(query)
    if not parsed.has_text:
        return _filtered(engine, parsed, checked, limit=limit, offset=offset)
    wanted = max(CANDIDATES, offset + limit + 1)
    meaning_hits: list[Hit] = []
    notice = None
    if checked == "hybrid" and semantic is not None and _overlap():
        word_hits, meaning_hits, notice = _both_halves(engine, semantic, words, parsed, wanted)
    else:
        versions, allowed = _read_first(engine, semantic, words, parsed, checked)
        if checked != "semantic":
            word_hits = _word_hits(engine, words, parsed, wanted, versions)
        else:
            word_hits = []
        if checked != "lexical":
            meaning_hits, notice = _meaning_hits(
                engine, semantic, words, parsed, wanted, checked, versions, allowed
            )
    if checked == "lexical":
        ranked = word_hits
    elif checked == "semantic":
        ranked = meaning_hits
    else:
        ranked = (fusion or Fusion()).fuse(word_hits, meaning_hits)
    if checked != "lexical" and not word_hits and _far(semantic, meaning_hits):
        ranked = meaning_hits[:NEAREST_SHOWN]
        notice = (
            "No close match: no paper here is near these words in meaning; the "
            f"{len(ranked)} nearest follow, and may well be unrelated."
        )
        page = _page(engine, parsed, checked, ranked, offset=offset, limit=limit, notice=notice)
        return replace(page, close_match=False)
    return _page(engine, parsed, checked, ranked, offset=offset, limit=limit, notice=notice)


def _both_halves(
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
                versions, allowed = _read_first(engine, semantic, words, parsed, "hybrid")
            except BaseException as exc:
                read.set_exception(exc)
                raise
            read.set_result((versions, allowed))
            word_hits = _word_hits(engine, words, parsed, wanted, versions)
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
    """The meaning half of :func:`_both_halves`: the query embedded first, then the
    vector index asked once ``read`` holds the versions and the allowed ids."""
    vector = None if semantic.mismatch() else semantic.query_vector(parsed.semantic_text)
    versions, allowed = read.result()
    return _meaning_hits(
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


def _overlap() -> bool:
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


def _far(semantic: SemanticIndex | None, meaning_hits: list[Hit]) -> bool:
    """Whether even the nearest paper is below the embedder's measured floor."""
    if semantic is None or not meaning_hits:
        return False
    floor = NO_MATCH_FLOOR.get(semantic.embedder.name)
    return floor is not None and max(h.score for h in meaning_hits) < floor


def _parsed(query: str | Query) -> Query:
    """The parsed query, or a clear error when it asks for nothing."""
    parsed = parse_query(query) if isinstance(query, str) else query
    if not parsed.has_text and not parsed.has_filters:
        if parsed.excluded:
            raise InvalidQueryError(
                "a query needs at least one word to look for: excluded words only narrow a search"
            )
        raise InvalidQueryError("type some words to search for (or a filter such as cat:cs.LG)")
    return parsed


def _read_first(
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
        allowed = _allowed(conn, parsed) if filtering else None
    return versions, allowed


def _word_hits(
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


def _meaning_hits(
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


def _page(
    engine: Engine,
    parsed: Query,
    mode: Mode,
    ranked: list[Hit],
    *,
    offset: int,
    limit: int,
    notice: str | None,
) -> SearchResult:
    """One page of ``ranked`` with its papers loaded; papers hidden by a moderator are
    never found."""
    with reading(engine) as conn:
        hidden = moderation.hidden_among(conn, [h.paper_id for h in ranked])
        if hidden:
            ranked = [h for h in ranked if h.paper_id not in hidden]
        page = ranked[offset : offset + limit]
        loaded = store.read_papers(conn, [h.paper_id for h in page])
    page = [h for h in page if h.paper_id in loaded]
    return SearchResult(
        query=parsed,
        mode=mode,
        hits=page,
        papers=[loaded[h.paper_id] for h in page],
        offset=offset,
        limit=limit,
        more=len(ranked) > offset + limit,
        notice=notice,
        total=len(ranked),
    )


def _filtered(engine: Engine, query: Query, mode: Mode, *, limit: int, offset: int) -> SearchResult:
    """A query of filters only: the matching papers, newest first."""
    subquery = lexical.filter_ids(query)
    assert subquery is not None
    with reading(engine) as conn:
        newest = list(
            conn.execute(
                select(papers.c.id)
                .where(papers.c.id.in_(subquery.scalar_subquery()))
                .order_by(papers.c.published_at.desc().nulls_last(), papers.c.id.desc())
                # Enough for the deepest page even after excluded words are dropped.
                .limit(MAX_OFFSET + MAX_LIMIT + 1)
            ).scalars()
        )
        hidden = moderation.hidden_among(conn, newest)
        newest = [pid for pid in newest if pid not in hidden]
        matched = lexical.constrain(conn, query, newest)
        ids = matched[offset : offset + limit + 1]
        loaded = store.read_papers(conn, ids[:limit])
    page = [pid for pid in ids[:limit] if pid in loaded]
    return SearchResult(
        query=query,
        mode=mode,
        hits=[Hit(pid, 0.0) for pid in page],
        papers=[loaded[pid] for pid in page],
        offset=offset,
        limit=limit,
        more=len(ids) > limit,
        total=len(matched),
    )


def _allowed(conn, query: Query) -> np.ndarray | None:  # type: ignore[no-untyped-def]
    subquery = lexical.filter_ids(query)
    if subquery is None:
        return None
    return np.fromiter(conn.execute(subquery).scalars(), dtype=np.int64)


def similar(
    engine: Engine,
    semantic: SemanticIndex,
    paper_ids: list[int],
    *,
    limit: int = 10,
    within: Query | None = None,
) -> tuple[list[Hit], list[StoredPaper]]:
    """Nearest papers to one paper (or to several together), excluding them.

    ``within`` restricts candidates with a query's filters (e.g. ``after:`` for a
    date window).
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidQueryError(f"limit must be between 1 and {MAX_LIMIT}")
    problem = semantic.mismatch()
    if problem:
        raise ConfigError(problem)
    with reading(engine) as conn:
        allowed = _allowed(conn, within) if within is not None else None
        known = set(conn.execute(select(papers.c.id).where(papers.c.id.in_(paper_ids))).scalars())
    # A few more than asked, so that papers hidden by a moderator leave none missing.
    hits = semantic.similar([pid for pid in paper_ids if pid in known], limit + 10, allowed=allowed)
    with reading(engine) as conn:
        hidden = moderation.hidden_among(conn, [h.paper_id for h in hits])
        hits = [h for h in hits if h.paper_id not in hidden][:limit]
        loaded = store.read_papers(conn, [h.paper_id for h in hits])
    hits = [h for h in hits if h.paper_id in loaded]
    return hits, [loaded[h.paper_id] for h in hits]
