"""Search quality: SciFact (judged) and agreement with the Hugging Face anchor pages.

    python bench/search_quality.py [--embedder minilm] [--json] [--skip-scifact] [--queries N]

Both read evaluation data that does not ship with paperfeed, from PAPERFEED_EXTERNAL_DATA_DIR
(default ../shared/data; the script stops, saying where it looked, when it is missing).

1. SciFact train split (DATA/scifact, BEIR layout, out of domain for ML papers):
   nDCG@10, Recall@100, MRR@10 for paperfeed's lexical (tantivy, and FTS5 alone), semantic
   and hybrid modes, beside
   bm25s (Porter stemmer, English stopwords) run in the same script on the same corpus, and
   beside the two fusion methods considered for hybrid (reciprocal rank fusion, chosen, and
   min-max normalised score combination at several α).
2. Anchor agreement: for the seed pages (DATA/seed_pages.jsonl) whose likely query
   DATA/README.md gives, paperfeed runs that query over the bundled sample corpus (660
   papers) and is compared with the page's own order: overlap@10 and rank-biased overlap
   (p = 0.9).

Published BEIR figures on SciFact's *test* split (not this train split): BM25 nDCG@10 0.665
(Thakur et al., 2021); all-MiniLM-L6-v2 nDCG@10 0.645 (sentence-transformers / MTEB).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from data_paths import external

#: Pages whose likely query is published in the data's README.md (000 and 004 stay unseen).
ANCHOR_QUERIES = {
    "001_13acf9646e0bd130.txt": "training-free manner",
    "002_ecab7b41c2772ec6.txt": "feed-forward",
    "003_dbb56fe0d74a3f1e.txt": "efficient method",
}
PUBLISHED = {"BM25 (BEIR, test split)": 0.665, "all-MiniLM-L6-v2 (MTEB, test split)": 0.645}


def bm25s_rankings(data, limit: int = 100) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    ids = list(data.corpus)
    texts = [f"{title} {text}" for title, text in data.corpus.values()]
    retriever = bm25s.BM25()
    retriever.index(
        bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False),
        show_progress=False,
    )
    qids = sorted(data.qrels)
    tokens = bm25s.tokenize(
        [data.queries[q] for q in qids], stopwords="en", stemmer=stemmer, show_progress=False
    )
    results, _ = retriever.retrieve(tokens, k=limit, show_progress=False, n_threads=1)
    return {qid: [ids[i] for i in row] for qid, row in zip(qids, results, strict=True)}


def fusion_rankings(indexed, data, method: str, alpha: float = 0.5) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    from paperfeed.errors import InvalidQueryError
    from paperfeed.index.lexical import database as lexical
    from paperfeed.index.query import parse_query
    from paperfeed.rank.fusion import normalised_combination, reciprocal_rank_fusion

    out: dict[str, list[str]] = {}
    for qid in sorted(data.qrels):
        try:
            query = parse_query(data.queries[qid][:1000])
        except InvalidQueryError:
            out[qid] = []
            continue
        lex = indexed.words.search(query, limit=100) if indexed.words else None
        if lex is None:
            with indexed.engine.connect() as conn:
                lex = lexical.search(conn, query, limit=100)
        sem = indexed.semantic.search(query.semantic_text, 100)
        if method == "rrf":
            fused = reciprocal_rank_fusion([lex, sem], k=int(alpha))
        else:
            fused = normalised_combination(lex, sem, alpha=alpha)
        out[qid] = [indexed.to_doc[h.paper_id] for h in fused[:100]]
    return out


def scifact(embedder: str, max_queries: int | None, folder: Path) -> dict[str, dict[str, float]]:
    from paperfeed.rank.evaluate import (
        Judged,
        load_beir,
        rankings_for,
        score_rankings,
        throwaway_store,
    )

    data = load_beir(
        folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels" / "train.tsv"
    )
    if max_queries:
        keep = sorted(data.qrels)[:max_queries]
        data = Judged(data.corpus, data.queries, {q: data.qrels[q] for q in keep})
    table: dict[str, dict[str, float]] = {}
    started = time.perf_counter()
    table["bm25s (peer)"] = score_rankings(bm25s_rankings(data), data)
    with throwaway_store(data, embedder=embedder) as indexed:
        index_seconds = time.perf_counter() - started
        for mode in ("lexical", "semantic", "hybrid"):
            table[f"paperfeed {mode}"] = score_rankings(rankings_for(indexed, data, mode), data)
        # The same with FTS5 alone ranking the words (PAPERFEED_LEXICAL_ENGINE=database).
        words, indexed.words = indexed.words, None
        for mode in ("lexical", "hybrid"):
            table[f"paperfeed {mode} (FTS5 only)"] = score_rankings(
                rankings_for(indexed, data, mode), data
            )
        indexed.words = words
        for k in (10, 60):
            table[f"fusion: RRF k={k}"] = score_rankings(
                fusion_rankings(indexed, data, "rrf", k), data
            )
        for alpha in (0.3, 0.5, 0.7):
            table[f"fusion: normalised α={alpha}"] = score_rankings(
                fusion_rankings(indexed, data, "norm", alpha), data
            )
    table["_meta"] = {
        "documents": len(data.corpus),
        "queries": len(data.qrels),
        "index_seconds": round(index_seconds, 1),
    }
    return table


def rbo(ranked: list[str], reference: list[str], p: float = 0.9, depth: int = 10) -> float:
    """Rank-biased overlap (Webber et al. 2010), truncated at ``depth`` and normalised."""
    total, weight_sum = 0.0, 0.0
    for d in range(1, depth + 1):
        agreement = len(set(ranked[:d]) & set(reference[:d])) / d
        weight = p ** (d - 1)
        total += weight * agreement
        weight_sum += weight
    return total / weight_sum


def anchor(embedder: str, seed_pages: Path) -> dict[str, dict[str, float]]:
    from paperfeed.rank.evaluate import Judged, throwaway_store
    from paperfeed.rank.search import search

    rows = [json.loads(line) for line in seed_pages.read_text().splitlines() if line.strip()]
    corpus: dict[str, tuple[str, str]] = {}
    for row in rows:
        corpus.setdefault(row["title"], (row["title"], row["abstract"]))
    data = Judged(corpus, {}, {})
    results: dict[str, dict[str, float]] = {}
    with throwaway_store(data, embedder=embedder) as indexed:
        for page, text in ANCHOR_QUERIES.items():
            reference = [
                r["title"]
                for r in sorted((r for r in rows if r["page"] == page), key=lambda r: r["rank"])
            ]
            for mode in ("lexical", "semantic", "hybrid"):
                found = search(
                    indexed.engine, indexed.semantic, text, mode=mode, limit=10, words=indexed.words
                )
                titles = [indexed.to_doc[h.paper_id] for h in found.hits]
                results[f"{page[:3]} {text!r} {mode}"] = {
                    "overlap@10": len(set(titles) & set(reference[:10])) / 10,
                    "rbo@10": round(rbo(titles, reference), 4),
                }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--skip-scifact", action="store_true")
    parser.add_argument(
        "--queries", type=int, default=None, help="Only the first N judged queries."
    )
    args = parser.parse_args()
    # Evaluation data outside the repository: stop now, saying where it was looked for.
    seed_pages = external("seed_pages.jsonl", "The seed pages")
    scifact_dir = None if args.skip_scifact else external("scifact", "SciFact")
    out: dict[str, object] = {"embedder": args.embedder}
    if scifact_dir is not None:
        out["scifact_train"] = scifact(args.embedder, args.queries, scifact_dir)
    out["anchor"] = anchor(args.embedder, seed_pages)
    out["published_test_split_ndcg@10"] = PUBLISHED
    if args.json:
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return
    if "scifact_train" in out:
        table = dict(out["scifact_train"])  # type: ignore[call-overload]
        meta = table.pop("_meta")
        print(
            f"SciFact train: {meta['documents']:,} docs, {meta['queries']} judged queries, "
            f"embedder {args.embedder}"
        )
        print(f"{'run':<30} {'nDCG@10':>8} {'Recall@100':>11} {'MRR@10':>8}")
        for name, s in table.items():
            print(f"{name:<30} {s['ndcg@10']:>8.4f} {s['recall@100']:>11.4f} {s['mrr@10']:>8.4f}")
        for name, value in PUBLISHED.items():
            print(f"published {name}: nDCG@10 {value}")
    print("\nAgreement with the anchor pages (sample corpus, 660 papers)")
    print(f"{'page / query / mode':<48} {'overlap@10':>10} {'RBO@10':>8}")
    for name, s in out["anchor"].items():  # type: ignore[attr-defined]
        print(f"{name:<48} {s['overlap@10']:>10.2f} {s['rbo@10']:>8.4f}")


if __name__ == "__main__":
    main()
