"""Retrieval evaluation on judged data in the BEIR layout, as a feature: users check
paperfeed's search on their own corpus, queries and relevance judgements.

The corpus is indexed into a throw-away SQLite store (lexical and semantic), every
query is run in each mode, and nDCG@10, Recall@100 and MRR@10 are averaged over
the judged queries (BEIR's definitions: graded gains, log2 discount).
"""

from __future__ import annotations

import csv
import json
import math
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from paperfeed.errors import InvalidInputError, InvalidQueryError
from paperfeed.index.lexical import database as lexical
from paperfeed.index.lexical.tantivy_index import WordIndex
from paperfeed.index.query import MAX_QUERY_CHARS
from paperfeed.index.semantic import SemanticIndex
from paperfeed.models import Paper
from paperfeed.rank.search import MODES, search
from paperfeed.store.engine import make_engine, writing
from paperfeed.store.migrate import migrate
from paperfeed.store.papers import insert_papers


def ndcg_at(ranked: Sequence[str], gains: Mapping[str, int], k: int = 10) -> float:
    dcg = sum(gains.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked[:k]))
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: Sequence[str], gains: Mapping[str, int], k: int = 100) -> float:
    relevant = {doc for doc, g in gains.items() if g > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def mrr_at(ranked: Sequence[str], gains: Mapping[str, int], k: int = 10) -> float:
    for i, doc in enumerate(ranked[:k]):
        if gains.get(doc, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


@dataclass(frozen=True)
class Judged:
    """A BEIR data set: documents, queries and graded judgements."""

    corpus: dict[str, tuple[str, str]]  # id -> (title, text)
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def _jsonl(path: Path) -> Iterator[dict[str, object]]:
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if line.strip():
                    try:
                        yield json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise InvalidInputError(f"{path}:{number}: invalid JSON: {exc}") from exc
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc}") from exc


def load_beir(corpus: Path, queries: Path, qrels: Path) -> Judged:
    """Read corpus.jsonl ({_id, title, text}), queries.jsonl ({_id, text}) and a qrels TSV."""
    docs = {
        str(d["_id"]): (str(d.get("title") or ""), str(d.get("text") or "")) for d in _jsonl(corpus)
    }
    texts = {str(q["_id"]): str(q["text"]) for q in _jsonl(queries)}
    judged: dict[str, dict[str, int]] = {}
    try:
        with qrels.open(encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle, delimiter="\t"):
                if len(row) < 3 or row[0] == "query-id":
                    continue
                try:
                    judged.setdefault(row[0], {})[row[1]] = int(row[2])
                except ValueError as exc:
                    raise InvalidInputError(f"{qrels}: bad judgement row {row!r}") from exc
    except OSError as exc:
        raise InvalidInputError(f"cannot read {qrels}: {exc}") from exc
    judged = {q: g for q, g in judged.items() if q in texts}
    if not docs or not judged:
        raise InvalidInputError("no documents or no judged queries found")
    return Judged(docs, texts, judged)


@dataclass
class Indexed:
    """A judged corpus indexed into a throw-away store."""

    engine: Engine
    semantic: SemanticIndex
    to_doc: dict[int, str]
    #: The tantivy word index, or None when FTS5 ranks the words.
    words: WordIndex | None = None


@contextmanager
def throwaway_store(
    data: Judged,
    *,
    embedder: str,
    embed: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
    words: bool = True,
) -> Iterator[Indexed]:
    """Index ``data``'s corpus (words, and meaning when ``embed``) into a temporary SQLite file.

    ``words``: rank word matches with the tantivy word index, as a SQLite hub does by
    default (else with FTS5 alone).
    """
    with tempfile.TemporaryDirectory(prefix="paperfeed-eval-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'eval.db'}")
        try:
            migrate(engine)
            docs = [
                Paper(title=title or text[:80] or doc_id, abstract=text, source="eval")
                for doc_id, (title, text) in data.corpus.items()
            ]
            with writing(engine) as conn:
                stored = insert_papers(conn, docs, datetime.now(UTC))
                lexical.sync(conn, stored)
            semantic = SemanticIndex(engine, embedder=embedder, exact_max=10**9, cache_dir=None)
            if embed:
                total = len(stored)
                semantic.embed_papers(
                    stored, (lambda n: progress("embedding", n, total)) if progress else None
                )
            word_index = None
            if words:
                word_index = WordIndex(engine, Path(tmp) / "index", background=False)
                word_index.refresh()
            yield Indexed(engine, semantic, dict(zip(stored, data.corpus, strict=True)), word_index)
        finally:
            engine.dispose()


def score_rankings(rankings: Mapping[str, Sequence[str]], data: Judged) -> dict[str, float]:
    """Mean nDCG@10, Recall@100 and MRR@10 of one ranked list of doc ids per judged query."""
    totals = {"ndcg@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
    for qid, gains in data.qrels.items():
        ranked = rankings.get(qid, [])
        totals["ndcg@10"] += ndcg_at(ranked, gains)
        totals["recall@100"] += recall_at(ranked, gains)
        totals["mrr@10"] += mrr_at(ranked, gains)
    return {k: round(v / len(data.qrels), 4) for k, v in totals.items()}


def rankings_for(indexed: Indexed, data: Judged, mode: str) -> dict[str, list[str]]:
    """paperfeed's top 100 for every judged query in ``mode``."""
    return {qid: _ranked(indexed, data.queries[qid], mode) for qid in sorted(data.qrels)}


def evaluate(
    data: Judged,
    *,
    embedder: str,
    modes: Sequence[str] = MODES,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, dict[str, float]]:
    """Index ``data`` into a temporary store and score each mode."""
    embed = any(m in ("hybrid", "semantic") for m in modes)
    with throwaway_store(data, embedder=embedder, embed=embed, progress=progress) as indexed:
        return {mode: score_rankings(rankings_for(indexed, data, mode), data) for mode in modes}


def _ranked(indexed: Indexed, text: str, mode: str) -> list[str]:
    """The top 100 document ids for a query (none when the query cannot be run)."""
    try:
        result = search(
            indexed.engine,
            indexed.semantic,
            text[:MAX_QUERY_CHARS],
            mode=mode,
            limit=100,
            words=indexed.words,
        )
    except InvalidQueryError:
        return []
    return [indexed.to_doc[h.paper_id] for h in result.hits]
