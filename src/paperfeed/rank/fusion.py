"""Fusing ranked lists (pure functions over ``list[Hit]``).

Two methods, both measured on SciFact in ``bench/search_quality.py`` (see
docs/design.md for the figures and the choice):

* reciprocal rank fusion: ``score(d) = Σ_lists 1 / (k + rank_d)``; uses ranks only,
  so it needs no calibration between bm25 and cosine scales;
* normalised score combination: each list's scores min-max scaled to [0, 1], then
  ``α · lexical + (1 - α) · semantic`` (a missing score counts 0).
"""

from __future__ import annotations

from collections.abc import Sequence

from paperfeed.models import Hit


def reciprocal_rank_fusion(lists: Sequence[Sequence[Hit]], *, k: int = 60) -> list[Hit]:
    """Fuse by reciprocal rank; ties broken by best single rank, then id (deterministic)."""
    scores: dict[int, float] = {}
    best_rank: dict[int, int] = {}
    for hits in lists:
        for rank, hit in enumerate(hits, start=1):
            scores[hit.paper_id] = scores.get(hit.paper_id, 0.0) + 1.0 / (k + rank)
            best_rank[hit.paper_id] = min(best_rank.get(hit.paper_id, rank), rank)
    order = sorted(scores, key=lambda pid: (-scores[pid], best_rank[pid], pid))
    return [Hit(pid, scores[pid]) for pid in order]


def _normalised(hits: Sequence[Hit]) -> dict[int, float]:
    if not hits:
        return {}
    values = [h.score for h in hits]
    low, high = min(values), max(values)
    if high == low:
        return {h.paper_id: 1.0 for h in hits}
    return {h.paper_id: (h.score - low) / (high - low) for h in hits}


def normalised_combination(
    lexical: Sequence[Hit], semantic: Sequence[Hit], *, alpha: float = 0.5
) -> list[Hit]:
    """Fuse by min-max-normalised scores: ``alpha`` weighs the lexical list."""
    lex = _normalised(lexical)
    sem = _normalised(semantic)
    scores = {
        pid: alpha * lex.get(pid, 0.0) + (1 - alpha) * sem.get(pid, 0.0)
        for pid in lex.keys() | sem.keys()
    }
    order = sorted(scores, key=lambda pid: (-scores[pid], pid))
    return [Hit(pid, scores[pid]) for pid in order]
