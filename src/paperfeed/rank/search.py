"""``search()``: the one search of paperfeed, used by the CLI, the pages, the API and feeds.

Hybrid search fuses the lexical list (tantivy when in step, else FTS5 / tsvector) and
the semantic list (embeddings) by a weighted combination of min-max normalised scores
(docs/design.md gives the measurements behind the choice); filters
(author, category, dates) restrict both lists before ranking, and required
phrases and excluded words hold in every mode.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.errors import ConfigError, InvalidQueryError
from paperfeed.index.lexical import database as lexical
from paperfeed.index.lexical.tantivy_index import WordIndex
from paperfeed.index.query import Query, parse_query
from paperfeed.index.semantic import SemanticIndex
from paperfeed.models import Hit, StoredPaper
from paperfeed.rank import search_halves as halves
from paperfeed.rank.fusion import normalised_combination, reciprocal_rank_fusion
from paperfeed.rank.search_halves import Mode
from paperfeed.store import moderation
from paperfeed.store import papers as store
from paperfeed.store.engine import reading

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
    start, while this one reads the versions and asks the word index
    (:func:`paperfeed.rank.search_halves.both_halves`).
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
    if checked == "hybrid" and semantic is not None and halves.overlap():
        word_hits, meaning_hits, notice = halves.both_halves(
            engine, semantic, words, parsed, wanted
        )
    else:
        versions, allowed = halves.read_first(engine, semantic, words, parsed, checked)
        if checked != "semantic":
            word_hits = halves.find_word_hits(engine, words, parsed, wanted, versions)
        else:
            word_hits = []
        if checked != "lexical":
            meaning_hits, notice = halves.find_meaning_hits(
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
    with reading(engine) as conn:
        # Enough for the deepest page even after excluded words are dropped.
        newest = lexical.newest_matching(conn, query, limit=MAX_OFFSET + MAX_LIMIT + 1)
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
        allowed = lexical.allowed_ids(conn, within) if within is not None else None
        known = store.existing_ids(conn, paper_ids)
    # A few more than asked, so that papers hidden by a moderator leave none missing.
    hits = semantic.similar([pid for pid in paper_ids if pid in known], limit + 10, allowed=allowed)
    with reading(engine) as conn:
        hidden = moderation.hidden_among(conn, [h.paper_id for h in hits])
        hits = [h for h in hits if h.paper_id not in hidden][:limit]
        loaded = store.read_papers(conn, [h.paper_id for h in hits])
    hits = [h for h in hits if h.paper_id in loaded]
    return hits, [loaded[h.paper_id] for h in hits]
