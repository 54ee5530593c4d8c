"""Search speed, memory and disk at 10 k, 100 k and 1 M papers, with bm25s and NumPy beside it.

    python bench/search_speed.py [--sizes 10000,100000,1000000] [--queries 200]
                                 [--corpus realistic|words] [--real-max N] [--data DIR]
                                 [--real-cache DIR] [--real-vectors-max 10000]
                                 [--embedder minilm] [--throughput-embedders minilm,static]
                                 [--throughput-docs 500] [--blas-threads N] [--workdir DIR]
                                 [--timing-nice N] [--json]
    python bench/search_speed.py --table-from saved.json

Corpus. For each size N, a fresh migrated SQLite file is filled with N papers, in batches
of 10 k. ``--corpus realistic`` (the default) is bench/corpus.py's: the real papers at hand
(the HF daily archive, the seed pages, SciFact; about 15.7 k, or ``--real-max``) with
their vectors from the real embedder (embedded once, kept in ``--real-cache``), then
synthetic papers mixed from them (vectors: mixtures of 2-3 real neighbours plus calibrated
noise; texts: their sentences recombined), whose neighbourhoods behave like real ones
(docs/benchmarks.md shows the recall check). ``--corpus words`` is the older corpus:
words resampled (by their frequency) from the seed papers shipped in the package, vectors from
the real embedder up to ``--real-vectors-max`` papers and random unit vectors above
(which have no neighbourhoods: HNSW recall on them says nothing). Authors are drawn from
a small pool of made-up names. Each batch is one write transaction of the product's own
calls: ``insert_papers``, ``lexical.sync`` (FTS5 and the change journal),
``vectors.store_vectors`` + ``vectors.record_model``; then the tantivy word index is built
from the file (``WordIndex.refresh``), as ``paperfeed ingest`` does at the end of a run.

Queries. ``--queries`` queries (200 by default) of 2-4 words drawn from the 300 most
frequent non-stopwords of the real abstracts; every tenth also holds a quoted two-word
phrase that occurs in them. The same queries go to every engine.

Each step runs in its own subprocess, so each peak RSS (``ru_maxrss``) is its own:

1. ``build``: generate + insert + index as above (papers, lexical and vector store times);
   afterwards the on-disk size per part (``dbstat``) and of the file (+ -wal);
2. ``serve``: what a server process holds: ``SemanticIndex(engine, embedder=...,
   exact_max=50_000, cache_dir=...)``, its model load and its vector index load (an HNSW
   graph is built above ``exact_max`` and saved to the cache; a second load from the
   cache is timed too). Each query is embedded by the real model (one call per query,
   as search does): that is "query embedding", timed on its own and kept out of every
   search latency below, which use the precomputed vectors:
   - lexical: ``WordIndex.search(query, limit=100)`` (tantivy, bm25 with block-max
     pruning: what search() uses on SQLite), and ``lexical.search(conn, query, limit=100)``
     (FTS5, bm25, OR of the terms: the fallback, and what the web used before);
   - semantic: ``semantic.index().search(vector, 100)``;
   - hybrid e2e: the same ``search()`` with the query embedded inside it by the model
     (its cache of recent queries emptied before each): what a user waits for;
   - hybrid: the product's ``search(engine, semantic, query, mode="hybrid", limit=20)``,
     end to end (tantivy, filters, constraint of phrases, fusion, loading the 20 papers), with
     :class:`CachedQueryIndex`, a ``SemanticIndex`` whose ``query_vector`` returns the
     precomputed vector (the one test seam; nothing is monkeypatched). Its parts are
     also timed one by one, the way ``rank/search.py`` calls them;
   - diagnosis: per query, the number of papers the FTS5 expression matches, and the
     same MATCH unranked (``LIMIT 100``) and counted (``count(*)``), which separate
     walking the posting lists from scoring and sorting every match by bm25;
3. ``bm25s``: the peer for lexical search: bm25s (English stopwords, Snowball stemmer)
   over the same title + abstract texts read back from the file, the same query words,
   k=100, one query at a time (tokenising the query included);
4. ``floor``: the floor for semantic search: the same vectors in one NumPy matrix,
   ``matrix @ q`` + ``argpartition`` + sort of the top 100, over the same query vectors;
   its top 10 is the truth for the semantic recall@10 of the product's index.

``--workdir DIR`` (made if missing) keeps each size's file, word index and HNSW cache under
``DIR/n<size>`` (``DIR/n<size>-words`` for the words corpus) and a later run with the same
``DIR`` reuses them (the build figures are those of the run that built them; the vector
index then loads from its cache file, and the table says so).
``--timing-nice N`` runs the timed loops (not the builds) at ``nice N`` (negative needs
root), so other jobs on a shared machine do not preempt the measured process.

Latencies are p50 / p95 in milliseconds over all queries, after a warm-up pass over
20 of them. Ratios are paperfeed / peer on p50 (above 1: paperfeed is slower).
Embedding throughput: each bundled embedder (own subprocess) embeds ``--throughput-docs``
real seed papers (``paper_text``) in chunks of 64, as ``SemanticIndex`` does.

Targets (printed with PASS / FAIL): hybrid p95 <= 10 ms at 100 k papers and <= 50 ms at
1 M; peak RSS of the serving process <= 3 GB at 1 M. Progress goes to stderr.

``--json`` prints the whole report and, at its top level, one summary per size (#17):
``{"<size>": {"hybrid_e2e_ms": {"p50", "p95"}, "floor_ms": {"p50", "p95"}, "recall_at_10",
"serve_rss_mb", "vectors"}}``: hybrid end to end with the query embedded, the NumPy floor
over the same vectors in the same run, recall@10 of the product's vector index against
that floor, and the serving process's RSS after its queries (VmRSS; its peak, which
includes building an HNSW graph on first use, is in ``sizes``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import data_paths
from search_speed_build import child_build, child_throughput
from search_speed_inputs import (
    EXACT_MAX,
    LIMIT,
    K,
    file_mb,
    make_queries,
    overlap,
    progress,
    run_child,
    seed_papers,
    tree_mb,
)
from search_speed_peers import child_bm25s, child_floor
from search_speed_report import evaluate_targets, print_report
from search_speed_serve import child_serve

CHILDREN: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "throughput": child_throughput,
    "build": child_build,
    "serve": child_serve,
    "floor": child_floor,
    "bm25s": child_bm25s,
}


# --- the run ---------------------------------------------------------------------------------


def size_folder(work: Path, size: int, corpus: str) -> Path:
    return work / (f"n{size}" if corpus == "realistic" else f"n{size}-words")


def measure_size(size: int, args: argparse.Namespace, queries: list[str], work: Path) -> dict:
    folder = size_folder(work, size, args.corpus)
    db = folder / "papers.db"
    kept = folder / "build.json"
    real_vectors = args.corpus == "words" and size <= args.real_vectors_max
    if kept.exists() and db.exists():
        progress(f"N={size:,}: reusing the corpus built in {folder}")
        build, disk_after_build = json.loads(kept.read_text())
    else:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        progress(f"N={size:,}: building a {args.corpus} corpus")
        build = run_child(
            "build",
            {
                "size": size,
                "db": str(db),
                "embedder": args.embedder,
                "corpus": args.corpus,
                "data": str(args.data),
                "real_cache": str(args.real_cache or work / "real"),
                "real_max": args.real_max,
                "real_vectors": real_vectors,
                "words_dir": str(folder / "index"),
            },
            folder,
        )
        disk_after_build = {"db_mb": file_mb(db), "wal_mb": file_mb(Path(f"{db}-wal"))}
        if args.workdir:
            kept.write_text(json.dumps([build, disk_after_build]))
    common = {"size": size, "db": str(db), "queries": queries, "timing_nice": args.timing_nice}
    serve = run_child(
        "serve",
        {
            **common,
            "embedder": args.embedder,
            "exact_max": EXACT_MAX,
            "cache_dir": str(folder / "index"),
            "query_vectors": str(folder / "queries.npy"),
        },
        folder,
    )
    progress(f"N={size:,}: NumPy floor")
    floor = run_child(
        "floor",
        {**common, "model": build["embedder"], "query_vectors": str(folder / "queries.npy")},
        folder,
    )
    progress(f"N={size:,}: bm25s")
    bm25 = run_child("bm25s", common, folder)
    disk = {
        **disk_after_build,
        "db_wal_mb": disk_after_build["db_mb"] + disk_after_build["wal_mb"],
        "wal_mb_while_open": build["wal_mb_while_open"],
        "parts_mb": build.get("parts_mb"),
        "tantivy_mb": sum(tree_mb(p) for p in (folder / "index").glob("words-*")),
        "hnsw_cache_mb": tree_mb(folder / "index")
        - sum(tree_mb(p) for p in (folder / "index").glob("words-*")),
    }
    lat = serve["latency_ms"]
    result = {
        "papers": size,
        "corpus": args.corpus,
        "vectors": build["vectors"],
        "dim": build["dim"],
        "build_s": {
            key: build[key]
            for key in (
                "generate_s",
                "synthesize_s",
                "embed_s",
                "random_vectors_s",
                "papers_s",
                "lexical_s",
                "tantivy_s",
                "vectors_s",
                "commit_s",
                "total_s",
            )
            if key in build
        },
        "serve_s": {
            key: serve[key]
            for key in ("model_load_s", "index_load_s", "index_reload_s", "words_open_s")
            if key in serve
        },
        "vector_index": {
            "kind": serve["index_kind"],
            "origin": serve["index_origin"],
            "reload_origin": serve.get("index_reload_origin"),
        },
        "disk": disk,
        "serve_rss_mb": serve["rss_mb_after_queries"],
        "peak_rss_mb": {
            "build": build["peak_rss_mb"],
            "serve": serve["peak_rss_mb"],
            "bm25s": bm25["peak_rss_mb"],
            "floor": floor["peak_rss_mb"],
        },
        "query_embedding_ms": serve["query_embedding_ms"],
        "latency_ms": {
            **lat,
            "bm25s": bm25["latency_ms"],
            "numpy_floor": floor["latency_ms"],
        },
        "peers_s": {
            "bm25s_tokenize_s": bm25["tokenize_s"],
            "bm25s_index_s": bm25["index_s"],
            "floor_load_s": floor["load_s"],
        },
        "ratios": {
            "lexical_vs_bm25s": lat["lexical"]["p50"] / bm25["latency_ms"]["p50"],
            "fts5_vs_bm25s": lat["lexical_fts5"]["p50"] / bm25["latency_ms"]["p50"],
            "semantic_vs_floor": lat["semantic"]["p50"] / floor["latency_ms"]["p50"],
        },
        "semantic_recall_at_10": overlap(serve["top"]["semantic"], floor["top"]),
        "lexical_overlap_at_10_with_bm25s": overlap(serve["top"]["lexical"], bm25["top"]),
        "fts5_overlap_at_10_with_bm25s": overlap(serve["top"]["lexical_fts5"], bm25["top"]),
        "lexical_matches": serve["lexical_matches"],
    }
    result["reused_build"] = bool(args.workdir) and not args.workdir_fresh[size]
    if not args.workdir:
        for path in folder.glob("papers.db*"):
            path.unlink()
    return result


def summary(row: dict[str, Any]) -> dict[str, Any]:
    """The headline figures of one size (#17), also at the top level of the JSON."""
    lat = row["latency_ms"]
    return {
        "hybrid_e2e_ms": {k: lat["hybrid_e2e"][k] for k in ("p50", "p95")},
        "floor_ms": {k: lat["numpy_floor"][k] for k in ("p50", "p95")},
        "recall_at_10": row["semantic_recall_at_10"],
        "serve_rss_mb": row["serve_rss_mb"],
        "vectors": row["vectors"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--sizes",
        default="10000,100000,1000000",
        type=lambda s: [int(x) for x in s.split(",") if x.strip()],
    )
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--corpus",
        choices=("realistic", "words"),
        default="realistic",
        help="realistic: real papers, then mixtures of them (bench/corpus.py); words: words "
        "resampled from the seed papers, with --real-vectors-max",
    )
    parser.add_argument(
        "--real-vectors-max",
        type=int,
        default=10_000,
        help="--corpus words: embed papers with the real model up to this corpus size; "
        "random vectors above.",
    )
    parser.add_argument(
        "--real-max",
        type=int,
        default=None,
        help="--corpus realistic: use at most this many real papers (default: all, ~15.7 k); "
        "the rest are synthetic.",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="The folder of real papers kept outside the repository (the HF daily archive, "
        "SciFact; each skipped when absent; default PAPERFEED_EXTERNAL_DATA_DIR).",
    )
    parser.add_argument(
        "--real-cache",
        type=Path,
        help="Where the real papers' vectors are kept (default WORKDIR/real); e.g. "
        "/work/bench-data/real, shared by every run.",
    )
    parser.add_argument(
        "--embedder", default="minilm", help="Embedder for papers and queries (minilm, static)."
    )
    parser.add_argument("--throughput-embedders", default="minilm,static")
    parser.add_argument("--throughput-docs", type=int, default=500)
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=0,
        help="OPENBLAS_NUM_THREADS for the measured processes (default: as set, else all cores)",
    )
    parser.add_argument(
        "--workdir",
        help="Keep each size's corpus, word index and HNSW cache here and reuse them next run.",
    )
    parser.add_argument(
        "--timing-nice",
        type=int,
        default=0,
        help="nice increment for the timed loops (e.g. -10 as root on a shared machine)",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--table-from", metavar="JSON", help="Print the table of a saved --json output and exit."
    )
    parser.add_argument("--child", nargs=2, metavar=("ROLE", "CONFIG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.blas_threads:
        os.environ["OPENBLAS_NUM_THREADS"] = str(args.blas_threads)  # inherited by the children
    if args.table_from:
        print_report(json.loads(Path(args.table_from).read_text()))
        return
    if args.child:
        role, config = args.child
        result = CHILDREN[role](json.loads(Path(config).read_text()))
        sys.stdout.write(json.dumps(result) + "\n")
        return

    if args.data is None:
        args.data = data_paths.external_data_dir()
    real = seed_papers()
    queries = make_queries(real, args.queries)
    report: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "load_average_at_start": os.getloadavg()[0],
            "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default (all cores)"),
        },
        "settings": {
            "sizes": args.sizes,
            "queries": len(queries),
            "phrase_queries": sum('"' in q for q in queries),
            "k": K,
            "limit": LIMIT,
            "exact_max": EXACT_MAX,
            "embedder": args.embedder,
            "corpus": args.corpus,
            "real_vectors_max": args.real_vectors_max,
            "workdir": args.workdir,
            "timing_nice": args.timing_nice,
        },
        "throughput": {},
        "sizes": {},
    }
    with tempfile.TemporaryDirectory(prefix="pf-search-bench-") as tmp:
        work = Path(args.workdir) if args.workdir else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)  # a new --workdir is made, not an error
        args.workdir_fresh = {
            size: not (size_folder(work, size, args.corpus) / "build.json").exists()
            for size in args.sizes
        }
        for key in [k for k in args.throughput_embedders.split(",") if k]:
            progress(f"embedding throughput: {key}")
            report["throughput"][key] = run_child(
                "throughput", {"embedder": key, "docs": args.throughput_docs}, work
            )
        for size in args.sizes:
            report["sizes"][str(size)] = measure_size(size, args, queries, work)
    report["machine"]["load_average_at_end"] = os.getloadavg()[0]
    report["targets"] = evaluate_targets(report["sizes"])
    for name, row in report["sizes"].items():
        report[name] = summary(row)
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        print_report(report)


if __name__ == "__main__":
    main()
