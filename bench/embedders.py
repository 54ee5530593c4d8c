"""Quality and speed of the bundled embedders on real papers.

    python bench/embedders.py [--embedders minilm,static] [--limit N] [--json]

Protocol (the one the embedders were chosen by, before the first release): the 660 unique
papers of the seed pages (shipped in the package); each paper's title (as
:func:`query_text`) is a query and its own abstract the one relevant document among all 660
abstracts, ranked by cosine similarity.

- R@1: the share of titles whose own abstract ranks first;
- MRR: the mean of 1 / (rank of the own abstract);
- docs/s: abstracts embedded per second of wall time (the 660 abstracts, embedded once;
  the static embedder is repeated until a second has passed), with the machine's cores
  as they are (the minilm embedder uses two threads);
- docs/cpu-s: the same per second of the process's CPU time, all threads together: on a
  shared, busy machine the wall-time figure drops with the load, this one much less
  (on two idle cores, docs/s approaches up to twice docs/cpu-s);
- load_s and peak_rss_mb: each embedder runs in a fresh subprocess, so these are its own.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

import numpy as np

import data_paths
from memory import peak_rss_mb
from paperfeed.index.embedders.embedder import EMBEDDERS, load_embedder, query_text


def seed_papers(limit: int | None = None) -> list[tuple[str, str]]:
    """(title, abstract) of the unique seed papers, in file order."""
    return data_paths.seed_papers()[:limit]


def measure(key: str, limit: int | None) -> dict[str, Any]:
    """Load one embedder and score it; meant to run in its own process."""
    papers = seed_papers(limit)
    titles = [query_text(title) for title, _ in papers]
    abstracts = [abstract for _, abstract in papers]

    started = time.perf_counter()
    embedder = load_embedder(key)
    load_s = time.perf_counter() - started

    started, cpu_started, rounds = time.perf_counter(), time.process_time(), 0
    while True:
        docs = embedder.embed(abstracts)
        rounds += 1
        elapsed = time.perf_counter() - started
        if key == "minilm" or elapsed >= 1.0:
            break
    cpu = time.process_time() - cpu_started
    queries = embedder.embed(titles)

    scores = queries @ docs.T
    own = np.diag(scores)
    ranks = (scores > own[:, None]).sum(axis=1) + 1
    return {
        "name": embedder.name,
        "dim": embedder.dim,
        "papers": len(papers),
        "r_at_1": round(float((ranks == 1).mean()), 4),
        "mrr": round(float((1.0 / ranks).mean()), 4),
        "docs_per_s": round(rounds * len(abstracts) / elapsed, 1),
        "docs_per_cpu_s": round(rounds * len(abstracts) / cpu, 1),
        "load_s": round(load_s, 2),
        "peak_rss_mb": round(peak_rss_mb()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--embedders", default=",".join(EMBEDDERS), help="comma-separated keys")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N papers")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(measure(args.worker, args.limit)))
        return 0

    results: dict[str, dict[str, Any]] = {}
    for key in args.embedders.split(","):
        command = [sys.executable, __file__, "--worker", key]
        if args.limit is not None:
            command += ["--limit", str(args.limit)]
        out = subprocess.run(command, capture_output=True, text=True, check=True)
        results[key] = json.loads(out.stdout)

    if args.json:
        print(json.dumps({"results": results}, indent=2))
        return 0
    header = f"{'embedder':<8} {'name':<18} {'dim':>4} {'R@1':>6} {'MRR':>6} "
    header += f"{'docs/s':>8} {'docs/cpu-s':>10} {'load s':>7} {'peak RSS MB':>12}"
    print(header)
    for key, row in results.items():
        print(
            f"{key:<8} {row['name']:<18} {row['dim']:>4} {row['r_at_1']:>6.3f} {row['mrr']:>6.3f} "
            f"{row['docs_per_s']:>8.1f} {row['docs_per_cpu_s']:>10.1f} {row['load_s']:>7.2f} "
            f"{row['peak_rss_mb']:>12}"
        )
    print(f"({next(iter(results.values()))['papers']} papers: title -> own abstract)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
