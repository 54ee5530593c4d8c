"""Search over Hugging Face's ``ai_keywords`` and ``ai_summary``: does reading them help?

    python bench/search_hf_fields.py [--json]

SciFact and the 660 seed-page papers carry no AI fields, so ``bench/search_quality.py``
cannot see them. This measures the word search (tantivy, the default, and FTS5) where they
exist, each weighting of the two fields against leaving them out:

1. **Anchor, enriched.** The seed-page papers with their AI fields from the Hugging Face
   daily archive where ``hf_daily_archive/seed_matches.jsonl`` matches them (15 of the 660
   have keywords, 11 a summary), searched with the anchor queries of
   ``bench/search_quality.py`` and compared with the Hugging Face search's own order
   (overlap@10, RBO@10): the one outside judgment there is, and Hugging Face's search reads
   these fields.
2. **Demo, a paper from a short description.** The bundled demo (1,371 papers): the first
   6 (or 4) telling words of each paper's ``ai_summary`` (a one-sentence description written
   by a model; the summary itself is not indexed in this test) are a query whose answer is
   that paper; MRR@10 and hit@10 of the word search with and without ``ai_keywords``.

Reads the seed pages and the archive from PAPERFEED_EXTERNAL_DATA_DIR (default
../shared/data). Semantic search is not affected (vectors embed title and abstract only);
hybrid search moves only through its word list.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from data_paths import external
from search_quality import ANCHOR_QUERIES, rbo

#: (label, tantivy keyword repeats, tantivy summary repeats, FTS5 keyword weight, summary weight)
WEIGHTINGS = (
    ("fields left out", 0, 0, 0.0, 0.0),
    ("keywords 1, summary 1 (the default)", 1, 1, 1.0, 1.0),
    ("keywords 2, summary 1", 2, 1, 2.0, 1.0),
    ("keywords 1, summary 0", 1, 0, 1.0, 0.0),
    ("keywords 3, summary 2", 3, 2, 3.0, 2.0),
)


@contextmanager
def word_store(papers: list[Any], weighting: tuple[str, int, int, float, float]) -> Iterator[Any]:
    """The papers in a temporary SQLite hub, words indexed with one weighting of the fields."""
    from sqlalchemy import func, literal_column

    from paperfeed.index.lexical import database as lexical
    from paperfeed.index.lexical import fts5 as lexical_sqlite
    from paperfeed.index.lexical import word_documents
    from paperfeed.index.lexical.tantivy_index import WordIndex
    from paperfeed.store.engine import make_engine, writing
    from paperfeed.store.migrate import migrate
    from paperfeed.store.papers import insert_papers

    _, kw_repeats, sum_repeats, kw_weight, sum_weight = weighting
    word_documents.KEYWORD_REPEATS, word_documents.AI_SUMMARY_REPEATS = kw_repeats, sum_repeats
    lexical_sqlite.WEIGHTS = (3.0, 1.0, 1.0, kw_weight, sum_weight)
    lexical_sqlite._RANK = func.bm25(
        literal_column("papers_fts"), *(literal_column(repr(w)) for w in lexical_sqlite.WEIGHTS)
    )
    with tempfile.TemporaryDirectory(prefix="paperfeed-hf-fields-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'eval.db'}")
        try:
            migrate(engine)
            with writing(engine) as conn:
                ids = insert_papers(conn, papers, datetime.now(UTC))
                lexical.sync(conn, ids)
            words = WordIndex(engine, Path(tmp) / "index", background=False)
            words.refresh()
            yield engine, words, ids
        finally:
            engine.dispose()


def ranked(engine: Any, words: Any, text: str, *, fts_only: bool, limit: int = 10) -> list[int]:
    from paperfeed.index.lexical import database as lexical
    from paperfeed.index.query import parse_query

    query = parse_query(text[:1000])
    if fts_only:
        with engine.connect() as conn:
            hits = lexical.search(conn, query, limit=limit)
    else:
        hits = words.search(query, limit=limit)
    return [h.paper_id for h in hits]


def enriched_seed_papers(seed_pages: Path, archive: Path, matches: Path) -> list[Any]:
    """The 660 seed papers as Papers, with the archive's AI fields where a match has them."""
    from paperfeed.ingest.hf_daily import parse_daily_lines
    from paperfeed.models import Paper

    by_id = {}
    with gzip.open(archive, "rb") as lines:
        for record in parse_daily_lines(lines):
            if isinstance(record.item, Paper) and record.item.arxiv_id:
                by_id[record.item.arxiv_id] = record.item
    matched = {}
    for line in matches.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        found = by_id.get(row["arxiv_id"])
        if found is not None:
            matched[row["title"]] = found
    papers: dict[str, Any] = {}
    for line in seed_pages.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["title"] in papers:
            continue
        paper = Paper(title=row["title"], abstract=row["abstract"], source="eval")
        hf = matched.get(row["title"])
        if hf is not None:
            paper = replace(paper, keywords=hf.keywords, ai_summary=hf.ai_summary)
        papers[row["title"]] = paper
    return list(papers.values())


