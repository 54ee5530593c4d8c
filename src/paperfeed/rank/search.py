"""``search()``: the one search of paperfeed, used by the CLI, the pages, the API and feeds.

Hybrid search fuses the lexical list (tantivy when in step, else FTS5 / tsvector) and
the semantic list (embeddings) by a weighted combination of min-max normalised scores
(docs/design.md gives the measurements behind the choice); filters
(author, category, dates) restrict both lists before ranking, and required
phrases and excluded words hold in every mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from sqlalchemy import Engine, select

from paperfeed.config import Settings
from paperfeed.errors import ConfigError, InvalidQueryError
from paperfeed.index import lexical
from paperfeed.index.lexical_tantivy import WordIndex
from paperfeed.index.query import Query, parse_query
from paperfeed.index.semantic import SemanticIndex
from paperfeed.models import Hit, StoredPaper
from paperfeed.rank.fusion import normalised_combination, reciprocal_rank_fusion
from paperfeed.store import moderation
from paperfeed.store import papers as store
from paperfeed.store.tables.papers import papers

Mode = Literal["hybrid", "lexical", "semantic"]
MODES: tuple[Mode, ...] = ("hybrid", "lexical", "semantic")
#: Candidates taken from each list before fusion (at least; more for deep pages).
CANDIDATES = 100
MAX_LIMIT = 100
MAX_OFFSET = 1000


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
    """
    checked = _check(mode, limit, offset)
    parsed = parse_query(query) if isinstance(query, str) else query
    if not parsed.has_text and not parsed.has_filters:
        if parsed.excluded:
            raise InvalidQueryError(
                "a query needs at least one word to look for: excluded words only narrow a search"
            )
        raise InvalidQueryError("type some words to search for (or a filter such as cat:cs.LG)")
    if not parsed.has_text:
        return _filtered(engine, parsed, checked, limit=limit, offset=offset)
    wanted = max(CANDIDATES, offset + limit + 1)
    notice = None
    lexical_hits: list[Hit] = []
    semantic_hits: list[Hit] = []
    # Each step takes its own short-lived connection and none is held while the semantic
    # index checks out one of its own: holding one here deadlocked the pool under load.
    if checked in ("hybrid", "lexical"):
        # tantivy's hits already hold every phrase and no excluded word.
        fast = words.search(parsed, limit=wanted) if words is not None else None
        if fast is not None:
            lexical_hits = fast
        else:
            with engine.connect() as conn:
                lexical_hits = lexical.search(conn, parsed, limit=wanted)
    if checked in ("hybrid", "semantic"):
        if semantic is None:
            raise ConfigError("search by meaning is not available here")
        problem = semantic.mismatch()
        if problem and checked == "semantic":
            raise ConfigError(problem)
        if problem:
            notice = f"showing word matches only: {problem}"
        else:
            with engine.connect() as conn:
                allowed = _allowed(conn, parsed)
            found = semantic.search(parsed.semantic_text, wanted, allowed=allowed)
            candidates = [h.paper_id for h in found]
            quick = words.constrain(parsed, candidates) if words is not None else None
            if quick is not None:
                kept = quick
            else:
                with engine.connect() as conn:
                    kept = lexical.constrain(conn, parsed, candidates)
            by_id = {h.paper_id: h for h in found}
            semantic_hits = [by_id[pid] for pid in kept]
    if checked == "lexical":
        ranked = lexical_hits
    elif checked == "semantic":
        ranked = semantic_hits
    else:
        ranked = (fusion or Fusion()).fuse(lexical_hits, semantic_hits)
    with engine.connect() as conn:
        # Papers hidden by a moderator are never found.
        hidden = moderation.hidden_among(conn, [h.paper_id for h in ranked])
        if hidden:
            ranked = [h for h in ranked if h.paper_id not in hidden]
        page = ranked[offset : offset + limit]
        loaded = store.read_papers(conn, [h.paper_id for h in page])
    page = [h for h in page if h.paper_id in loaded]
    return SearchResult(
        query=parsed,
        mode=checked,
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
    with engine.connect() as conn:
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
    with engine.connect() as conn:
        allowed = _allowed(conn, within) if within is not None else None
        known = set(conn.execute(select(papers.c.id).where(papers.c.id.in_(paper_ids))).scalars())
    # A few more than asked, so that papers hidden by a moderator leave none missing.
    hits = semantic.similar([pid for pid in paper_ids if pid in known], limit + 10, allowed=allowed)
    with engine.connect() as conn:
        hidden = moderation.hidden_among(conn, [h.paper_id for h in hits])
        hits = [h for h in hits if h.paper_id not in hidden][:limit]
        loaded = store.read_papers(conn, [h.paper_id for h in hits])
    hits = [h for h in hits if h.paper_id in loaded]
    return hits, [loaded[h.paper_id] for h in hits]