def anchor(papers: list[Any], seed_pages: Path) -> dict[str, dict[str, float]]:
    rows = [json.loads(line) for line in seed_pages.read_text(encoding="utf-8").splitlines()]
    out: dict[str, dict[str, float]] = {}
    for weighting in WEIGHTINGS:
        with word_store(papers, weighting) as (engine, words, ids):
            title_of = dict(zip(ids, (p.title for p in papers), strict=True))
            for page, text in ANCHOR_QUERIES.items():
                reference = [
                    r["title"]
                    for r in sorted((r for r in rows if r["page"] == page), key=lambda r: r["rank"])
                ]
                for engine_name, fts_only in (("tantivy", False), ("FTS5", True)):
                    titles = [title_of[i] for i in ranked(engine, words, text, fts_only=fts_only)]
                    out[f"{weighting[0]} | {page[:3]} {text!r} {engine_name}"] = {
                        "overlap@10": len(set(titles) & set(reference[:10])) / 10,
                        "rbo@10": round(rbo(titles, reference), 4),
                    }
    return out


#: Words too common in the summaries to describe a paper.
_STOP_WORDS = (
    "a an the of and or to in on for with by from via that this these its their is are be "
    "as at into using use uses used which while than new novel method methods approach "
    "model models framework paper propose proposed proposes introduce introduces introduced "
    "present presents presented improve improves improved enhance enhances performance "
    "across various based achieve achieves achieving show shows significantly"
)
_STOP = frozenset(_STOP_WORDS.split())
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]*")


def short_description(summary: str, words: int) -> str:
    """The first ``words`` telling words of a summary: a query as a reader might type it."""
    kept = [w for w in _WORD.findall(summary) if w.lower() not in _STOP]
    return " ".join(kept[:words])


def described(papers: list[Any], words: int) -> dict[str, dict[str, float]]:
    """Each paper found from a short description cut from its ai_summary (the summary itself
    never indexed in this test)."""
    hidden = [replace(p, ai_summary=None) for p in papers]
    queries = [
        (i, short_description(p.ai_summary, words)) for i, p in enumerate(papers) if p.ai_summary
    ]
    out: dict[str, dict[str, float]] = {}
    for weighting in WEIGHTINGS[:4]:
        with word_store(hidden, weighting) as (engine, words, ids):
            for engine_name, fts_only in (("tantivy", False), ("FTS5", True)):
                rr, hits = 0.0, 0
                for position, text in queries:
                    found = ranked(engine, words, text, fts_only=fts_only)
                    if ids[position] in found:
                        hits += 1
                        rr += 1 / (found.index(ids[position]) + 1)
                out[f"{weighting[0]} | {engine_name}"] = {
                    "mrr@10": round(rr / len(queries), 4),
                    "hit@10": round(hits / len(queries), 4),
                    "queries": len(queries),
                }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    seed_pages = external("seed_pages.jsonl", "The seed pages")
    archive = external("hf_daily_archive/hf_daily_archive.jsonl.gz", "The HF daily archive")
    matches = external("hf_daily_archive/seed_matches.jsonl", "The seed matches")
    from paperfeed.ingest.demo import DemoSource
    from paperfeed.models import Paper

    started = time.perf_counter()
    seeds = enriched_seed_papers(seed_pages, archive, matches)
    demo = [r.item for r in DemoSource().records(None) if isinstance(r.item, Paper)]
    out = {
        "seed_papers_with_keywords": sum(bool(p.keywords) for p in seeds),
        "seed_papers_with_summary": sum(p.ai_summary is not None for p in seeds),
        "anchor": anchor(seeds, seed_pages),
        "demo_described_6_words": described(demo, 6),
        "demo_described_4_words": described(demo, 4),
    }
    out["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return
    print(
        f"seed papers with ai_keywords: {out['seed_papers_with_keywords']}, "
        f"with ai_summary: {out['seed_papers_with_summary']}"
    )
    for name, scores in out["anchor"].items():  # type: ignore[attr-defined]
        print(f"anchor  {name:<70} {scores['overlap@10']:.1f} / {scores['rbo@10']:.3f}")
    for key in ("demo_described_6_words", "demo_described_4_words"):
        for name, scores in out[key].items():  # type: ignore[attr-defined]
            print(
                f"{key[15:]:<8} {name:<48} MRR@10 {scores['mrr@10']:.4f}  "
                f"hit@10 {scores['hit@10']:.4f}"
            )
    print(f"({out['seconds']} s)")


if __name__ == "__main__":
    main()
